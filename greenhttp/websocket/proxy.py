"""WebSocket upgrades through ``proxy_request`` and the reverse proxy.

RFC 9110 §7.8: Upgrade and Connection are hop-by-hop, so the proxy does not copy
them; it is this proxy that decides to upgrade its own hop upstream (as nginx does
with ``proxy_set_header Upgrade/Connection``) because it can relay the protocol. The
handshake request gets the usual ``Via``/``X-Forwarded-*``; once the upstream answers
101, the client gets that 101 (its hop-by-hop fields replaced by ours) and both
connections become a byte pump, the same ``pump`` as CONNECT tunnels (idle timeout,
byte counts in the access log). Frames are not parsed: the endpoints own the
WebSocket, the proxy only the two TCP connections.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Optional

from ..client import transport
from ..client.routing import _parse_url
from ..client.timeouts import _as_timeout
from ..errors import GreenHTTPError
from ..headers import Headers
from ..log import access_line, access_logger
from ..protocol import NEED_DATA, ClientProtocol, Data, EndOfMessage, ResponseHead, reason, status_line
from ..proxy.headers import response_headers
from ..proxy.request import ProxyResponse, _failure, _log_failure, _plain
from ..proxy.tunnel import pump
from .client import read_head
from .server import is_websocket_request

#: Seconds a proxied WebSocket may carry no byte in either direction (ForwardProxy's
#: CONNECT default). Applications that need longer ping more often than this.
TUNNEL_IDLE_TIMEOUT = 300.0
#: A refusal (not 101) is relayed with at most this much body.
MAX_REFUSAL_BODY = 1024 * 1024


class WebSocketTunnel(ProxyResponse):
    """The upstream's 101: calling it takes the client connection over and pumps bytes."""

    __slots__ = ("_sock", "_early", "idle_timeout")

    def __init__(self, headers: Headers, sock: Any, early: bytes, url: str, log_as: str,
                 idle_timeout: Optional[float]) -> None:
        super().__init__(101, reason(101), headers, url=url, log_as=log_as)
        self._sock = sock
        self._early = early
        self.idle_timeout = idle_timeout

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        conn = environ["greenhttp.connection"]
        upstream = self._sock
        started = time.perf_counter()
        client, client_early = conn.detach()
        up = down = 0
        try:
            lines = [f"HTTP/1.1 {status_line(101)}", "Upgrade: websocket", "Connection: Upgrade"]
            lines += [f"{name}: {value}" for name, value in self.headers.items()]
            client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self._early)
            up, down = pump(client, upstream, client_early, self.idle_timeout)
            down += len(self._early)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()
        server = environ.get("greenhttp.server")
        if server is None or getattr(server, "access_log", True):
            access_logger.info(access_line(conn.client, "GET", environ.get("RAW_URI", "/").encode("latin-1"),
                                           "1.1", 101, down, time.perf_counter() - started)
                               + f" websocket tunnel to {self.url} up={up} down={down}")
        return []

    def close(self) -> None:
        self._sock.close()


def forward_upgrade(environ: dict[str, Any], url: str, items: list[tuple[str, str]], *,
                    timeout: Any, via: Optional[str], log_as: str,
                    idle_timeout: Optional[float] = TUNNEL_IDLE_TIMEOUT) -> Optional[ProxyResponse]:
    """For a WebSocket handshake, ask ``url`` to upgrade; None for any other request.
    ``items``: the upstream request fields as proxy_request built them, Host included."""
    if not is_websocket_request(environ) or environ.get("REQUEST_METHOD") != "GET":
        return None
    limits = _as_timeout(timeout)
    try:
        target = _parse_url(url)
        tls = transport.tls_context(True) if target.scheme == "https" else None
        stream = transport.connect(target.host, target.port, limits.connect, tls, target.host)
    except (GreenHTTPError, OSError) as exc:
        status, text = _failure(exc)
        _log_failure(log_as, url, status, exc)
        return _plain(status, text, url=url, error=exc)
    sock = stream.sock
    try:
        fields = [*items, ("Upgrade", "websocket"), ("Connection", "Upgrade")]  # items hold Host
        protocol = ClientProtocol()
        sock.settimeout(limits.write)
        sock.sendall(protocol.request_head("GET", target.target, fields, None, False)[0])
        sock.settimeout(limits.read)
        head, early = read_head(sock)
        protocol.receive_data(head)
        event: Any = protocol.next_event()
        while not isinstance(event, ResponseHead):
            if event is NEED_DATA:
                raise OSError("incomplete response head")
            event = protocol.next_event()
        headers = response_headers(Headers.from_raw(event.headers).items(), event.http_version, via)
        if event.status == 101:
            sock.settimeout(None)
            return WebSocketTunnel(headers, sock, early, url, log_as, idle_timeout)
        # Refused (403, 426, a plain 200...): relay it as an ordinary bounded response.
        content = _read_refusal(sock, protocol, early)
        headers.set("Content-Length", str(len(content)))
        sock.close()
        return ProxyResponse(event.status, event.reason, headers, content=content, url=url, log_as=log_as)
    except (GreenHTTPError, OSError) as exc:
        sock.close()
        status, text = _failure(exc)
        _log_failure(log_as, url, status, exc)
        return _plain(status, text, url=url, error=exc)


def _read_refusal(sock: Any, protocol: ClientProtocol, early: bytes) -> bytes:
    body = bytearray()
    if early:
        protocol.receive_data(early)
    while len(body) <= MAX_REFUSAL_BODY:
        event = protocol.next_event()
        if isinstance(event, Data):
            body += event.data
        elif isinstance(event, EndOfMessage):
            break
        elif event is NEED_DATA:
            data = sock.recv(65536)
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
    return bytes(body[:MAX_REFUSAL_BODY])
