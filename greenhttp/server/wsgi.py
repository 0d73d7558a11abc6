"""PEP 3333 on top of the connection loop.

The environ carries every required key, plus ``greenhttp.body`` (the request
:class:`Body`), ``greenhttp.connection`` and ``greenhttp.server``. ``wsgi.input``
is a view over that same Body, so a WSGI app and a Body-aware app read the one
stream and nothing is buffered twice.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional
from urllib.parse import unquote_to_bytes

from ..body import Body, WSGIInput
from ..errors import ConnectionLost, LocalProtocolError, RequestError
from ..headers import environ_key
from ..log import error_logger
from ..protocol import RequestHead, parse_target
from .calls import direct_call
from .stream import Stream

if TYPE_CHECKING:
    from .connection import HTTPConnection

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

_STATUS = re.compile(r"^([1-9][0-9]{2}) ([^\x00-\x08\x0a-\x1f\x7f]*)$")


class FileWrapper:
    """``wsgi.file_wrapper``: lets the server use sendfile(2) for real files.

    ``offset`` and ``count`` (keyword-only, a greenhttp extension) select a slice of
    the file, e.g. one byte range: the server sends exactly that slice with
    sendfile(2), and iterating (under middleware, or over TLS) yields the same bytes.
    ``pieces`` (the other extension) makes the body a sequence of literal bytes and
    ``(offset, count)`` slices of the file, e.g. multipart/byteranges: the server sends
    each bytes piece and each slice with sendfile(2); the app declares Content-Length.
    """

    def __init__(self, filelike: Any, blksize: int = 65536, *,
                 offset: int | None = None, count: int | None = None,
                 pieces: list[bytes | tuple[int, int]] | None = None) -> None:
        self.filelike = filelike
        self.blksize = blksize
        self.offset = offset
        self.count = count
        self.pieces = pieces
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> Any:
        if self.pieces is not None:
            yield from self._iter_pieces()
            return
        read = self.filelike.read
        if self.offset is not None:
            self.filelike.seek(self.offset)
        left = self.count
        if left is None:
            while data := read(self.blksize):
                yield data
            return
        while left > 0 and (data := read(min(self.blksize, left))):
            left -= len(data)
            yield data

    def _iter_pieces(self) -> Any:
        assert self.pieces is not None
        for piece in self.pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            offset, left = piece
            self.filelike.seek(offset)
            while left > 0:
                data = self.filelike.read(min(self.blksize, left))
                if not data:
                    return  # the file shrank: the server sees the short body and closes
                left -= len(data)
                yield data


_PROTOCOLS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}


def _proxy(environ: dict[str, Any], url: str, **kwargs: Any) -> Any:
    """``environ["greenhttp.proxy"]``: greenhttp.proxy.proxy_request, imported at call
    time (no import of the client here); takes the environ: no closure, no cycle."""
    from ..proxy import proxy_request
    return proxy_request(environ, url, **kwargs)


# (PATH_INFO, QUERY_STRING, RAW_URI) of short request targets seen lately: most
# requests of a server ask for a few paths. Bounded in entries and in target length.
_targets: dict[bytes, tuple[str, str, str]] = {}


def _target_parts(target: bytes) -> tuple[str, str, str]:
    path, query = parse_target(target)
    parts = ((unquote_to_bytes(path) if b"%" in path else path).decode("latin-1"),
             query.decode("latin-1"), target.decode("latin-1"))
    if len(target) <= 256:
        if len(_targets) >= 1024:
            _targets.clear()
        _targets[target] = parts
    return parts


# HTTP_* keys for header names seen so far; header names repeat across requests.
# Hot path, so a bare bounded set/dict probed inline rather than functools.lru_cache (the
# one kind of cache elsewhere): a call per header costs more than the probe (docs/architecture.md).
_environ_keys: dict[bytes, Optional[str]] = {}


def _environ_key(name: bytes) -> Optional[str]:
    key = _environ_keys.get(name)
    if key is None and name not in _environ_keys:
        # The one mapping (greenhttp.headers): underscore names get None and are dropped.
        key = environ_key(name.decode("latin-1"))
        if len(_environ_keys) < 4096:
            _environ_keys[name] = key
    return key


# WSGI statuses already checked (hot path too: see _environ_keys).
_valid_statuses: set[str] = set()


def _check_status(status: object) -> None:
    if not isinstance(status, str) or not _STATUS.match(status):
        raise LocalProtocolError(f"invalid WSGI status {status!r}")
    if len(_valid_statuses) < 1024:
        _valid_statuses.add(status)


class _ResponseState:
    """One request's response as the app declares it: PEP 3333's ``start_response`` and
    ``write`` are its bound methods (one object a request instead of two closures and
    their cells)."""

    __slots__ = ("status", "headers", "head_sent", "conn")

    def __init__(self, conn: "HTTPConnection") -> None:
        self.status: Optional[str] = None
        self.headers: list[tuple[str, str]] = []
        self.head_sent = False
        self.conn = conn

    def send_head(self, content_length: int | None = None) -> None:
        """Hand the declared head to the connection, with ``content_length`` added when
        the body's length is known and the status may state one."""
        status = self.status
        assert status is not None
        headers = self.headers
        if content_length is not None and _may_add_length(status):
            headers = headers + [("Content-Length", str(content_length))]
        self.conn.start_response(int(status[:3]), status[4:], headers)
        self.head_sent = True

    def write(self, data: bytes) -> None:
        if self.status is None:
            raise AssertionError("write() before start_response()")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"WSGI body chunks must be bytes, not {type(data).__name__}")
        if not self.head_sent:
            self.send_head()
        self.conn.write(bytes(data))

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info:
            try:
                if self.head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called twice without exc_info")
        if status not in _valid_statuses:
            _check_status(status)
        if not isinstance(headers, list):
            raise LocalProtocolError("WSGI response headers must be a list of (name, value) tuples")
        # Names and values are validated by the protocol core when the head is built.
        self.status = status
        self.headers = headers
        return self.write


