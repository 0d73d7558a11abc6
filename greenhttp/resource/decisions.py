"""Node functions B–F (the request, then negotiation), and ``DECISIONS``: id → function.

``flow.Flow.run`` looks a node up here by id. A function returns a truthy/falsy answer
(the table picks the next node) or an ``int`` status that ends the flow. Comments quote
the RFC 9110 sentence a node implements where it departs from webmachine-ruby.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import TYPE_CHECKING, Any, Callable

from . import conneg
from .graph import NODES

if TYPE_CHECKING:
    from .flow import Flow

#: RFC 9110 §15.5.2: a 401 "MUST send a WWW-Authenticate header field containing at
#: least one challenge"; used when is_authorized() says no without giving one.
DEFAULT_CHALLENGE = 'Basic realm="greenhttp"'

# -- B: the request itself ------------------------------------------------------------

def B13(flow: Flow) -> Any:
    return flow.call("service_available")


def B12(flow: Flow) -> Any:
    return flow.request.method in flow.call("known_methods")


def B11(flow: Flow) -> Any:
    return flow.call("uri_too_long")


def B10(flow: Flow) -> Any:
    allowed = list(flow.call("allowed_methods"))
    if flow.request.method in allowed:
        return True
    # RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field".
    flow.response.headers.set("Allow", ", ".join(allowed))
    return False


def B9(flow: Flow) -> Any:
    return "Content-MD5" in flow.request.headers


def B9a(flow: Flow) -> Any:
    verdict = flow.call("validate_content_checksum")
    if verdict is not None:
        return bool(verdict)
    # RFC 1864: base64 of the 16-byte binary digest (webmachine-ruby compares the hex).
    data = flow.request.body.read()
    flow.request.replace_body(data)
    try:
        expected = base64.b64decode((flow.header("Content-MD5") or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(expected, hashlib.md5(data).digest())


def B9b(flow: Flow) -> Any:
    return flow.call("malformed_request")


def B8(flow: Flow) -> Any:
    verdict = flow.call("is_authorized")
    if isinstance(verdict, str) and verdict:
        flow.response.headers.set("WWW-Authenticate", verdict)
        return False
    if verdict and not isinstance(verdict, str):
        return True
    if "WWW-Authenticate" not in flow.response.headers:
        flow.response.headers.set("WWW-Authenticate", DEFAULT_CHALLENGE)
    return False


def B7(flow: Flow) -> Any:
    return flow.call("forbidden")


def B6(flow: Flow) -> Any:
    return flow.call("valid_content_headers")


def B5(flow: Flow) -> Any:
    return flow.call("known_content_type")


def B4(flow: Flow) -> Any:
    return flow.call("valid_entity_length")


def B3(flow: Flow) -> Any:
    if flow.request.method != "OPTIONS":
        return False
    for name, value in dict(flow.call("options") or {}).items():
        flow.response.headers.set(name, value)
    if "Allow" not in flow.response.headers:  # RFC 9110 §9.3.7 SHOULD
        flow.response.headers.set("Allow", ", ".join(flow.call("allowed_methods")))
    return True

# -- C-F: negotiation (RFC 9110 §12) --------------------------------------------------

def C3(flow: Flow) -> Any:
    if "Accept" in flow.request.headers:
        return True
    provided = flow.provided()
    if provided:
        flow.resource.media_type = provided[0][0]
    return False


def C4(flow: Flow) -> Any:
    try:
        chosen = conneg.choose_media_type([t for t, _ in flow.provided()], flow.header("Accept") or "")
    except conneg.NegotiationError:
        return 400
    flow.resource.media_type = chosen
    return chosen is not None


def D4(flow: Flow) -> Any:
    languages = flow.languages()
    if "Accept-Language" in flow.request.headers:
        return True
    if languages:
        flow.set_language(languages[0])
    return False


def D5(flow: Flow) -> Any:
    languages = flow.languages()
    if not languages:
        return True
    try:
        chosen = conneg.choose_language(languages, flow.header("Accept-Language") or "")
    except conneg.NegotiationError:
        return 400
    if chosen is None:
        return False
    flow.set_language(chosen)
    return True


def E5(flow: Flow) -> Any:
    charsets = flow.charsets()
    if "Accept-Charset" in flow.request.headers:
        return True
    if charsets:
        flow.resource.charset = charsets[0][0]
    return False


def E6(flow: Flow) -> Any:
    charsets = flow.charsets()
    if not charsets:
        return True
    try:
        chosen = conneg.choose_charset([c for c, _ in charsets], flow.header("Accept-Charset") or "")
    except conneg.NegotiationError:
        return 400
    flow.resource.charset = chosen
    return chosen is not None


def F6(flow: Flow) -> Any:
    media_type = flow.resource.media_type
    if media_type is not None:
        if flow.resource.charset and "charset=" not in media_type.lower():
            media_type = f"{media_type}; charset={flow.resource.charset}"
        flow.response.headers.set("Content-Type", media_type)
    if "Accept-Encoding" in flow.request.headers:
        return True
    chosen = conneg.choose_encoding(list(flow.encodings()), conneg.DEFAULT_ACCEPT_ENCODING)
    if chosen is None:
        return 406
    flow.set_encoding(chosen)
    return False


def F7(flow: Flow) -> Any:
    try:
        chosen = conneg.choose_encoding(list(flow.encodings()), flow.header("Accept-Encoding") or "")
    except conneg.NegotiationError:
        return 400
    if chosen is None:
        return False
    flow.set_encoding(chosen)
    return True


from . import decisions_resource  # noqa: E402  (G–P)

#: node id → the function answering it; a test checks this covers graph.NODES exactly.
DECISIONS: dict[str, Callable[["Flow"], Any]] = {
    node_id: globals().get(node_id) or getattr(decisions_resource, node_id) for node_id in NODES}
