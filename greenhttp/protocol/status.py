"""The one table of reason phrases (RFC 9110 §15), and the one function that reads it.

Everything in greenhttp that writes a status line (the server's own errors, the proxy,
static files, ``respond``, resources, WebSockets) calls :func:`reason` or
:func:`status_line`; nothing keeps a private copy of a phrase.
"""

from __future__ import annotations

from http import HTTPStatus

# RFC 9110's names where they differ from older RFCs (and from the stdlib's HTTPStatus,
# which still says "Request Entity Too Large", "Unprocessable Entity"...).
STATUS_REASONS: dict[int, str] = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
    203: "Non-Authoritative Information", 204: "No Content", 205: "Reset Content",
    206: "Partial Content", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Found",
    303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
    417: "Expectation Failed", 421: "Misdirected Request", 422: "Unprocessable Content",
    426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}


def reason(status: int) -> str:
    """The reason phrase for ``status``: RFC 9110's, else the stdlib's (RFC 6585, WebDAV,
    ...), else "Unknown" (RFC 9112 §4: the phrase is informational, clients ignore it)."""
    phrase = STATUS_REASONS.get(status)
    if phrase is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
    return phrase


def status_line(status: int) -> str:
    """``"404 Not Found"``: the WSGI ``status`` string for ``status``."""
    return f"{status} {reason(status)}"
