"""``Server``: binds, accepts, and runs one :class:`HTTPConnection` greenlet per client."""

from __future__ import annotations

import time
from typing import Any, Callable

import gevent
from gevent import socket as gsocket
from gevent.event import Event
from gevent.server import StreamServer

from ..body import Body
from .collector import tune_gc
from .connection import HTTPConnection
from .parking import close_parked
from .reaper import PARK_SOON, reap
from ..log import error_logger
from ..protocol import Limits, RequestHead, ServerProtocol
from ..settings import ServerConfig
from .wsgi import WSGIApp, WSGIHandler

Handler = Callable[[HTTPConnection, RequestHead, Body], bool]


class _Acceptor(StreamServer):
    """gevent's StreamServer, except that the socket is not closed when the handler
    returns: a parked connection (parking.py) outlives its first greenlet, so
    ``Server._handle_connection`` closes the socket itself when it is done with it."""

    def do_close(self, sock: Any, *args: Any) -> None:
        pass


#: How long a stopping server waits for the first request of a connection it accepted
#: but has heard nothing on yet. Such a client connected before the listener closed and
#: was told nothing, so its request (sent right behind the connect, milliseconds on any
#: real network) must be answered, not met with EOF.
FIRST_REQUEST_GRACE = 1.0
#: How long it waits for the next request of a keep-alive connection that was just
#: answered. A busy client sends its next request within a round trip, and racing it
#: with a close would turn that request into an EOF (a retry at best, RFC 9112 §9.3.1);
#: given this moment it is answered, with ``Connection: close``. A connection idle for
#: longer (a parked one) is closed at once: its client is not in the middle of anything.
NEXT_REQUEST_GRACE = 0.1


