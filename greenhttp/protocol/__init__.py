"""The sans-I/O HTTP/1.1 core: bytes in, events out; events in, bytes out.

Owns all HTTP/1.1 framing and validation, in both directions: request and response
parsing (over httptools/llhttp), field validation, body framing, status reasons and
request-target parsing. It may import the standard library, httptools and
``greenhttp.errors``, and nothing that does I/O: no ``socket``, ``ssl``, ``select`` or
``gevent`` anywhere in this folder (a test walks every module's imports). The server,
client and proxy loops own the sockets and the clock.

Modules: events (what parsers produce), fields (field validation and the named field
sets), status (reason phrases), framing (body writers), parser (the llhttp callback
base), server (ServerProtocol), client (ClientProtocol), target (request-target forms).
"""

from .client import ClientProtocol
from .events import (
    NEED_DATA,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    RawHeaders,
    RequestHead,
    ResponseHead,
)
from .fields import CONNECTION_FIELDS, FRAMING_FIELDS, HOP_BY_HOP, validate_field, validate_fields
from .framing import (
    LAST_CHUNK,
    NO_BODY_STATUSES,
    WRITERS,
    BodyWriter,
    ChunkedWriter,
    CloseDelimitedWriter,
    ContentLengthWriter,
    NoBodyWriter,
    chunk,
    request_writer,
    response_writer,
)
from .response import CONTINUE_RESPONSE, error_response, simple_response
from .server import Limits, ServerProtocol
from .status import STATUS_REASONS, reason, status_line
from .target import parse_target

__all__ = [
    "CONNECTION_FIELDS", "CONTINUE_RESPONSE", "FRAMING_FIELDS", "HOP_BY_HOP", "LAST_CHUNK",
    "NEED_DATA", "NO_BODY_STATUSES", "STATUS_REASONS", "ClientProtocol", "Data", "EndOfMessage",
    "Event", "InformationalResponse", "Limits", "RawHeaders", "RequestHead", "WRITERS", "BodyWriter",
    "ChunkedWriter", "CloseDelimitedWriter", "ContentLengthWriter", "NoBodyWriter",
    "reason", "request_writer", "response_writer",
    "ResponseHead", "ServerProtocol", "chunk", "error_response", "parse_target",
    "simple_response", "status_line", "validate_field", "validate_fields",
]
