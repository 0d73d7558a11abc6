"""Every tunable of the server, the proxy, the pool and the client, declared once.

Each :class:`Setting` names its default, its validator, its documentation and, where
it has one, its command-line flag and ``GREENHTTP_*`` environment variable (gevent's
``_config.py`` idea: one record per setting, everything else derived). From
:data:`SETTINGS` come:

* the ``greenhttp`` flags (scopes ``server`` and ``app``) and the ``greenhttp proxy``
  flags (``server`` and ``proxy``), via ``greenhttp.cli.options``; ``app`` is what only
  ``greenhttp APP/DIR`` uses (static mounts), so the proxy does not offer it;
* :class:`ServerConfig`'s defaults and the protocol's ``Limits`` defaults;
* the proxy's ``DEFAULT_TIMEOUT`` and ``ForwardProxy`` defaults, the pool's
  ``DEFAULT_*`` and the client's ``DEFAULT_TIMEOUT`` (scopes ``pool`` and ``client``
  have no flag: they are library defaults, changed by passing arguments);
* the tables of docs/cli.md and docs/proxy.md (``docs/gen_cli_table.py``), which
  tests/protocol/test_docs.py checks.

Standard library only: everything imports this, the protocol core included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping

SCOPES = ("server", "app", "proxy", "pool", "client")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: Callable[[str], Any]
    help: str
    scope: str = "server"
    #: A short flag (``-p``) besides the long one.
    flag: str = ""
    #: The long flag when it is not ``--<name>`` (the proxy's ``--connect-timeout``).
    long: str = ""
    metavar: str = ""
    #: May be given many times; the value is a tuple (the env var: whitespace-separated).
    repeat: bool = False
    #: A flag without a value (``--reload``); the env var is 1/true/yes/on or 0/false/no/off.
    switch: bool = False

    @property
    def has_flag(self) -> bool:
        """Pool and client settings are library defaults: no flag, no environment variable."""
        return self.scope in ("server", "app", "proxy")

    @property
    def long_flag(self) -> str:
        return self.long or "--" + self.name.replace("_", "-")

    @property
    def cli_flag(self) -> str:
        return self.flag or self.long_flag

    @property
    def env_var(self) -> str:
        return "GREENHTTP_" + self.name.upper()

    def parse(self, text: str) -> Any:
        """The value of ``text`` (an environment value); ValueError says why not."""
        if self.repeat:
            return tuple(self.type(item) for item in text.split())
        if self.switch:
            word = text.strip().lower()
            if word not in SWITCH_WORDS:
                raise ValueError("must be 1, true, yes, on, 0, false, no or off")
            return SWITCH_WORDS[word]
        return self.type(text)


SWITCH_WORDS = {"1": True, "true": True, "yes": True, "on": True,
                "0": False, "false": False, "no": False, "off": False}


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


def _mount(text: str) -> str:
    # The directory is checked when the app is built (greenhttp.static.parse_mount).
    if not text.startswith("/") or "=" not in text:
        raise ValueError("must look like /PREFIX=DIR")
    return text


def _cache_control(text: str) -> str:
    # The prefix is matched against the mounts when the app is built (build_static_app).
    prefix, eq, value = text.partition("=")
    if not prefix.startswith("/") or not eq or not value.strip():
        raise ValueError("must look like /PREFIX=VALUE")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not contain control characters")  # RFC 9110 §5.5
    return text


def _listings(text: str) -> str:
    if text not in ("auto", "on", "off"):
        raise ValueError("must be auto, on or off")
    return text


def _workers(text: str) -> int:
    """A number, or 'auto' (0): the cores this process may run on (cgroups/taskset aware)."""
    if text.strip().lower() == "auto":
        return 0
    try:
        return _positive_int(text)
    except ValueError:
        raise ValueError("must be a positive integer or 'auto'") from None


def _octal(text: str) -> int:
    return int(text, 8)


def _cert_reqs(text: str) -> str:
    # gunicorn spells them 0/1/2 (ssl.CERT_NONE/OPTIONAL/REQUIRED).
    word = {"0": "none", "1": "optional", "2": "required"}.get(text, text.lower())
    if word not in ("none", "optional", "required"):
        raise ValueError("must be none, optional or required (or 0, 1, 2)")
    return word


def _log_level(text: str) -> str:
    if text.lower() not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError("must be debug, info, warning, error or critical")
    return text.lower()


def _env_item(text: str) -> str:
    if not text.partition("=")[0] or "=" not in text:
        raise ValueError("must look like KEY=VALUE")
    return text


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError("must be zero or a positive number")
    return value


def _progress_store(text: str) -> str:
    # The store itself is made in each worker (greenhttp.progress.stores.store_from_url).
    if text and text.split(":", 1)[0] not in ("redis", "rediss", "unix"):
        raise ValueError("must be a Redis URL: redis://HOST:PORT/DB, rediss://... or unix://PATH")
    return text


def _on_off(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("on", "yes", "true", "1"):
        return True
    if lowered in ("off", "no", "false", "0"):
        return False
    raise ValueError("must be on or off")


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


KIB = 1024
MIB = 1024 * KIB

SETTINGS: tuple[Setting, ...] = (
    # -- server: `greenhttp APP` and `greenhttp proxy` --------------------------------------
    Setting("bind", ("127.0.0.1",), str,
            "Where to listen (repeatable; in the environment variable, separated by spaces): "
            "HOST, HOST:PORT, [::1]:PORT, unix:/path or fd://N. Sockets passed by systemd "
            "(LISTEN_FDS) replace these.", flag="-b", metavar="ADDRESS", repeat=True),
    Setting("port", 8080, _port, "Port for a -b without one; 0 picks a free one. Unset: $PORT, "
            "else 8080.", flag="-p", metavar="PORT"),
    # gunicorn's --reuse-port. Off: workers share the master's socket (docs/deploy.md, and
    # docs/benchmarks.md for the measurement).
    Setting("reuse_port", False, bool, "Set SO_REUSEPORT on TCP listeners, so other greenhttp "
            "processes can listen on the same port (the kernel spreads connections among them).",
            switch=True),
    Setting("unix_socket_mode", 0o660, _octal, "Permissions of a unix: socket file (octal).",
            metavar="MODE"),
    # gunicorn's default is 1 worker too; 'auto' is nginx's worker_processes auto.
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
            "(development; needs the 'reload' extra: watchfiles).", switch=True),
    Setting("pid", "", str, "Write the master's process id to this file.", metavar="FILE"),
    Setting("user", "", str, "Switch to this user (name or id) after binding.", metavar="USER"),
    Setting("group", "", str, "Switch to this group (name or id) after binding.", metavar="GROUP"),
    Setting("chdir", "", str, "Change to this directory before loading the app.", metavar="DIR"),
    Setting("env", (), _env_item, "Set an environment variable for the app (repeatable; in the "
            "environment variable, separated by spaces).", metavar="KEY=VALUE", repeat=True),
    Setting("certfile", "", str, "TLS certificate (PEM, chain included): serve HTTPS.",
            metavar="FILE"),
    Setting("keyfile", "", str, "TLS private key, if not in the certfile.", metavar="FILE"),
    Setting("ca_certs", "", str, "CA certificates to verify client certificates against.",
            metavar="FILE"),
    Setting("cert_reqs", "none", _cert_reqs, "Client certificates: none, optional or required.",
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
    Setting("log_level", "info", _log_level, "debug, info, warning, error or critical.",
            metavar="LEVEL"),
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
    Setting("static", (), _mount, "Serve the files under DIR at /PREFIX beside the app "
            "(repeatable; in the environment variable, separated by spaces); every other path "
            "goes to the app. See docs/static.md.",
            metavar="/PREFIX=DIR", repeat=True, scope="app"),
    Setting("listings", "auto", _listings, "Directory listings: auto, on or off; auto is on for "
            "`greenhttp DIR`, off for --static mounts.", metavar="MODE", scope="app"),
    # Off unless asked: browsers then revalidate with the ETag, always right. Per mount,
    # because only fingerprinted assets may be cached for a year.
    Setting("static_cache_control", (), _cache_control, "Cache-Control for every file served at "
            "/PREFIX (a --static mount, or / for `greenhttp DIR`), e.g. "
            "'/assets=public, max-age=31536000, immutable' (repeatable; in the environment "
            "variable separated by spaces, so write the value without them).",
            metavar="/PREFIX=VALUE", repeat=True, scope="app"),
    # WebSockets (greenhttp.websocket, docs/websocket.md). 16 MiB: larger than any chat or
    # Socket.IO payload, small enough that a few hostile clients cannot exhaust memory.
    Setting("websocket_max_message_size", 16 * MIB, _non_negative_int,
            "Largest WebSocket message in bytes, 0 for no limit; larger closes with 1009.",
            metavar="BYTES"),
    Setting("websocket_ping_interval", 20.0, _non_negative_float,
            "Seconds a WebSocket may be silent before the server pings it, 0 for never.",
            metavar="SECONDS"),
    Setting("websocket_ping_timeout", 20.0, _non_negative_float,
            "Seconds to wait for any byte after a ping before closing the WebSocket (1011).",
            metavar="SECONDS"),
    Setting("websocket_idle_timeout", 0.0, _non_negative_float,
            "Seconds without a byte from the client before a WebSocket is closed (1001), 0 for never.",
            metavar="SECONDS"),
    # 0 (off): each message goes out as one frame, as `websockets` and browsers send
    # by default (RFC 6455 §5.4 leaves it to the sender; every peer reassembles).
    Setting("websocket_fragment_size", 0, _non_negative_int,
            "Largest WebSocket frame payload in bytes a sent message is split into "
            "(RFC 6455 §5.4 fragments), 0 for one frame per message.", metavar="BYTES"),
    # Upload progress (greenhttp.progress, docs/guides/upload-progress.md).
    Setting("progress_store", "", _progress_store,
            "Where ProgressMiddleware keeps upload progress: redis://HOST:PORT/DB to share it "
            "between machines (needs the 'redis' extra). Unset: held by the master for all "
            "workers when there are several, else in the process.", metavar="URL"),
    # -- proxy: `greenhttp proxy`, ReverseProxy, ForwardProxy --------------------------------
    # Connect 5 s: a live upstream on a LAN answers in milliseconds (nginx's
    # proxy_connect_timeout is 60 s, far longer than a user waits).
    Setting("proxy_connect_timeout", 5.0, _positive_float,
            "Seconds to connect to an upstream (or a CONNECT destination) before answering 504.",
            scope="proxy", long="--connect-timeout", metavar="SECONDS"),
    # 60 s between bytes: nginx's proxy_read_timeout and proxy_send_timeout.
    Setting("proxy_read_timeout", 60.0, _positive_float,
            "Seconds to wait for the next upstream byte, or to send one, before answering 504 "
            "or cutting a response short (nginx's proxy_read_timeout).",
            scope="proxy", long="--read-timeout", metavar="SECONDS"),
    # Twice the pool's own 50: a proxy is one client standing in for many.
    Setting("proxy_max_per_host", 100, _positive_int,
            "Connections kept per upstream; more requests wait for one, up to the pool's checkout "
            "timeout, then get 503.", scope="proxy", long="--max-per-host", metavar="N"),
    # Five minutes idle, then a tunnel ends (squid's read_timeout is 15 min, haproxy's
    # timeout tunnel has no default; a browser reopens a tunnel it still wants).
    Setting("proxy_tunnel_idle_timeout", 300.0, _positive_float,
            "Seconds a CONNECT tunnel may carry no byte in a direction before it ends.",
            scope="proxy", long="--tunnel-idle-timeout", metavar="SECONDS"),
    # Upstream TLS (https:// routes, and a forward proxy's absolute-form https:// requests):
    # the system trust store and host name checks by default, as the client's own
    # verify=True; nginx's proxy_ssl_verify defaults to off, which silently trusts any
    # certificate, so greenhttp does not follow it there.
    Setting("proxy_upstream_verify", True, _on_off,
            "Verify upstream TLS certificates and host names: on or off (off trusts anyone).",
            scope="proxy", long="--upstream-verify", metavar="on|off"),
    Setting("proxy_upstream_ca", "", str,
            "Trust this CA file (PEM) or directory for upstream TLS instead of the system store.",
            scope="proxy", long="--upstream-ca", metavar="PATH"),
    Setting("proxy_upstream_cert", "", str,
            "Present this client certificate (PEM; with its key unless --upstream-key) to upstreams.",
            scope="proxy", long="--upstream-cert", metavar="FILE"),
    Setting("proxy_upstream_key", "", str,
            "The private key (PEM) of --upstream-cert, when it is a separate file.",
            scope="proxy", long="--upstream-key", metavar="FILE"),
    # -- pool: greenhttp.Pool -----------------------------------------------------------------
    # hackney's pool holds 50 connections; httpx and aiohttp cap the total at 100, we allow
    # a few busy hosts more. Idle connections live 30 s: long enough to bridge bursts,
    # shorter than nginx's 75 s keepalive_timeout so the server rarely closes first.
    Setting("pool_max_per_host", 50, _positive_int, "Open connections per host.", scope="pool"),
    Setting("pool_max_total", 200, _positive_int, "Open connections across hosts.", scope="pool"),
    Setting("pool_idle_timeout", 30.0, _positive_float, "Seconds an idle connection is kept.",
            scope="pool"),
    Setting("pool_checkout_timeout", 10.0, _positive_float,
            "Seconds a request waits for a free slot before PoolTimeout.", scope="pool"),
    # -- client: greenhttp.request() and Client -----------------------------------------------
    # On by default, unlike requests and urllib3 (whose missing defaults are a classic source
    # of hung workers). Connect 10 s (hackney: 8 s); read and write 30 s: a client should give
    # up before a proxy in front of the server does (nginx's proxy_read_timeout is 60 s).
    Setting("client_connect_timeout", 10.0, _positive_float,
            "Seconds for DNS, TCP, a proxy tunnel and TLS together.", scope="client"),
    Setting("client_read_timeout", 30.0, _positive_float,
            "Seconds to wait for the next bytes of a response.", scope="client"),
    Setting("client_write_timeout", 30.0, _positive_float,
            "Seconds to wait to send the next bytes of a request.", scope="client"),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
assert len(SETTINGS_BY_NAME) == len(SETTINGS), "a setting declared twice"


def default(name: str) -> Any:
    """The declared default of setting ``name``."""
    return SETTINGS_BY_NAME[name].default


def scoped(*scopes: str) -> tuple[Setting, ...]:
    """The settings of ``scopes``, in declaration order."""
    return tuple(s for s in SETTINGS if s.scope in scopes)


def resolve(settings: tuple[Setting, ...], environ: Mapping[str, str] | None = None,
            **overrides: Any) -> dict[str, Any]:
    """Values of ``settings``: defaults, then ``GREENHTTP_*`` variables, then ``overrides``
    that are not None. A bad environment value is a ValueError naming the variable."""
    source: Mapping[str, str] = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in settings:
        value = overrides.get(setting.name)
        if value is None:
            raw = source.get(setting.env_var) if setting.has_flag else None
            if raw is None:
                value = setting.default
            else:
                try:
                    value = setting.parse(raw)
                except ValueError as exc:
                    raise ValueError(f"{setting.env_var}={raw!r}: {exc}") from None
        values[setting.name] = value
    return values


@dataclass
class ServerConfig:
    """Resolved values of the ``server`` and ``app`` settings plus the few that are not flags.

    Fields for attribute access and typing; their defaults are the declarations'.
    """

    #: A tuple of -b specs from the command line; one host for ``Server(app, bind=...)``.
    bind: str | tuple[str, ...] = default("bind")
    port: int = default("port")
    reuse_port: bool = default("reuse_port")
    unix_socket_mode: int = default("unix_socket_mode")
    workers: int = default("workers")
    timeout: float = default("timeout")
    max_requests: int = default("max_requests")
    max_requests_jitter: int = default("max_requests_jitter")
    reload: bool = default("reload")
    pid: str = default("pid")
    user: str = default("user")
    group: str = default("group")
    chdir: str = default("chdir")
    env: tuple[str, ...] = default("env")
    certfile: str = default("certfile")
    keyfile: str = default("keyfile")
    ca_certs: str = default("ca_certs")
    cert_reqs: str = default("cert_reqs")
    forwarded_allow_ips: str = default("forwarded_allow_ips")
    root_path: str = default("root_path")
    access_logfile: str = default("access_logfile")
    access_log_format: str = default("access_log_format")
    error_logfile: str = default("error_logfile")
    log_level: str = default("log_level")
    log_config: str = default("log_config")
    backlog: int = default("backlog")
    max_request_line: int = default("max_request_line")
    max_header_size: int = default("max_header_size")
    max_header_count: int = default("max_header_count")
    max_head_size: int = default("max_head_size")
    max_body_size: int = default("max_body_size")
    head_timeout: float = default("head_timeout")
    keepalive_timeout: float = default("keepalive_timeout")
    body_timeout: float = default("body_timeout")
    drain_limit: int = default("drain_limit")
    graceful_timeout: float = default("graceful_timeout")
    static: tuple[str, ...] = default("static")
    listings: str = default("listings")
    static_cache_control: tuple[str, ...] = default("static_cache_control")
    websocket_max_message_size: int = default("websocket_max_message_size")
    websocket_ping_interval: float = default("websocket_ping_interval")
    websocket_ping_timeout: float = default("websocket_ping_timeout")
    websocket_idle_timeout: float = default("websocket_idle_timeout")
    websocket_fragment_size: int = default("websocket_fragment_size")
    progress_store: str = default("progress_store")
    access_log: bool = True
    server_header: str = field(default="greenhttp")
    #: -p, else $PORT, else None (greenhttp.server.binding.default_port then says 8080).
    port_given: int | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "ServerConfig":
        """Defaults, then ``GREENHTTP_*`` environment variables, then ``overrides``."""
        server = scoped("server", "app")
        values = resolve(server, environ, **overrides)
        names = {s.name for s in server}
        values.update({k: v for k, v in overrides.items() if k not in names and v is not None})
        return cls(**values)


def _check_config_covers_the_server_settings() -> None:
    names = {f.name for f in fields(ServerConfig)} - {"access_log", "server_header", "port_given"}
    declared = {s.name for s in scoped("server", "app")}
    assert names == declared, names ^ declared


_check_config_covers_the_server_settings()