class Server:
    """An HTTP/1.1 server for a WSGI app.

    ``Server(app, port=0).start()`` listens on a free port; ``server.url`` says
    where. ``serve_forever()`` blocks until ``stop()``. Settings are those of
    :class:`ServerConfig` (see docs/cli.md), given as keyword arguments.
    """

    def __init__(self, app: WSGIApp, config: ServerConfig | None = None, *,
                 listener: gsocket.socket | None = None, handler: Handler | None = None,
                 listeners: list[gsocket.socket] | None = None, tls: Any = None,
                 **settings: Any) -> None:
        if config is None:
            config = ServerConfig(**settings)
        elif settings:
            raise TypeError("pass either config= or individual settings, not both")
        self.app = app
        #: CONNECT reaches the app only if it says it takes tunnels (connection.py, CONNECT_ALLOW).
        self.allow_connect = bool(getattr(app, "greenhttp_connect", False))
        self.config = config
        self.limits = Limits(config.max_request_line, config.max_header_size,
                             config.max_header_count, config.max_head_size, config.max_body_size)
        self.access_log = config.access_log
        self.connections: set[HTTPConnection] = set()
        self.requests_total = 0
        # Several listeners (-b repeated, systemd sockets): the first names server.url.
        self._listeners: list[gsocket.socket] = list(listeners or ([listener] if listener else []))
        self._listener = self._listeners[0] if self._listeners else None
        #: an ssl.SSLContext: every accepted connection does its TLS handshake in its own
        #: greenlet, bounded by head_timeout (greenhttp.server.tls).
        self.tls = tls
        self._stream_servers: list[StreamServer] = []
        self._custom_handler = handler
        self.handler: Handler = handler or (lambda *a: False)
        self._stream_server: StreamServer | None = None
        self._reaper: gevent.Greenlet | None = None
        #: set when this many connections are open: the reaper sweeps at once (reaper.py)
        self.sweep_at = PARK_SOON
        self.sweep_soon = Event()
        self._stopped = Event()
        self._address: tuple[str, int] | None = None
        self.closing = False
        #: Called once when stop() begins, before the grace period: taken-over
        #: connections (WebSockets: 1001 Going Away) are told to end.
        self.on_stop: list[Callable[[], None]] = []

    # -- lifecycle ----------------------------------------------------------------

    def listen(self) -> gsocket.socket:
        """Bind and listen (idempotent). Raises ``OSError`` if the address is taken."""
        if self._listener is None:
            # One plain host here; -b's other forms are the CLI's (greenhttp.server.binding).
            bind = self.config.bind
            host = bind if isinstance(bind, str) else bind[0]
            family = gsocket.AF_INET6 if ":" in host else gsocket.AF_INET
            sock = gsocket.socket(family, gsocket.SOCK_STREAM)
            sock.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, self.config.port))
                sock.listen(self.config.backlog)
            except OSError:
                sock.close()
                raise
            self._listener = sock
            self._listeners = [sock]
        return self._listener

    def start(self) -> "Server":
        tune_gc()  # once per process: collector.py says why
        self.listen()
        host, port = self.address
        if self._custom_handler is None:
            self.handler = WSGIHandler(self.app, str(host), int(port),
                                       url_scheme="https" if self.tls is not None else "http")
        for sock in self._listeners:
            stream_server = _Acceptor(sock, self._handle_connection)
            stream_server.start()
            self._stream_servers.append(stream_server)
        self._stream_server = self._stream_servers[0]
        self._reaper = gevent.spawn(reap, self)
        return self

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) listened on; still answers after ``stop()``."""
        if self._address is None:
            if self._listener is None:
                raise RuntimeError("server is not listening yet")
            name = self._listener.getsockname()
            if isinstance(name, (str, bytes)):  # a Unix socket: no host or port
                self._address = ("localhost", 0)
            else:
                self._address = (str(name[0]), int(name[1]))
        return self._address

    @property
    def url(self) -> str:
        host, port = self.address
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls is not None else 'http'}://{host}:{port}"

    def serve_forever(self) -> None:
        if self._stream_server is None:
            self.start()
        self._stopped.wait()

    def stop(self, timeout: float | None = None) -> None:
        """Stop accepting, close idle connections, let busy ones finish, then close them.

        Busy connections get ``timeout`` seconds (default: the graceful_timeout setting)
        to answer what they have already received, every response saying
        ``Connection: close`` unless another received request follows it; they close
        afterwards instead of waiting for another request. An idle connection with a
        request already waiting unread counts as busy.
        """
        if self.closing:
            self._stopped.wait()
            return
        self.closing = True
        grace = self.config.graceful_timeout if timeout is None else timeout
        for stream_server in self._stream_servers:
            stream_server.close()
        for conn in list(self.connections):
            conn.closing = True
        for hook in list(self.on_stop):
            hook()
        # Connections accepted just before the listener closed may still have their
        # greenlets queued: let them start and register before the count is read.
        gevent.sleep(0)
        stopping_since = time.monotonic()
        with gevent.Timeout(grace, False):  # type: ignore[arg-type]  # False: no exception, per gevent's docs
            while self.connections:
                waited = time.monotonic() - stopping_since
                for conn in list(self.connections):
                    if conn.idle and not conn.input_waiting() and (
                            conn.parked or waited >= (NEXT_REQUEST_GRACE if conn.requests_served
                                                      else FIRST_REQUEST_GRACE)):
                        self._kill(conn)
                gevent.sleep(0.05)
        for conn in list(self.connections):
            error_logger.warning("%s: still busy after %ss grace, closing", conn.client, grace)
            self._kill(conn)
        if self._reaper is not None:
            self._reaper.kill(block=False)
        self._stopped.set()

    @staticmethod
    def _kill(conn: HTTPConnection) -> None:
        if conn.parked:
            close_parked(conn)
            return
        greenlet = getattr(conn, "greenlet", None)
        if greenlet is not None:
            greenlet.kill(block=False)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(timeout=1.0)

    # -- connections ------------------------------------------------------------------

    def _handle_connection(self, sock: gsocket.socket, address: Any) -> None:
        accepted = sock
        conn: HTTPConnection | None = None
        try:
            try:
                sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
            except OSError:
                pass  # not TCP (a Unix socket): nothing to tune
            if self.tls is not None:
                from .tls import handshake

                sock = handshake(self, sock, address)
                if sock is None:
                    return
            conn = HTTPConnection(self, sock, address)
            conn.greenlet = gevent.getcurrent()
            if self.closing:
                conn.closing = True
            self.connections.add(conn)
            if len(self.connections) >= self.sweep_at:  # a burst: park it sooner (reaper.py)
                self.sweep_at = 1 << 62
                self.sweep_soon.set()
            conn.run()
        finally:
            if conn is None or not conn.parked:
                accepted.close()  # what gevent's StreamServer does after its handler
                if conn is not None:
                    self._forget(conn)

    def _resume_connection(self, conn: HTTPConnection) -> None:
        """A parked connection became readable: serve on in this new greenlet."""
        if not conn.parked:
            return  # closed while this greenlet waited to start (close_parked)
        conn.parked = False
        conn.greenlet = gevent.getcurrent()
        conn.protocol = ServerProtocol(self.limits)  # dropped while parked (parking.py)
        try:
            conn.run(ready=True)
        finally:
            if not conn.parked:
                conn.sock.close()  # run() closed it unless DETACHED; as _handle_connection
                self._forget(conn)

    def _forget(self, conn: HTTPConnection) -> None:
        """The connection is closed: count its requests and drop it."""
        self.connections.discard(conn)
        self.requests_total += conn.requests_served

    def stats(self) -> dict[str, int]:
        busy = sum(1 for conn in self.connections if not conn.idle)
        return {
            "connections": len(self.connections),
            "busy": busy,
            "idle": len(self.connections) - busy,
            "requests": self.requests_total + sum(c.requests_served for c in self.connections),
        }


def serve(app: WSGIApp, host: str = "127.0.0.1", port: int = 8080, **settings: Any) -> None:
    """Serve ``app`` until interrupted: the two-line way to run greenhttp from code."""
    server = Server(app, bind=host, port=port, **settings)
    server.start()
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


__all__ = ["Server", "serve"]

