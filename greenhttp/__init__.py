"""greenhttp: HTTP/1.1 servers, clients and proxies on gevent, one greenlet per connection.

The public surface is what ``__all__`` lists. The names are re-exported lazily (PEP 562
``__getattr__``): ``import greenhttp`` imports nothing but this file, so ``greenhttp
app.py`` can monkey-patch before any module that touches sockets is loaded, and a
server never pays for the client, proxy or REPL it does not use.

The folders show the architecture (docs/architecture.md walks a request through them):

- ``protocol/``: the sans-I/O HTTP/1.1 core, both directions;
- ``server/``: the listener, the connection loop, the WSGI adapter, ``Stream``;
- ``client/``: public calls, ``Client``, the pool, routing and the socket transport;
- ``proxy/``: header policy, ``proxy_request``, reverse and forward proxies;
- ``cli/`` and ``repl/``: the entry points;
- ``body``, ``headers``, ``codecs``, ``errors``, ``settings``, ``log``: shared; ``progress``: upload progress.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: public name -> module that defines it (relative to this package)
_EXPORTS: dict[str, str] = {
    "Body": ".body",
    "RequestError": ".errors",
    "UpstreamError": ".errors",
    "UsageError": ".errors",
    "RemoteProtocolError": ".errors",
    "RequestTimeout": ".errors",
    "UpstreamTimeout": ".errors",
    "CLIError": ".errors",
    "StreamClosed": ".errors",
    "negotiate": ".codecs",
    "read_body": ".codecs",
    "respond": ".codecs",
    "status_line": ".protocol.status",
    "AppLoadError": ".errors",
    "BadRequest": ".errors",
    "BodyTooLarge": ".errors",
    "ClientDisconnected": ".errors",
    "ConnectError": ".errors",
    "ConnectionLost": ".errors",
    "UpstreamDisconnected": ".errors",
    "ConnectTimeout": ".errors",
    "DeadlineExceeded": ".errors",
    "DecodeError": ".errors",
    "ExpectationFailed": ".errors",
    "GreenHTTPError": ".errors",
    "HeadersTooLarge": ".errors",
    "HTTPStatusError": ".errors",
    "IncompleteBody": ".errors",
    "InvalidURL": ".errors",
    "LocalProtocolError": ".errors",
    "MalformedBody": ".errors",
    "NotImplementedCoding": ".errors",
    "PoolTimeout": ".errors",
    "ProtocolError": ".errors",
    "ProxyError": ".errors",
    "ReadTimeout": ".errors",
    "RequestLineTooLong": ".errors",
    "ResponseProtocolError": ".errors",
    "TimeoutError": ".errors",
    "TooManyRedirects": ".errors",
    "UnsupportedMediaType": ".errors",
    "VersionNotSupported": ".errors",
    "WriteTimeout": ".errors",
    "Headers": ".headers",
    "Client": ".client.session",
    "Response": ".client.response",
    "delete": ".client.api",
    "fetch_all": ".client.api",
    "get": ".client.api",
    "head": ".client.api",
    "options": ".client.api",
    "patch": ".client.api",
    "post": ".client.api",
    "put": ".client.api",
    "request": ".client.api",
    "CookieJar": ".client.cookies",
    "Auth": ".client.auth",
    "BasicAuth": ".client.auth",
    "DigestAuth": ".client.auth",
    "Request": ".client.request",
    "Retry": ".client.retry",
    "MockTransport": ".client.transports",
    "WSGITransport": ".client.transports",
    "MultipartEncoder": ".client.multipart",
    "Pool": ".client.pool",
    "default_pool": ".client.pool",
    "Timeout": ".client.timeouts",
    "ForwardProxy": ".proxy",
    "ProxyResponse": ".proxy",
    "ReverseProxy": ".proxy",
    "proxy_request": ".proxy",
    "Server": ".server.listener",
    "serve": ".server.listener",
    "ServerConfig": ".settings",
    "Stream": ".server.stream",
    "FileWrapper": ".server.wsgi",
    "progress": ".progress",
    "websocket": ".websocket",
}

if TYPE_CHECKING:  # what mypy and editors see; at run time __getattr__ imports on first use

    from .body import Body
    from .codecs import negotiate, read_body, respond
    from .protocol.status import status_line
    from .errors import RequestError, UpstreamError, UsageError, RemoteProtocolError, RequestTimeout, UpstreamTimeout, CLIError, StreamClosed, AppLoadError, BadRequest, BodyTooLarge, ClientDisconnected, ConnectError, ConnectionLost, ConnectTimeout, DeadlineExceeded, DecodeError, ExpectationFailed, GreenHTTPError, HeadersTooLarge, HTTPStatusError, IncompleteBody, InvalidURL, LocalProtocolError, MalformedBody, NotImplementedCoding, PoolTimeout, ProtocolError, ProxyError, ReadTimeout, RequestLineTooLong, ResponseProtocolError, TimeoutError, TooManyRedirects, UnsupportedMediaType, UpstreamDisconnected, VersionNotSupported, WriteTimeout
    from .headers import Headers
    from .client.api import delete, fetch_all, get, head, options, patch, post, put, request
    from .client.response import Response
    from .client.session import Client
    from .client.auth import Auth, BasicAuth, DigestAuth
    from .client.cookies import CookieJar
    from .client.request import Request
    from .client.retry import Retry
    from .client.transports import MockTransport, WSGITransport
    from .client.multipart import MultipartEncoder
    from .client.pool import Pool, default_pool
    from .client.timeouts import Timeout
    from .proxy import ForwardProxy, ProxyResponse, ReverseProxy, proxy_request
    from .server.listener import Server, serve
    from .settings import ServerConfig
    from .server.stream import Stream
    from .server.wsgi import FileWrapper
    from . import progress
    from . import websocket

__all__ = [
    "__version__",
    # serving
    "Server", "serve", "ServerConfig", "Body", "Stream", "FileWrapper", "Headers",
    # client
    "request", "get", "post", "put", "patch", "delete", "head", "options", "fetch_all",
    "Client", "Response", "Request", "Timeout", "Pool", "default_pool", "CookieJar", "MultipartEncoder",
    "Auth", "BasicAuth", "DigestAuth", "Retry", "MockTransport", "WSGITransport",
    # proxying
    "proxy_request", "ProxyResponse", "ReverseProxy", "ForwardProxy",
    # errors
    "GreenHTTPError", "RequestError", "UpstreamError", "UsageError", "ProtocolError",
    "RemoteProtocolError", "RequestTimeout", "UpstreamTimeout", "StreamClosed", "CLIError", "BadRequest", "RequestLineTooLong", "HeadersTooLarge",
    "BodyTooLarge", "ExpectationFailed", "NotImplementedCoding", "VersionNotSupported",
    "ResponseProtocolError", "IncompleteBody", "LocalProtocolError", "ConnectionLost",
    "ClientDisconnected", "UpstreamDisconnected", "ConnectError", "TimeoutError", "ConnectTimeout", "ReadTimeout",
    "WriteTimeout", "PoolTimeout", "DeadlineExceeded", "InvalidURL", "TooManyRedirects",
    "ProxyError", "HTTPStatusError", "DecodeError", "AppLoadError",
    # JSON and msgpack bodies (_codecs)
    "read_body", "respond", "negotiate", "MalformedBody", "UnsupportedMediaType",
    # the WSGI status string with the one reason phrase, e.g. for start_response(status_line(404), ...)
    "status_line",
    # upload progress: the submodule greenhttp.progress
    "progress",
    # WebSockets: the submodule greenhttp.websocket (accept, endpoint, connect)
    "websocket",
]



def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'greenhttp' has no attribute {name!r}")
    module = importlib.import_module(module_name, __name__)
    value = module if name in ("progress", "websocket") else getattr(module, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
