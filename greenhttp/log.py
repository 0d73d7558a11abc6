"""Loggers and the access-log line.

``greenhttp.access`` gets one line per request, ``greenhttp.error`` tracebacks and
one-line connection problems. The CLI points both at stderr; embedders configure
them like any other logger.
"""

from __future__ import annotations

import logging

access_logger = logging.getLogger("greenhttp.access")
error_logger = logging.getLogger("greenhttp.error")

# Everything outside printable ASCII becomes a visible escape, so a request line
# cannot forge log lines or send terminal escape sequences to whoever tails the log.
_ESCAPES = {i: f"\\x{i:02x}" for i in list(range(0x20)) + list(range(0x7F, 0x100))}
_ESCAPES[ord("\\")] = "\\\\"
_ESCAPES[ord('"')] = '\\"'


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def access_line(client: str, method: str | None, target: bytes, version: str, status: int,
                sent: int, seconds: float) -> str:
    """One access-log line. ``method`` None: no request line could be parsed (a request
    rejected before it had one), shown as ``"-"`` like nginx and gunicorn do."""
    if _access_format is not None:
        return _formatted(client, method, target, version, status, sent, seconds)
    return _plain_line(client, method, target, version, status, sent, seconds)


def _request_line(method: str | None, target: bytes, version: str) -> str:
    if method is None:
        return "-"
    return escape(f"{method} {target.decode('latin-1')} HTTP/{version}")


def _plain_line(client: str, method: str | None, target: bytes, version: str, status: int,
                sent: int, seconds: float) -> str:
    request_line = _request_line(method, target, version)
    return f'{client} "{request_line}" {status} {sent} {seconds * 1000:.1f}ms'


#: --access-log-format: gunicorn's atoms (h remote address, t time, r request line,
#: m method, U path, q query, H protocol, s status, b/B bytes, D us, M ms, T seconds).
_access_format: str | None = None


def set_access_format(fmt: str | None) -> None:
    global _access_format
    _access_format = fmt or None


def _formatted(client: str, method: str | None, target: bytes, version: str, status: int,
               sent: int, seconds: float) -> str:
    import time as _time

    text = target.decode("latin-1")
    path, _, query = text.partition("?")
    atoms = {
        "h": client.rsplit(":", 1)[0], "l": "-", "u": "-",
        "t": _time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
        "r": _request_line(method, target, version), "m": method or "-", "U": escape(path),
        "q": escape(query), "H": f"HTTP/{version}", "s": status, "b": sent or "-", "B": sent,
        "D": int(seconds * 1_000_000), "M": int(seconds * 1000), "T": int(seconds),
        "L": f"{seconds:.6f}", "p": f"<{__import__('os').getpid()}>",
    }
    assert _access_format is not None
    try:
        return _access_format % atoms
    except (KeyError, ValueError, TypeError):
        return _plain_line(client, method, target, version, status, sent, seconds)


def reopen_log_files() -> None:
    """SIGUSR1: reopen log files (after logrotate moved them), as nginx and gunicorn do;
    in the master and in each worker."""
    for name in ("", "greenhttp.access", "greenhttp.error", "greenhttp.proxy"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.FileHandler):
                handler.acquire()
                try:
                    handler.close()
                    handler.stream = handler._open()
                finally:
                    handler.release()
