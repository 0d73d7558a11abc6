"""The client's byte stream: one connection over a gevent socket, TLS and CONNECT tunnels.

This is the client's single exception boundary. Everything foreign that a socket,
the resolver or OpenSSL raises (``socket.timeout``, ``ssl.SSLError``, ``OSError``,
``socket.gaierror``) is turned into a greenhttp exception here by one context
manager, :class:`map_exceptions` (httpcore's ``_exceptions.map_exceptions``), with
``raise ... from exc``; the ``gevent.Timeout`` armed around connecting raises
:class:`~greenhttp.ConnectTimeout` itself. The pool and the client above only ever
see :class:`~greenhttp.GreenHTTPError` subclasses.

The stream interface is httpcore's: ``read(n, timeout)``, ``write(data, timeout)``,
``close()``, plus ``is_stale()`` for the pool and ``sendfile()`` for uploads. Tests
replace it with a mock stream that replays canned bytes (tests/test_client_replay.py).

``ssl`` is imported inside the functions that need it, never at module level: the
CLI monkey-patches before anything may import ``ssl`` (gevent warns, and patching
``ssl`` after import leaves stale references).
"""

from __future__ import annotations

import functools
import os
import socket as _stdlib_socket
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Optional, Protocol, Sequence

import gevent
from gevent import socket as gsocket
from gevent.monkey import get_original

from ..errors import (
    ConnectError,
    GreenHTTPError,
    ConnectionLost,
    ConnectTimeout,
    ReadTimeout,
    UpstreamDisconnected,
    WriteTimeout,
)
from ..sendfile import send_file

if TYPE_CHECKING:
    import ssl

# The real select(2) and poll(2), not gevent's: a zero-timeout readiness probe must not yield.
_select = get_original("select", "select")
_poll = get_original("select", "poll")
_POLLIN = get_original("select", "POLLIN")

# 64 KiB reads: a response head and a small body come in one. Not more: a bytes
# object of 128 KiB or more is mmap(2)ed by malloc and shrunk with mremap(2) (three
# syscalls and page faults per read, for a 300-byte response); Content-Length bodies
# are read in 1 MiB pieces anyway (exchange.RAW_READ_SIZE).
READ_SIZE = 65536


# -- the exception boundary ----------------------------------------------------------

_TIMEOUTS = (_stdlib_socket.timeout, gsocket.timeout)
_Rows = Sequence[tuple[Any, type[GreenHTTPError], str]]

# What each operation's foreign exceptions become, first match wins. ``{0}`` is the
# operation's subject (a timeout or an address), ``{1}`` the original message.
_READ: _Rows = ((_TIMEOUTS, ReadTimeout, "no response bytes for {0} s"),
                   (OSError, UpstreamDisconnected, "connection lost while reading: {1}"))
_WRITE: _Rows = ((_TIMEOUTS, WriteTimeout, "could not send for {0} s"),
                    (OSError, UpstreamDisconnected, "connection lost while sending: {1}"))
_CONNECT: _Rows = (
    (_stdlib_socket.gaierror, ConnectError, "cannot resolve {0}: {1}"),
    (_TIMEOUTS, ConnectTimeout, "connecting to {0} timed out: {1}"),
    # The proxy or server dropped us mid-setup: still a failure to connect.
    (ConnectionLost, ConnectError, "connection to {0} lost while setting up: {1}"),
    (OSError, ConnectError, "cannot connect to {0}: {1}"),  # refused, unreachable, TLS errors
)


