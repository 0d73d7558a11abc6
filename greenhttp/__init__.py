"""greenhttp: HTTP/1.1 servers, clients and proxies on gevent, one greenlet per connection.

The public surface is what ``__all__`` lists; everything in ``_name`` modules is private.
"""

from ._body import Body
from ._codecs import negotiate, read_body, respond
from ._errors import (
    AppLoadError,
    BadRequest,
    BodyTooLarge,
    ClientDisconnected,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    DeadlineExceeded,
    DecodeError,
    ExpectationFailed,
    GreenHTTPError,
    HeadersTooLarge,
    HTTPStatusError,
    IncompleteBody,
    InvalidURL,
    LocalProtocolError,
    MalformedBody,
    NotImplementedCoding,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    ReadTimeout,
    RequestLineTooLong,
    ResponseProtocolError,
    TimeoutError,
    TooManyRedirects,
    UnsupportedMediaType,
    VersionNotSupported,
    WriteTimeout,
)
from ._headers import Headers
from ._client import Client, Response, delete, fetch_all, get, head, options, patch, post, put, request
from ._cookies import CookieJar
from ._multipart import MultipartEncoder
from ._pool import Pool, default_pool
from .proxy import ForwardProxy, ProxyResponse, ReverseProxy, proxy_request
from ._server import Server, serve
from ._settings import ServerConfig
from ._stream import Stream, StreamClosed
from ._timeouts import Timeout
from ._version import __version__
from ._wsgi import FileWrapper
from . import progress

__all__ = [
    "__version__",
    # serving
    "Server", "serve", "ServerConfig", "Body", "Stream", "StreamClosed", "FileWrapper", "Headers",
    # client
    "request", "get", "post", "put", "patch", "delete", "head", "options", "fetch_all",
    "Client", "Response", "Timeout", "Pool", "default_pool", "CookieJar", "MultipartEncoder",
    # proxying
    "proxy_request", "ProxyResponse", "ReverseProxy", "ForwardProxy",
    # errors
    "GreenHTTPError", "ProtocolError", "BadRequest", "RequestLineTooLong", "HeadersTooLarge",
    "BodyTooLarge", "ExpectationFailed", "NotImplementedCoding", "VersionNotSupported",
    "ResponseProtocolError", "IncompleteBody", "LocalProtocolError", "ConnectionLost",
    "ClientDisconnected", "ConnectError", "TimeoutError", "ConnectTimeout", "ReadTimeout",
    "WriteTimeout", "PoolTimeout", "DeadlineExceeded", "InvalidURL", "TooManyRedirects",
    "ProxyError", "HTTPStatusError", "DecodeError", "AppLoadError",
    # JSON and msgpack bodies (_codecs)
    "read_body", "respond", "negotiate", "MalformedBody", "UnsupportedMediaType",
    # upload progress: the submodule greenhttp.progress
    "progress",
]