# The keys every request sets, present in the template (their values are overwritten):
# the per-request copy then has room for them and a few header fields, where adding
# them grew and rehashed the copy's table on every request (a malloc, a free).
_PER_REQUEST = dict.fromkeys((
    "REMOTE_ADDR", "REMOTE_PORT", "greenhttp.connection", "REQUEST_METHOD", "PATH_INFO",
    "QUERY_STRING", "RAW_URI", "REQUEST_URI", "SERVER_PROTOCOL", "wsgi.input", "greenhttp.body"))


class WSGIHandler:
    """Calls a WSGI app for each request of a connection."""

    def __init__(self, app: WSGIApp, server_name: str, server_port: int,
                 url_scheme: str = "http", extra_environ: dict[str, Any] | None = None) -> None:
        self.app = app
        self._call_app = direct_call(app)  # calls.py: one C frame fewer under every switch
        from .._version import __version__

        self.base_environ: dict[str, Any] = {
            # PEP 3333 lists it; httpbin refuses chunked uploads without it.
            "SERVER_SOFTWARE": f"greenhttp/{__version__}",
            "SCRIPT_NAME": "",
            "SERVER_NAME": server_name,
            "SERVER_PORT": str(server_port),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url_scheme,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }
        if extra_environ:
            self.base_environ.update(extra_environ)
        self._template: dict[str, Any] | None = None

    def environ(self, conn: "HTTPConnection", request: RequestHead, body: Body) -> dict[str, Any]:
        template = self._template
        if template is None or template["greenhttp.server"] is not conn.server:
            # Built on the first request: the server is known only then. One dict copy
            # is far cheaper than a dozen stores per request.
            template = self._template = {**self.base_environ, "greenhttp.server": conn.server,
                                         "greenhttp.proxy": _proxy, **_PER_REQUEST}
        environ = template.copy()
        environ["REMOTE_ADDR"] = conn.remote_addr
        environ["REMOTE_PORT"] = str(conn.remote_port)
        environ["greenhttp.connection"] = conn
        target = request.target
        parts = _targets.get(target)
        if parts is None:
            parts = _target_parts(target)
        environ["REQUEST_METHOD"] = request.method
        environ["PATH_INFO"], environ["QUERY_STRING"], environ["RAW_URI"] = parts
        environ["REQUEST_URI"] = parts[2]
        environ["SERVER_PROTOCOL"] = _PROTOCOLS.get(request.http_version) or "HTTP/" + request.http_version
        environ["wsgi.input"] = WSGIInput(body)
        environ["greenhttp.body"] = body
        for name, value in request.headers:
            key = _environ_key(name)
            if key is None:
                continue
            text = value.decode("latin-1")
            if key in environ:
                # RFC 9110 §5.3: repeated fields combine with commas; Cookie with "; " (RFC 6265).
                environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + text
            else:
                environ[key] = text
        if request.content_length is None and "CONTENT_LENGTH" in environ:
            del environ["CONTENT_LENGTH"]
        if "HTTP_UPGRADE" in environ:
            # werkzeug.socket / wsgi.websocket for Flask-Sock, simple-websocket and
            # gevent-websocket apps; imported only when a client asks to upgrade.
            from ..websocket.compat import add_environ
            add_environ(environ, conn)
        return environ

    def __call__(self, conn: "HTTPConnection", request: RequestHead, body: Body) -> bool:
        environ = self.environ(conn, request, body)
        state = _ResponseState(conn)

        result: Any = None
        try:
            try:
                result = self._call_app(environ, state.start_response)
                self._send_result(conn, state, result)
            except RequestError:
                raise  # the inbound client's fault: the connection loop answers it (errors.py, Roles)
            except ConnectionLost as exc:
                # A body that ended on purpose (Stream.abort) or lost its own upstream:
                # an event worth a line, not a crash worth a traceback.
                error_logger.info("%s: response body ended early: %s", conn.client, exc)
                if not conn.head_on_wire:
                    conn.send_simple(500, b"500 Internal Server Error\n")
                return False
            except Exception:
                if conn.detached:
                    return False
                if conn.head_on_wire:
                    error_logger.exception("%s: error in app after the response started; closing",
                                           conn.client)
                    return False
                error_logger.exception("%s: error in app for %s %r", conn.client, request.method,
                                       request.target)
                conn.send_simple(500, b"500 Internal Server Error\n")
                return False
        finally:
            if result is not None:
                if isinstance(result, Stream) and not result.closed:
                    result.abandon()
                close = getattr(result, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:
                        error_logger.exception("%s: error in the app iterable's close()", conn.client)
        return True

    def _send_result(self, conn: "HTTPConnection", state: _ResponseState, result: Any) -> None:
        if conn.detached:
            return
        if isinstance(result, (list, tuple)):
            # The whole body is in memory: add Content-Length so the client needs no
            # chunking, and send head and body together.
            if state.status is None:
                raise AssertionError("app returned without calling start_response()")
            if len(result) == 1 and not state.head_sent and type(result[0]) is bytes:
                body = result[0]
                status = state.status
                headers = state.headers
                if not _has_length(headers) and _may_add_length(status):
                    headers = headers + [("Content-Length", str(len(body)))]
                state.head_sent = True
                conn.respond_whole(int(status[:3]), status[4:], headers, body)
                return
            if not state.head_sent:
                if _has_length(state.headers):
                    state.send_head()
                else:
                    total = 0
                    for chunk in result:
                        total += len(chunk)
                    state.send_head(total)
            for chunk in result:
                if chunk:
                    conn.write(chunk, flush=False)
            conn.finish()
            return
        if isinstance(result, FileWrapper) and self._sendfile(conn, state, result):
            return
        for chunk in result:
            if not chunk:
                continue
            if not state.head_sent:
                if state.status is None:
                    raise AssertionError("app yielded body before calling start_response()")
                state.send_head()
            conn.write(chunk)
        if state.status is None:
            raise AssertionError("app returned without calling start_response()")
        if not state.head_sent:
            state.send_head(0 if not _has_length(state.headers) else None)
        conn.finish()

    def _sendfile(self, conn: "HTTPConnection", state: _ResponseState, wrapper: FileWrapper) -> bool:
        file = wrapper.filelike
        if wrapper.pieces is not None:
            if state.status is None or state.head_sent or not _has_length(state.headers):
                return False
            state.send_head()
            for piece in wrapper.pieces:
                if isinstance(piece, bytes):
                    conn.write(piece, flush=False)  # goes out with the next slice
                else:
                    conn.sendfile(file, piece[0], piece[1])
            conn.finish()
            return True
        try:
            fileno = file.fileno()
            offset = file.tell() if wrapper.offset is None else wrapper.offset
            size = os.fstat(fileno).st_size - offset
        except (AttributeError, OSError, ValueError):
            return False
        if wrapper.count is not None:
            size = min(size, wrapper.count)
        if state.status is None or state.head_sent or size < 0:
            return False
        declared = next((v for k, v in state.headers if k.lower() == "content-length"), None)
        if declared is None:
            state.send_head(size)
        else:
            state.send_head()
            size = min(size, int(declared))
        conn.sendfile(file, offset, size)
        conn.finish()
        return True


def _may_add_length(status: str) -> bool:
    """Whether the server may state the length of the body the app returned.

    Not for 1xx and 204, which RFC 9110 §8.6 forbids to carry Content-Length, nor for
    304, where it would have to be the length of the 200 the app did not produce.
    """
    return status[:1] not in ("1",) and status[:3] not in ("204", "304")


def _has_length(headers: list[tuple[str, str]]) -> bool:
    for name, _ in headers:
        if len(name) == 14 and name.lower() == "content-length":
            return True
    return False