class map_exceptions:
    """``with map_exceptions(_READ, timeout):`` turns a foreign exception into greenhttp's.

    A class rather than a ``@contextmanager`` generator: it sits around every socket
    read, and ``__exit__`` on the no-exception path is one comparison. greenhttp's own
    exceptions pass through unless a row names them (greenhttp's TimeoutError and
    ConnectionLost are OSErrors too, and must not be re-wrapped by the OSError row).
    """

    __slots__ = ("rows", "subject")

    def __init__(self, rows: _Rows, subject: Any) -> None:
        self.rows = rows
        self.subject = subject

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            return
        for source, target, message in self.rows:
            if issubclass(exc_type, source):
                if issubclass(exc_type, GreenHTTPError) and not (
                        isinstance(source, type) and issubclass(source, GreenHTTPError)):
                    return  # ours already: a ReadTimeout is a socket.timeout subclass too
                raise target(message.format(self.subject, exc)) from exc


class Stream(Protocol):
    """What the client needs from a connection. A mock implements it for replay tests."""

    def read(self, n: int, timeout: float | None) -> bytes: ...

    def write(self, data: bytes, timeout: float | None) -> None: ...

    def close(self) -> None: ...

    def is_stale(self) -> bool: ...


class SocketStream:
    """A connected (possibly TLS) gevent socket with per-call timeouts.

    Plain TCP reads and writes go to the OS socket under gevent's (``raw``, already
    non-blocking) and call gevent only to wait: a small request is one ``send(2)``
    (gevent's ``sendall`` first asks ``getsockopt(SO_SNDBUF)`` to size its chunks),
    and a response is one ``recv(2)`` after the wait. TLS goes through gevent's
    ``SSLSocket``, whose buffered records a raw read would miss.
    """

    __slots__ = ("sock", "raw", "wrote", "_timeout", "_timer", "_timer_seconds", "_poller", "closed", "tls")

    def __init__(self, sock: Any, tls: bool = False) -> None:
        self.sock = sock
        self.raw = None if tls else getattr(sock, "_sock", None)
        #: the last call was a write: the next read waits before it tries.
        self.wrote = False
        self._timeout: float | None = -1.0  # unknown: the first call sets it
        self._timer: Any = None
        self._timer_seconds: float | None = None
        # The stale probe's poll set, registered once per connection (plain TCP).
        self._poller: Any = None
        if self.raw is not None:
            self._poller = _poll()
            self._poller.register(self.raw.fileno(), _POLLIN)
        self.closed = False
        self.tls = tls

    def _set_timeout(self, timeout: float | None) -> None:
        # settimeout is a syscall-free attribute store on gevent sockets, but it is
        # on the hot path of every read; skip it when nothing changed.
        if timeout != self._timeout:
            self.sock.settimeout(timeout)
            self._timeout = timeout

    def read(self, n: int, timeout: float | None) -> bytes:
        raw = self.raw
        if raw is not None and not self.wrote:
            try:
                return raw.recv(n)
            except BlockingIOError:
                pass
            except OSError as exc:
                raise UpstreamDisconnected(f"connection lost while reading: {exc}") from exc
        self._set_timeout(timeout)
        sock = self.sock
        with map_exceptions(_READ, timeout):  # ssl.SSLError is an OSError too
            if raw is None:
                return sock.recv(n)
            # Right after a write the answer cannot be there yet (the peer has not even
            # been scheduled): wait first, and skip the recv that would fail with EAGAIN.
            # Were it there already, the wait returns at the loop's next poll.
            self.wrote = False
            while True:
                self._wait_readable(timeout)
                try:
                    return raw.recv(n)
                except BlockingIOError:
                    continue

    def _wait_readable(self, timeout: float | None) -> None:
        """gevent's wait for readability (``socket._wait``), with one timer per stream
        re-armed for each wait instead of a new ``gevent.Timeout`` per wait. It throws
        ``socket.timeout`` into the waiting greenlet, mapped by the caller."""
        sock = self.sock
        if timeout is None:
            sock.hub.wait(sock._read_event)
            return
        timer = self._timer
        if timer is None or self._timer_seconds != timeout:
            if timer is not None:
                timer.close()
            timer = self._timer = sock.hub.loop.timer(timeout)
            self._timer_seconds = timeout
        timer.start(gevent.getcurrent().throw, _stdlib_socket.timeout, update=True)
        try:
            sock.hub.wait(sock._read_event)
        finally:
            timer.stop()

    def write(self, data: bytes | memoryview, timeout: float | None) -> None:
        raw = self.raw
        if raw is not None:
            try:
                sent = raw.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise UpstreamDisconnected(f"connection lost while sending: {exc}") from exc
            self.wrote = True
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        self._set_timeout(timeout)
        with map_exceptions(_WRITE, timeout):
            self.sock.sendall(data)

    def sendfile(self, file: BinaryIO, offset: int, count: int, timeout: float | None) -> int:
        """Send ``count`` bytes of ``file`` from ``offset`` with sendfile(2); returns bytes sent.

        Plain TCP only: with TLS the bytes must pass through OpenSSL, so the caller
        falls back to read/write (``self.tls`` tells it).
        """
        # The one loop (greenhttp/sendfile.py); _WRITE names its raw errors: the timeout
        # first (a WriteTimeout), then any other OSError (the upstream is lost).
        with map_exceptions(_WRITE, timeout):
            return send_file(self.sock.fileno(), file.fileno(), offset, count, timeout)

    def is_stale(self) -> bool:
        """True if an idle connection cannot carry another request.

        An idle keep-alive connection has nothing to read. If it is readable the
        server has closed it (EOF), reset it, or sent bytes nobody asked for; in
        every case it must not be reused. One select(2) with a zero timeout, no
        greenlet switch.
        """
        if self.closed:
            return True
        poller = self._poller
        if poller is not None:
            # poll(2) on a set registered once: no fd_set built per probe. POLLHUP and
            # POLLERR are reported whatever was asked: a reset connection is stale too.
            return bool(poller.poll(0))
        try:
            if self.tls and self.sock.pending():
                return True
            readable, _, _ = _select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        try:
            self.sock.close()
        except OSError:
            pass


