"""The node functions: one per id of ``graph.NODES``, each answering its node's question.

``flow.Flow.run`` looks a node up here by id. A function returns a truthy/falsy answer
(the table picks the next node) or an ``int`` status that ends the flow. Comments quote
the RFC 9110 sentence a node implements where it departs from webmachine-ruby.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urljoin

from . import conneg
from .conditional import format_http_date, parse_etag_list, strong_match, weak_match
from .graph import NODES

if TYPE_CHECKING:
    from .flow import Flow

#: RFC 9110 §15.5.2: a 401 "MUST send a WWW-Authenticate header field containing at
#: least one challenge"; used when is_authorized() says no without giving one.
DEFAULT_CHALLENGE = 'Basic realm="greenhttp"'
SAFE = ("GET", "HEAD")

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

# -- G-L: existence and preconditions (RFC 9110 §13.2.2 order) ------------------------

def G7(flow: Flow) -> Any:
    vary = []
    for header, count in (("Accept", len(flow.provided())), ("Accept-Encoding", len(flow.encodings())),
                          ("Accept-Charset", len(flow.charsets())), ("Accept-Language", len(flow.languages()))):
        if count > 1:
            vary.append(header)
    vary.extend(flow.call("variances") or [])
    if vary:
        flow.response.headers.set("Vary", ", ".join(vary))
    return flow.call("resource_exists")


def G8(flow: Flow) -> Any:
    return "If-Match" in flow.request.headers


def G9(flow: Flow) -> Any:
    return (flow.header("If-Match") or "").strip() == "*"


def G11(flow: Flow) -> Any:
    # RFC 9110 §13.1.1: "An origin server MUST use the strong comparison function".
    return strong_match(parse_etag_list(flow.header("If-Match") or "") or [], flow.etag())


def H10(flow: Flow) -> Any:
    return "If-Unmodified-Since" in flow.request.headers


def H11(flow: Flow) -> Any:
    flow.condition_date = flow.date("If-Unmodified-Since")
    return flow.condition_date is not None


def H12(flow: Flow) -> Any:
    # RFC 9110 §13.1.4: without a modification date the condition cannot be evaluated
    # and is ignored (webmachine-ruby: 500).
    modified = flow.last_modified()
    return modified is not None and flow.condition_date is not None and modified > flow.condition_date


def I12(flow: Flow) -> Any:
    return "If-None-Match" in flow.request.headers


def I13(flow: Flow) -> Any:
    return (flow.header("If-None-Match") or "").strip() == "*"


def K13(flow: Flow) -> Any:
    # RFC 9110 §13.1.2: "A recipient MUST use the weak comparison function".
    return weak_match(parse_etag_list(flow.header("If-None-Match") or "") or [], flow.etag())


def J18(flow: Flow) -> Any:
    return flow.request.method in SAFE


def L13(flow: Flow) -> Any:
    # RFC 9110 §13.1.3: "A recipient MUST ignore If-Modified-Since if the request
    # contains an If-None-Match" (we only get here without one) and it applies to GET/HEAD.
    return "If-Modified-Since" in flow.request.headers and flow.request.method in SAFE


def L14(flow: Flow) -> Any:
    flow.condition_date = flow.date("If-Modified-Since")
    return flow.condition_date is not None


def L15(flow: Flow) -> Any:
    return flow.condition_date is not None and flow.condition_date > datetime.datetime.now(datetime.timezone.utc)


def L17(flow: Flow) -> Any:
    modified = flow.last_modified()
    return modified is None or flow.condition_date is None or modified > flow.condition_date

# -- M-P: the method's work -------------------------------------------------------------

def M16(flow: Flow) -> Any:
    return flow.request.method == "DELETE"


def M20(flow: Flow) -> Any:
    return flow.call("delete_resource")


def M20b(flow: Flow) -> Any:
    return flow.call("delete_completed")


def N16(flow: Flow) -> Any:
    return flow.request.method == "POST"


def N11(flow: Flow) -> Any:
    if flow.call("post_is_create"):
        path = flow.call("create_path")
        if path is None:
            raise LookupError("post_is_create() is true but create_path() returned None")
        base = flow.call("base_uri") or flow.request.base_uri
        flow.response.headers.set("Location", urljoin(base, str(path)))
        status = flow.accept_helper()
        if status is not None:
            return status
    elif flow.call("process_post") is not True:
        return 500
    if flow.response.redirect:
        return True if "Location" in flow.response.headers else 500
    return False


def O16(flow: Flow) -> Any:
    return flow.request.method in ("PUT", "PATCH")


def O14(flow: Flow) -> Any:
    if flow.call("is_conflict"):
        return True
    status = flow.accept_helper()
    return status if status is not None else False


def O18(flow: Flow) -> Any:
    if flow.request.method not in SAFE:
        return True
    headers = flow.response.headers
    etag = flow.etag()
    if etag:
        headers.set("ETag", etag)
    modified = flow.last_modified()
    if modified is not None:
        headers.set("Last-Modified", format_http_date(modified))
    expires = flow.call("expires")
    if expires is not None:
        headers.set("Expires", format_http_date(expires))
    for media_type, handler in flow.provided():
        if media_type == flow.resource.media_type:
            body = flow.handler(handler)
            if type(body) is int:
                return body
            flow.response.body = body
            break
    return True


def O18b(flow: Flow) -> Any:
    return flow.call("multiple_choices")


def O20(flow: Flow) -> Any:
    return flow.response.body not in (None, b"", "")


def P11(flow: Flow) -> Any:
    return "Location" in flow.response.headers or flow.created

# -- the missing-resource branch ------------------------------------------------------

def H7(flow: Flow) -> Any:
    # RFC 9110 §13.1.1: If-Match "*" and every listed tag are false without a current
    # representation; the 412 waits for I5/N6 so GET/DELETE still answer 404/410/3xx
    # (§13.2.1: preconditions are evaluated only when the answer would otherwise be 2xx).
    flow.if_match_on_missing = "If-Match" in flow.request.headers
    return True


def I7(flow: Flow) -> Any:
    return flow.request.method == "PUT"


def I4(flow: Flow) -> Any:
    return flow.moved("moved_permanently")


def I5(flow: Flow) -> Any:
    return flow.if_match_on_missing


def P3(flow: Flow) -> Any:
    if flow.call("is_conflict"):
        return True
    status = flow.accept_helper()
    if status is not None:
        return status
    flow.created = True
    return False


def K7(flow: Flow) -> Any:
    return flow.call("previously_existed")


def K5(flow: Flow) -> Any:
    return flow.moved("moved_permanently")


def L5(flow: Flow) -> Any:
    return flow.moved("moved_temporarily")


def M5(flow: Flow) -> Any:
    return flow.request.method == "POST"


def N5(flow: Flow) -> Any:
    return flow.call("allow_missing_post")


def L7(flow: Flow) -> Any:
    return flow.request.method == "POST"


def M7(flow: Flow) -> Any:
    return flow.call("allow_missing_post")


def N6(flow: Flow) -> Any:
    return flow.if_match_on_missing


#: node id → the function answering it; a test checks this covers graph.NODES exactly.
DECISIONS: dict[str, Callable[["Flow"], Any]] = {node_id: globals()[node_id] for node_id in NODES}
