"""Server settings, declared once.

Each :class:`Setting` names its default, its command-line flag, its environment
variable and its documentation. The CLI builds its argument parser from this
table and ``docs/cli.md`` is checked against it by a test, so a setting cannot
exist in one place and be missing from another (gevent's ``_config.py`` idea).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: Callable[[str], Any]
    help: str
    flag: str = ""
    metavar: str = ""
    #: May be given many times; the value is a tuple (the env var: whitespace-separated).
    repeat: bool = False

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def env_var(self) -> str:
        return "GREENHTTP_" + self.name.upper()


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be zero or a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


def _mount(text: str) -> str:
    # The directory is checked when the app is built (greenhttp.static.parse_mount).
    if not text.startswith("/") or "=" not in text:
        raise ValueError("must look like /PREFIX=DIR")
    return text


def _listings(text: str) -> str:
    if text not in ("auto", "on", "off"):
        raise ValueError("must be auto, on or off")
    return text


KIB = 1024
MIB = 1024 * KIB

SETTINGS: tuple[Setting, ...] = (
    Setting("bind", "127.0.0.1", str, "Address to listen on.", flag="-b", metavar="HOST"),
    Setting("port", 8080, _port, "Port to listen on; 0 picks a free one.", flag="-p", metavar="PORT"),
    Setting("backlog", 1024, _positive_int, "Listen backlog (pending connections the kernel queues)."),
    # nginx allows 8 KiB per request line (large_client_header_buffers), Node 16 KiB for the
    # whole head. Browsers cap URLs near 8 KiB in practice, so 8 KiB loses nobody.
    Setting("max_request_line", 8 * KIB, _positive_int,
            "Longest request target in bytes; longer gets 414.", metavar="BYTES"),
    Setting("max_header_size", 8 * KIB, _positive_int,
            "Longest single header field (name and value) in bytes; longer gets 431.", metavar="BYTES"),
    Setting("max_header_count", 100, _positive_int,
            "Most header fields in one request head (Apache's LimitRequestFields); more gets 431.",
            metavar="N"),
    Setting("max_head_size", 64 * KIB, _positive_int,
            "Largest whole request head in bytes; larger gets 431.", metavar="BYTES"),
    Setting("max_body_size", 1024 * MIB, _non_negative_int,
            "Largest request body in bytes, 0 for no limit; larger gets 413.", metavar="BYTES"),
    Setting("head_timeout", 10.0, _positive_float,
            "Seconds a client has to send a whole request head once it started (slowloris guard).",
            metavar="SECONDS"),
    Setting("keepalive_timeout", 5.0, _positive_float,
            "Seconds an idle keep-alive connection waits for the next request.", metavar="SECONDS"),
    Setting("body_timeout", 30.0, _positive_float,
            "Seconds without a byte of request body before the read fails.", metavar="SECONDS"),
    Setting("drain_limit", 1 * MIB, _non_negative_int,
            "Unread request body the server reads and discards to keep a connection alive; "
            "past this it closes the connection instead.", metavar="BYTES"),
    Setting("graceful_timeout", 10.0, _positive_float,
            "Seconds in-flight requests get to finish after SIGTERM/SIGINT.", metavar="SECONDS"),
    Setting("static", (), _mount, "Serve the files under DIR at /PREFIX beside the app "
            "(repeatable; in the environment variable, separated by spaces); every other path "
            "goes to the app. See docs/static.md.",
            metavar="/PREFIX=DIR", repeat=True),
    Setting("listings", "auto", _listings, "Directory listings: auto, on or off; auto is on for "
            "`greenhttp DIR`, off for --static mounts.", metavar="MODE"),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass
class ServerConfig:
    """Resolved values of :data:`SETTINGS` plus the few that are not CLI flags."""

    bind: str = "127.0.0.1"
    port: int = 8080
    backlog: int = 1024
    max_request_line: int = 8 * KIB
    max_header_size: int = 8 * KIB
    max_header_count: int = 100
    max_head_size: int = 64 * KIB
    max_body_size: int = 1024 * MIB
    head_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    body_timeout: float = 30.0
    drain_limit: int = 1 * MIB
    graceful_timeout: float = 10.0
    static: tuple[str, ...] = ()
    listings: str = "auto"
    access_log: bool = True
    server_header: str = field(default="greenhttp")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "ServerConfig":
        """Defaults, then ``GREENHTTP_*`` environment variables, then ``overrides``."""
        source: Mapping[str, str] = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = source.get(setting.env_var)
            if raw is not None:
                try:
                    values[setting.name] = (tuple(setting.type(v) for v in raw.split()) if setting.repeat
                                            else setting.type(raw))
                except ValueError as exc:
                    raise ValueError(f"{setting.env_var}={raw!r}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _check_table_matches_config() -> None:
    # The dataclass exists for attribute access and typing; the table is the source of truth.
    names = {f.name for f in fields(ServerConfig)}
    for setting in SETTINGS:
        assert setting.name in names, setting.name
        assert getattr(ServerConfig, setting.name) == setting.default, setting.name


_check_table_matches_config()