def _tcp_connect(host: str, port: int) -> Any:
    sock = gsocket.create_connection((host, port))
    # One request head (and a small body) goes out in one send; Nagle would hold the
    # next write for the delayed ACK (40 ms on Linux).
    sock.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
    return sock


def connect(host: str, port: int, timeout: float | None,
            tls: Optional["ssl.SSLContext"] = None, server_hostname: str | None = None,
            tunnel: Callable[[Any, float | None], None] | None = None, *,
            proxy_tls: Optional["ssl.SSLContext"] = None,
            dial: Callable[[float | None], Any] | None = None) -> Any:
    """Open a connection; DNS, TCP, the proxy tunnel and the TLS handshake share ``timeout``.

    ``tunnel`` runs on the plain stream first (a CONNECT exchange with a proxy),
    then TLS is layered on top of whatever it left connected. ``proxy_tls``: TLS to
    the proxy itself (an ``https://`` proxy) before the tunnel; TLS to the origin then
    runs inside that TLS (:class:`TLSInTLSStream`). ``dial(timeout)`` replaces the TCP
    connect with one that returns a socket already through a SOCKS proxy.
    """
    # gevent's own create_connection timeout does not cover getaddrinfo; one
    # gevent.Timeout around everything does, and raises ConnectTimeout itself.
    address = f"{host}:{port}"
    timer = gevent.Timeout(timeout, ConnectTimeout(
        f"connecting to {address} took longer than {timeout} s"))
    timer.start()
    sock: Any = None
    try:
        with map_exceptions(_CONNECT, address):
            if dial is not None:
                sock = dial(timeout)
                sock.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
            else:
                sock = _tcp_connect(host, port)
            stream: Any = SocketStream(sock)
            if proxy_tls is not None:
                sock = _tls_wrap(sock, proxy_tls, host)
                stream = SocketStream(sock, tls=True)
            if tunnel is not None:
                tunnel(stream, timeout)
            if tls is not None and proxy_tls is not None:
                stream = TLSInTLSStream(stream, tls, server_hostname or host)
                stream.handshake(timeout)
            elif tls is not None:
                sock = _tls_wrap(sock, tls, server_hostname or host)
                stream = SocketStream(sock, tls=True)
            sock = None  # handed over to the stream
            return stream
    finally:
        timer.close()
        if sock is not None:
            sock.close()


