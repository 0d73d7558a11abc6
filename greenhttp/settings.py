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
    #: "" (one value), "append" (the flag repeats; the env var holds values split on
    #: whitespace) or "store_true" (a switch; the env var is 1/true/yes).
    action: str = ""

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


def _workers(text: str) -> int:
    """A number, or 'auto': the cores this process may run on (cgroups/taskset aware)."""
    if text.strip().lower() == "auto":
        return 0
    return _positive_int(text)


def _octal(text: str) -> int:
    return int(text, 8)


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


KIB = 1024
MIB = 1024 * KIB

SETTINGS: tuple[Setting, ...] = (
    Setting("bind", "127.0.0.1", str,
            "Where to listen, repeatable: HOST, HOST:PORT, [::1]:PORT, unix:/path or fd://N. "
            "Sockets passed by systemd (LISTEN_FDS) replace these.",
            flag="-b", metavar="ADDRESS", action="append"),
    Setting("port", 8080, _port, "Port for a -b without one; 0 picks a free one. Unset: $PORT, "
            "else 8080.", flag="-p", metavar="PORT"),
    Setting("unix_socket_mode", 0o660, _octal, "Permissions of a unix: socket file (octal).",
            metavar="MODE"),
    # gunicorn's default is 1 worker too; 'auto' follows the hachettp/nginx one-per-core idea.
    Setting("workers", 1, _workers,
            "Worker processes, each serving with greenlets; 'auto' = one per usable core.",
            flag="-w", metavar="N"),
    Setting("timeout", 30.0, _positive_float,
            "Seconds a worker's event loop may stay blocked (CPU-bound code that never yields) "
            "before the master restarts it, logging the request it was stuck on.",
            flag="-t", metavar="SECONDS"),
    Setting("max_requests", 0, _non_negative_int,
            "Restart a worker after this many requests (0: never), to bound leaks.", metavar="N"),
    Setting("max_requests_jitter", 0, _non_negative_int,
            "Add up to this many to each worker's max_requests, so workers do not restart together.",
            metavar="N"),
    Setting("reload", False, bool, "Restart workers when a source file of the app changes "
            "(development; needs the 'reload' extra: watchfiles).", action="store_true"),
    Setting("pid", "", str, "Write the master's process id to this file.", metavar="FILE"),
    Setting("user", "", str, "Switch to this user (name or id) after binding.", metavar="USER"),
    Setting("group", "", str, "Switch to this group (name or id) after binding.", metavar="GROUP"),
    Setting("chdir", "", str, "Change to this directory before loading the app.", metavar="DIR"),
    Setting("env", "", str, "Set an environment variable for the app, repeatable.",
            metavar="KEY=VALUE", action="append"),
    Setting("certfile", "", str, "TLS certificate (PEM, chain included): serve HTTPS.",
            metavar="FILE"),
    Setting("keyfile", "", str, "TLS private key, if not in the certfile.", metavar="FILE"),
    Setting("ca_certs", "", str, "CA certificates to verify client certificates against.",
            metavar="FILE"),
    Setting("cert_reqs", "none", str, "Client certificates: none, optional or required.",
            metavar="POLICY"),
    # gunicorn's default: trust proxy headers from the local host only.
    Setting("forwarded_allow_ips", "127.0.0.1,::1", str,
            "Peers whose X-Forwarded-*/Forwarded headers are trusted (comma-separated, '*' for "
            "all); unix-socket peers always are.", metavar="IPS"),
    Setting("root_path", "", str, "SCRIPT_NAME: the path prefix the app is mounted under behind "
            "a proxy.", metavar="PATH"),
    Setting("access_logfile", "-", str, "Access log file; '-' is stderr.", metavar="FILE"),
    Setting("access_log_format", "", str, "Access line in gunicorn's atoms, e.g. "
            "'%(h)s \"%(r)s\" %(s)s %(b)s %(D)s'; empty: greenhttp's own line.", metavar="FORMAT"),
    Setting("error_logfile", "-", str, "Error log file; '-' is stderr.", metavar="FILE"),
    Setting("log_level", "info", str, "debug, info, warning, error or critical.", metavar="LEVEL"),
    Setting("log_config", "", str, "A logging configuration: a .json dictConfig or an .ini "
            "fileConfig file; replaces the other log settings.", metavar="FILE"),
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
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass
class ServerConfig:
    """Resolved values of :data:`SETTINGS` plus the few that are not CLI flags."""

    bind: str = "127.0.0.1"
    port: int = 8080
    unix_socket_mode: int = 0o660
    workers: int = 1
    timeout: float = 30.0
    max_requests: int = 0
    max_requests_jitter: int = 0
    reload: bool = False
    pid: str = ""
    user: str = ""
    group: str = ""
    chdir: str = ""
    env: str = ""
    certfile: str = ""
    keyfile: str = ""
    ca_certs: str = ""
    cert_reqs: str = "none"
    forwarded_allow_ips: str = "127.0.0.1,::1"
    root_path: str = ""
    access_logfile: str = "-"
    access_log_format: str = ""
    error_logfile: str = "-"
    log_level: str = "info"
    log_config: str = ""
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
    access_log: bool = True
    server_header: str = field(default="greenhttp")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "ServerConfig":
        """Defaults, then ``GREENHTTP_*`` environment variables, then ``overrides``."""
        source: Mapping[str, str] = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = source.get(setting.env_var)
            if raw is not None and setting.action == "store_true":
                values[setting.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif raw is not None and setting.action == "append":
                values[setting.name] = [setting.type(part) for part in raw.split()]
            elif raw is not None:
                try:
                    values[setting.name] = setting.type(raw)
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
