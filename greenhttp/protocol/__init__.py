"""The sans-I/O HTTP/1.1 core: bytes in, events out; events in, bytes out.

Owns all HTTP/1.1 framing and validation, in both directions: request and response
parsing (over httptools/llhttp), field validation, body framing, status reasons and
request-target parsing. It may import the standard library, httptools and
``greenhttp.errors``, and nothing that does I/O: no ``socket``, ``ssl``, ``select`` or
``gevent`` anywhere in this folder (a test walks every module's imports). The server,
client and proxy loops own the sockets and the clock.
"""

from .core import (  # noqa: F401
    CONTINUE_RESPONSE,
    LAST_CHUNK,
    NEED_DATA,
    NO_BODY_STATUSES,
    STATUS_REASONS,
    ClientProtocol,
    Data,
    EndOfMessage,
    Event,
    InformationalResponse,
    Limits,
    RawHeaders,
    RequestHead,
    ResponseFraming,
    ResponseHead,
    ServerProtocol,
    chunk,
    error_response,
    parse_target,
    simple_response,
    validate_field,
    validate_fields,
)
