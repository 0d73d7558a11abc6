"""Node functions G–P: existence, preconditions (RFC 9110 §13.2.2 order) and the method's work.

The other half of ``decisions.DECISIONS``; same contract: return an answer for the
table, or an ``int`` status that ends the flow.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from .conditional import format_http_date, parse_etag_list, strong_match, weak_match

if TYPE_CHECKING:
    from .flow import Flow

SAFE = ("GET", "HEAD")


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