class TLSInTLSStream:
    """TLS to the origin inside the TLS connection to an ``https://`` proxy.

    An ``SSLSocket`` cannot be wrapped again, so the inner TLS runs on an ``SSLObject``
    over memory BIOs (``SSLContext.wrap_bio``), moving records through the outer
    stream: what urllib3's ``SSLTransport`` and httpcore do for the same case.
    """

    __slots__ = ("outer", "tls", "incoming", "outgoing", "closed")

    def __init__(self, outer: SocketStream, context: "ssl.SSLContext", server_hostname: str) -> None:
        import ssl

        self.outer = outer
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)
        self.closed = False

    def _run(self, operation: Callable[[], Any], timeout: float | None) -> Any:
        import ssl

        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._flush(timeout)
                data = self.outer.read(READ_SIZE, timeout)
                if data:
                    self.incoming.write(data)
                else:
                    self.incoming.write_eof()
                continue
            except ssl.SSLZeroReturnError:
                result = b""
            self._flush(timeout)
            return result

    def _flush(self, timeout: float | None) -> None:
        pending = self.outgoing.read()
        if pending:
            self.outer.write(pending, timeout)

    def handshake(self, timeout: float | None) -> None:
        self._run(self.tls.do_handshake, timeout)

    def read(self, n: int, timeout: float | None) -> bytes:
        with map_exceptions(_READ, timeout):
            return bytes(self._run(lambda: self.tls.read(n), timeout))

    def write(self, data: bytes | memoryview, timeout: float | None) -> None:
        view = memoryview(data)
        with map_exceptions(_WRITE, timeout):
            while view:
                written = self._run(lambda: self.tls.write(view), timeout)
                view = view[written:]

    def is_stale(self) -> bool:
        return self.closed or self.tls.pending() > 0 or self.outer.is_stale()

    def close(self) -> None:
        self.closed = True
        self.outer.close()


def _tls_wrap(sock: Any, context: "ssl.SSLContext", server_hostname: str) -> Any:
    tls_sock = context.wrap_socket(sock, server_hostname=server_hostname,
                                   do_handshake_on_connect=False)
    tls_sock.do_handshake()
    return tls_sock


# -- TLS contexts -------------------------------------------------------------------

# Loading the system trust store costs milliseconds; a context per configuration,
# built once, makes every later handshake pay only for the handshake.
@functools.lru_cache(maxsize=64)
def tls_context(verify: bool | str = True, cert: str | tuple[str, str] | None = None) -> Any:
    """A gevent-aware SSLContext: system trust store, or a CA file when ``verify`` is a path.

    ``verify=False`` turns off certificate and host name checks (an explicit choice,
    never a fallback). ``cert`` is a client certificate: a PEM path holding key and
    certificate, or ``(certfile, keyfile)``.
    """
    # gevent.ssl's SSLContext makes cooperative sockets whether or not the process
    # is monkey-patched; the stdlib one would block the hub.
    from gevent import ssl as gssl

    context = gssl.SSLContext(gssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = gssl.TLSVersion.TLSv1_2
    if verify is False:
        context.check_hostname = False
        context.verify_mode = gssl.CERT_NONE
    elif isinstance(verify, str):
        if os.path.isdir(verify):
            context.load_verify_locations(capath=verify)
        else:
            context.load_verify_locations(cafile=verify)
    else:
        context.load_default_certs()
    if cert is not None:
        if isinstance(cert, tuple):
            context.load_cert_chain(cert[0], cert[1])
        else:
            context.load_cert_chain(cert)
    context.set_alpn_protocols(["http/1.1"])
    return context
