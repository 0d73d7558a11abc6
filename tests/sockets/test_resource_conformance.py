"""The conformance table: one row per scenario (resource callbacks, request → status and key
headers), run through WebTest and over real sockets against a real greenhttp server.

Each row names the decision node it is about (``via``); the row fails unless the request's
path through the graph passes that node, and a last test checks that the rows together
visit every node of ``graph.NODES``. Rows cite the spec section (docs: resources.md) or
RFC 9110 rule they check.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import http.client
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest
import webtest

from greenhttp.resource import Application, Resource
from greenhttp.resource.graph import NODES

from conftest import running

UTC = datetime.timezone.utc
# Sub-second on purpose: a client echoing Last-Modified must still match (spec §5).
LM = datetime.datetime(2024, 1, 1, 12, 0, 0, 700000, tzinfo=UTC)
LM_HTTP = "Mon, 01 Jan 2024 12:00:00 GMT"
BEFORE = "Sun, 31 Dec 2023 12:00:00 GMT"
AFTER = "Tue, 02 Jan 2024 12:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"
ABSENT = None
ANY = ...


class Base(Resource):
    """What every row starts from: text/plain, accepts text/plain, most methods allowed."""

    def allowed_methods(self) -> list[str]:
        return ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]

    def content_types_provided(self) -> list[tuple[str, Any]]:
        return [("text/plain", "to_text")]

    def content_types_accepted(self) -> list[tuple[str, Any]]:
        return [("text/plain", "from_text")]

    def to_text(self) -> Any:
        return "hello"

    def from_text(self) -> Any:
        self.request.body.read()
        return True


@dataclass
class Case:
    name: str
    via: str
    callbacks: dict[str, Any]
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    expect: dict[str, Any] = field(default_factory=dict)
    body: bytes | None = None
    request_body: bytes = b""

    def resource(self) -> type[Resource]:
        attrs = {name: value if callable(value) else (lambda self, v=value: v)
                 for name, value in self.callbacks.items()}
        return type(f"Case_{self.name}", (Base,), attrs)


def raising(self: Any) -> Any:
    raise RuntimeError("secret-detail-from-callback")


def handle_exception_sets_body(self: Any, exc: BaseException) -> None:
    self.response.body = "sorry\n"


def set_body_and_true(self: Any) -> Any:
    self.request.body.read()
    self.response.body = "updated"
    return True


def set_location_and_true(self: Any) -> Any:
    self.request.body.read()
    self.response.headers["Location"] = "/elsewhere"
    return True


def redirect_post(self: Any) -> Any:
    self.response.redirect_to("/there")
    return True


def redirect_without_location(self: Any) -> Any:
    self.response.redirect_to()
    return True


def delete_with_body(self: Any) -> Any:
    self.response.body = "gone now"
    return True


def two_cookies(self: Any) -> Any:
    self.response.set_cookie("a", "1")
    self.response.set_cookie("b", "2", path="/")
    return "cookies " + self.request.cookies.get("c", "-")


def finish_marks(self: Any) -> None:
    self.response.headers["X-Finished"] = "yes"


def md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


TWO_TYPES = {"content_types_provided": [("text/html", "to_text"), ("text/plain", "to_text")]}
LANGS = {"languages_provided": ["en", "de", "en-US"]}
CHARSETS = {"charsets_provided": [("utf-8", lambda s: s.encode("utf-8")),
                                  ("iso-8859-1", lambda s: s.encode("latin-1"))],
            "to_text": lambda self: "caf\u00e9"}
GZIP = {"encodings_provided": {"identity": "encode_identity", "gzip": "encode_gzip"}}
VALIDATORS = {"generate_etag": "v1", "last_modified": LM}
MISSING = {"resource_exists": False}

CASES = [
    # -- B column -----------------------------------------------------------------------
    Case("service_unavailable", "B13", {"service_available": False}, status=503),
    Case("service_halts", "B13", {"service_available": 429}, status=429),
    Case("true_is_not_a_status", "B13", {"service_available": True}, status=200),
    Case("unknown_method", "B12", {"known_methods": ["GET", "HEAD"]}, method="DELETE", status=501),
    Case("uri_too_long", "B11", {"uri_too_long": True}, status=414),
    Case("method_not_allowed", "B10", {"allowed_methods": ["GET", "HEAD"]}, method="PUT", status=405,
         expect={"Allow": "GET, HEAD"}),
    Case("content_md5_good", "B9a", {}, method="PUT", request_body=b"data",
         headers={"Content-Type": "text/plain", "Content-MD5": md5(b"data")}, status=204),
    Case("content_md5_hex_is_wrong", "B9a", {}, method="PUT", request_body=b"data",
         headers={"Content-Type": "text/plain",
                  "Content-MD5": base64.b64encode(hashlib.md5(b"data").hexdigest().encode()).decode()},
         status=400),
    Case("content_md5_callback_false", "B9a", {"validate_content_checksum": False}, method="PUT",
         request_body=b"x", headers={"Content-Type": "text/plain", "Content-MD5": "x"}, status=400),
    Case("content_md5_callback_true", "B9a", {"validate_content_checksum": True}, method="PUT",
         request_body=b"x", headers={"Content-Type": "text/plain", "Content-MD5": "bogus"}, status=204),
    Case("malformed", "B9b", {"malformed_request": True}, status=400),
    Case("unauthorized_default_challenge", "B8", {"is_authorized": False}, status=401,
         expect={"WWW-Authenticate": 'Basic realm="greenhttp"'}),
    Case("unauthorized_challenge", "B8", {"is_authorized": 'Bearer realm="api"'}, status=401,
         expect={"WWW-Authenticate": 'Bearer realm="api"'}),
    Case("forbidden", "B7", {"forbidden": True}, status=403),
    Case("invalid_content_headers", "B6", {"valid_content_headers": False}, status=501),
    Case("unknown_content_type", "B5", {"known_content_type": False}, status=415),
    Case("entity_too_large", "B4", {"valid_entity_length": False}, status=413),
    Case("options", "B3", {"options": {"X-Options": "yes"}}, method="OPTIONS", status=200,
         expect={"Allow": "GET, HEAD, PUT, POST, DELETE, PATCH, OPTIONS", "X-Options": "yes"}),
    Case("options_keeps_own_allow", "B3", {"options": {"Allow": "GET"}}, method="OPTIONS",
         expect={"Allow": "GET"}),
    # -- C: media type (spec §4.1) ------------------------------------------------------
    Case("no_accept_first_provided", "C3", TWO_TYPES, expect={"Content-Type": "text/html"}),
    Case("accept_exact", "C4", TWO_TYPES, headers={"Accept": "text/plain"},
         expect={"Content-Type": "text/plain"}),
    Case("accept_none_match", "C4", TWO_TYPES, headers={"Accept": "image/png"}, status=406),
    Case("accept_q0_excludes", "C4", TWO_TYPES, headers={"Accept": "text/html;q=0, */*"},
         expect={"Content-Type": "text/plain"}),
    Case("accept_specific_beats_wildcard", "C4",
         {"content_types_provided": [("text/plain", "to_text"), ("text/html", "to_text")]},
         headers={"Accept": "text/*, text/plain;q=0.1"}, expect={"Content-Type": "text/html"}),
    Case("accept_ties_by_header_order", "C4", TWO_TYPES, headers={"Accept": "text/plain, text/html"},
         expect={"Content-Type": "text/plain"}),
    Case("accept_uppercase_q_and_ows", "C4", TWO_TYPES,
         headers={"Accept": "text/html ; Q=0.2 , text/plain ; q=0.9"}, expect={"Content-Type": "text/plain"}),
    Case("accept_ext_after_q_ignored", "C4", TWO_TYPES,
         headers={"Accept": "text/plain;q=0.5;foo=bar, text/html;q=0.4"}, expect={"Content-Type": "text/plain"}),
    Case("accept_params_must_match", "C4",
         {"content_types_provided": [("text/html;level=1", "to_text"), ("text/plain", "to_text")]},
         headers={"Accept": "text/html;level=1"}, expect={"Content-Type": "text/html;level=1"}),
    Case("accept_params_mismatch", "C4", TWO_TYPES, headers={"Accept": "text/html;level=1"}, status=406),
    Case("accept_unparseable", "C4", TWO_TYPES, headers={"Accept": "bah;"}, status=400),
    Case("accept_bad_q", "C4", TWO_TYPES, headers={"Accept": "text/plain;q=high"}, status=400),
    # -- D: language (spec §4.4) ----------------------------------------------------------
    Case("no_accept_language_first", "D4", LANGS, expect={"Content-Language": "en"}),
    Case("accept_language_exact", "D5", LANGS, headers={"Accept-Language": "de"},
         expect={"Content-Language": "de"}),
    Case("accept_language_prefix", "D5", {"languages_provided": ["en-US"]},
         headers={"Accept-Language": "EN"}, expect={"Content-Language": "en-US"}),
    Case("accept_language_longer_range_no_match", "D5", {"languages_provided": ["en"]},
         headers={"Accept-Language": "en-GB"}, status=406),
    Case("accept_language_longest_range_wins", "D5", LANGS,
         headers={"Accept-Language": "en;q=0.9, en-us;q=0.1, de;q=0.5"}, expect={"Content-Language": "en"}),
    Case("accept_language_star_q0", "D5", LANGS, headers={"Accept-Language": "*;q=0.5, en;q=0"},
         expect={"Content-Language": "de"}),
    Case("accept_language_none_provided", "D5", {}, headers={"Accept-Language": "fr"},
         expect={"Content-Language": ABSENT}),
    # -- E: charset (spec §4.2) -----------------------------------------------------------
    Case("no_accept_charset_first", "E5", CHARSETS, expect={"Content-Type": "text/plain; charset=utf-8"},
         body="caf\u00e9".encode()),
    Case("accept_charset_latin1", "E6", CHARSETS, headers={"Accept-Charset": "ISO-8859-1"},
         expect={"Content-Type": "text/plain; charset=iso-8859-1"}, body=b"caf\xe9"),
    Case("accept_charset_no_default", "E6", CHARSETS, headers={"Accept-Charset": "utf-16"}, status=406),
    Case("accept_charset_star", "E6", CHARSETS, headers={"Accept-Charset": "*"},
         expect={"Content-Type": "text/plain; charset=utf-8"}),
    Case("accept_charset_star_q0", "E6", CHARSETS, headers={"Accept-Charset": "*;q=0"}, status=406),
    # -- F: content coding (spec §4.3) ----------------------------------------------------
    Case("no_accept_encoding_identity", "F6", GZIP, expect={"Content-Encoding": ABSENT}, body=b"hello"),
    Case("no_accept_encoding_star_half", "F6", {"encodings_provided": {"gzip": "encode_gzip"}},
         expect={"Content-Encoding": "gzip"}, body=b"hello"),
    Case("no_encodings_at_all", "F6", {"encodings_provided": {}}, status=406),
    Case("accept_encoding_gzip", "F7", GZIP, headers={"Accept-Encoding": "gzip"},
         expect={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}, body=b"hello"),
    Case("accept_encoding_identity_last_resort", "F7", GZIP, headers={"Accept-Encoding": "br"},
         expect={"Content-Encoding": ABSENT}),
    Case("accept_encoding_identity_q0", "F7", {}, headers={"Accept-Encoding": "identity;q=0"}, status=406),
    Case("accept_encoding_star_q0", "F7", {}, headers={"Accept-Encoding": "gzip, *;q=0"}, status=406),
    Case("accept_encoding_deflate", "F7", {"encodings_provided": {"deflate": "encode_deflate",
                                                                   "identity": "encode_identity"}},
         headers={"Accept-Encoding": "deflate;q=0.5, identity;q=0.1"}, expect={"Content-Encoding": "deflate"}),
    # -- G7: Vary (spec §4.5) ---------------------------------------------------------------
    Case("vary_members", "G7", {**TWO_TYPES, **GZIP, **LANGS, "variances": ["Cookie"]},
         expect={"Vary": "Accept, Accept-Encoding, Accept-Language, Cookie"}),
    Case("no_vary_single_variant", "G7", {}, expect={"Vary": ABSENT}),
    # -- G8-H12: If-Match and If-Unmodified-Since (RFC 9110 §13.1.1, §13.1.4) -------------
    Case("if_match_star", "G9", VALIDATORS, method="PUT", request_body=b"x",
         headers={"If-Match": "*", "Content-Type": "text/plain"}, status=204),
    Case("if_match_strong", "G11", VALIDATORS, method="PUT", request_body=b"x",
         headers={"If-Match": '"v0", "v1"', "Content-Type": "text/plain"}, status=204),
    Case("if_match_weak_tag_fails", "G11", VALIDATORS, method="PUT", request_body=b"x",
         headers={"If-Match": 'W/"v1"', "Content-Type": "text/plain"}, status=412),
    Case("if_match_weak_resource_fails", "G11", {"generate_etag": 'W/"v1"'}, method="PUT",
         headers={"If-Match": '"v1"', "Content-Type": "text/plain"}, status=412),
    Case("if_match_no_etag_412", "G11", {}, headers={"If-Match": '"v1"'}, status=412),
    Case("if_match_quoted_star_is_a_tag", "G11", VALIDATORS, headers={"If-Match": '"*"'}, status=412),
    Case("if_match_comma_inside_tag", "G11", {"generate_etag": '"a,b"'}, headers={"If-Match": '"a,b"'}),
    Case("if_match_passes_skips_ius", "G11", VALIDATORS,
         headers={"If-Match": '"v1"', "If-Unmodified-Since": BEFORE}, status=200),
    Case("ius_unmodified", "H12", VALIDATORS, headers={"If-Unmodified-Since": AFTER}),
    Case("ius_modified_412", "H12", VALIDATORS, headers={"If-Unmodified-Since": BEFORE}, status=412),
    Case("ius_echo_subsecond", "H12", VALIDATORS, headers={"If-Unmodified-Since": LM_HTTP}),
    Case("ius_no_last_modified_ignored", "H12", {}, headers={"If-Unmodified-Since": BEFORE}),
    Case("ius_invalid_date_ignored", "H11", VALIDATORS, headers={"If-Unmodified-Since": "yesterday"}),
    # -- I12-L17: If-None-Match and If-Modified-Since (RFC 9110 §13.1.2, §13.1.3) ----------
    Case("inm_star_get_304", "I13", {**VALIDATORS, **TWO_TYPES}, headers={"If-None-Match": "*"},
         status=304, expect={"ETag": '"v1"', "Last-Modified": LM_HTTP, "Vary": "Accept",
                             "Content-Type": ABSENT}),
    Case("inm_star_put_412", "J18", VALIDATORS, method="PUT", headers={"If-None-Match": "*"}, status=412),
    Case("inm_weak_match_304", "K13", VALIDATORS, headers={"If-None-Match": 'W/"v1"'}, status=304),
    Case("inm_no_match_ignores_ims", "K13", VALIDATORS,
         headers={"If-None-Match": '"v0"', "If-Modified-Since": AFTER}, status=200, expect={"ETag": '"v1"'}),
    Case("ims_not_modified", "L17", VALIDATORS, headers={"If-Modified-Since": AFTER}, status=304),
    Case("ims_echo_subsecond_304", "L17", VALIDATORS, headers={"If-Modified-Since": LM_HTTP}, status=304),
    Case("ims_modified", "L17", VALIDATORS, headers={"If-Modified-Since": BEFORE},
         expect={"Last-Modified": LM_HTTP}),
    Case("ims_no_last_modified", "L17", {}, headers={"If-Modified-Since": BEFORE}),
    Case("ims_future_ignored", "L15", VALIDATORS, headers={"If-Modified-Since": FUTURE}),
    Case("ims_invalid_ignored", "L14", VALIDATORS, headers={"If-Modified-Since": "garbage"}),
    Case("ims_ignored_on_put", "L13", VALIDATORS, method="PUT", request_body=b"x",
         headers={"If-Modified-Since": AFTER, "Content-Type": "text/plain"}, status=204),
    # -- M-P: the method's work -------------------------------------------------------------
    Case("delete", "M20b", {"delete_resource": True}, method="DELETE", status=204,
         expect={"Content-Type": ABSENT, "Content-Length": ABSENT}),
    Case("delete_failed", "M20", {"delete_resource": False}, method="DELETE", status=500),
    Case("delete_accepted", "M20b", {"delete_resource": True, "delete_completed": False}, method="DELETE",
         status=202),
    Case("delete_with_body", "O20", {"delete_resource": delete_with_body}, method="DELETE", status=200,
         body=b"gone now"),
    Case("post_process", "N11", {"process_post": True}, method="POST", status=204, body=b""),
    Case("post_process_false_500", "N11", {"process_post": False}, method="POST", status=500),
    Case("post_process_halts", "N11", {"process_post": 418}, method="POST", status=418),
    Case("post_create", "N11", {"post_is_create": True, "create_path": "items/5"}, method="POST",
         request_body=b"x", headers={"Content-Type": "text/plain"}, status=201,
         expect={"Location": ANY}),
    Case("post_create_without_path", "N11", {"post_is_create": True}, method="POST", status=500),
    Case("post_create_unaccepted_type", "N11", {"post_is_create": True, "create_path": "x"}, method="POST",
         headers={"Content-Type": "application/json"}, request_body=b"{}", status=415),
    Case("post_redirect", "N11", {"process_post": redirect_post}, method="POST", status=303,
         expect={"Location": "/there"}),
    Case("post_redirect_without_location", "N11", {"process_post": redirect_without_location},
         method="POST", status=500),
    Case("put_replace", "O14", {}, method="PUT", request_body=b"x", headers={"Content-Type": "text/plain"},
         status=204),
    Case("put_conflict", "O14", {"is_conflict": True}, method="PUT", status=409),
    Case("put_wrong_type_415", "O14", {}, method="PUT", headers={"Content-Type": "image/png"},
         request_body=b"x", status=415),
    Case("put_wildcard_accepted", "O14", {"content_types_accepted": [("text/*", "from_text")]},
         method="PUT", headers={"Content-Type": "text/csv; charset=utf-8"}, request_body=b"a", status=204),
    Case("put_accepted_params_must_match", "O14",
         {"content_types_accepted": [("text/plain; charset=utf-8", "from_text")]}, method="PUT",
         headers={"Content-Type": "text/plain; charset=latin1"}, request_body=b"a", status=415),
    Case("put_no_content_type_octets", "O14",
         {"content_types_accepted": [("application/octet-stream", "from_text")]}, method="PUT",
         request_body=b"a", status=204),
    Case("put_handler_false_500", "O14", {"from_text": lambda self: False}, method="PUT",
         headers={"Content-Type": "text/plain"}, status=500),
    Case("put_handler_halts", "O14", {"from_text": lambda self: 422}, method="PUT",
         headers={"Content-Type": "text/plain"}, status=422),
    Case("patch", "O16", {}, method="PATCH", headers={"Content-Type": "text/plain"}, request_body=b"p",
         status=204),
    Case("put_with_body_200", "O20", {"from_text": set_body_and_true}, method="PUT",
         headers={"Content-Type": "text/plain"}, request_body=b"x", status=200, body=b"updated"),
    Case("put_location_201", "P11", {"from_text": set_location_and_true}, method="PUT",
         headers={"Content-Type": "text/plain"}, request_body=b"x", status=201),
    Case("get_validators", "O18", {**VALIDATORS, "expires": LM},
         expect={"ETag": '"v1"', "Last-Modified": LM_HTTP, "Expires": LM_HTTP, "Content-Length": "5"},
         body=b"hello"),
    Case("weak_etag_kept", "O18", {"generate_etag": 'W/"w"'}, expect={"ETag": 'W/"w"'}),
    Case("handler_halts", "O18", {"to_text": lambda self: 404}, status=404),
    Case("multiple_choices", "O18b", {"multiple_choices": True}, status=300),
    Case("head_same_headers", "O18", VALIDATORS, method="HEAD", expect={"Content-Length": "5", "ETag": '"v1"'},
         body=b""),
    # -- the missing-resource branch ---------------------------------------------------------
    Case("put_creates_201", "P3", MISSING, method="PUT", headers={"Content-Type": "text/plain"},
         request_body=b"x", status=201),
    Case("put_missing_if_match_412", "I5", MISSING, method="PUT", headers={"If-Match": '"v1"',
                                                                           "Content-Type": "text/plain"},
         status=412),
    Case("put_missing_if_match_star_412", "I5", MISSING, method="PUT",
         headers={"If-Match": "*", "Content-Type": "text/plain"}, status=412),
    Case("put_missing_inm_star_creates", "P3", MISSING, method="PUT",
         headers={"If-None-Match": "*", "Content-Type": "text/plain"}, request_body=b"x", status=201),
    Case("put_missing_conflict", "P3", {**MISSING, "is_conflict": True}, method="PUT", status=409),
    Case("put_missing_moved", "I4", {**MISSING, "moved_permanently": "http://example.com/new"}, method="PUT",
         status=301, expect={"Location": "http://example.com/new"}),
    Case("get_missing_404", "L7", MISSING, status=404, expect={"Content-Type": "text/plain; charset=utf-8"}),
    Case("get_missing_if_match_still_404", "L7", MISSING, headers={"If-Match": "*"}, status=404),
    Case("delete_missing_404", "L7", MISSING, method="DELETE", status=404),
    Case("post_missing_allowed", "M7", {**MISSING, "allow_missing_post": True, "process_post": True},
         method="POST", status=204),
    Case("post_missing_if_match_412", "N6", {**MISSING, "allow_missing_post": True, "process_post": True},
         method="POST", headers={"If-Match": '"x"'}, status=412),
    Case("post_missing_not_allowed", "M7", MISSING, method="POST", status=404),
    Case("gone", "K7", {**MISSING, "previously_existed": True}, status=410),
    Case("moved_permanently", "K5", {**MISSING, "previously_existed": True, "moved_permanently": "/new"},
         status=301, expect={"Location": "/new"}),
    Case("moved_temporarily", "L5", {**MISSING, "previously_existed": True, "moved_temporarily": "/tmp"},
         status=307, expect={"Location": "/tmp"}),
    Case("gone_post_not_allowed", "M5", {**MISSING, "previously_existed": True}, method="POST", status=410),
    Case("gone_post_allowed", "N5", {**MISSING, "previously_existed": True, "allow_missing_post": True,
                                     "process_post": True}, method="POST", status=204),
    Case("gone_post_allowed_if_match", "N6", {**MISSING, "previously_existed": True,
                                              "allow_missing_post": True}, method="POST",
         headers={"If-Match": "*"}, status=412),
    # -- finishing (spec §6, §8) --------------------------------------------------------------
    Case("error_generic_body", "B7", {"forbidden": True}, status=403,
         expect={"Content-Type": "text/plain; charset=utf-8"}, body=b"403 Forbidden\n"),
    Case("exception_500_no_detail", "B7", {"forbidden": raising}, status=500, body=b"500 Internal Server Error\n"),
    Case("exception_handle_exception_body", "O18", {"to_text": raising,
                                                   "handle_exception": handle_exception_sets_body},
         status=500, body=b"sorry\n"),
    Case("finish_request_runs", "O18", {"finish_request": finish_marks}, expect={"X-Finished": "yes"}),
    Case("finish_request_on_error", "B7", {"forbidden": True, "finish_request": finish_marks}, status=403,
         expect={"X-Finished": "yes"}),
    Case("finish_request_raises_500", "O18", {"finish_request": raising}, status=500),
    Case("cookies_round_trip", "O18", {"to_text": two_cookies}, headers={"Cookie": "c=3"},
         body=b"cookies 3", expect={"Set-Cookie": ANY}),
    Case("iterable_body", "O18", {"to_text": lambda self: iter([b"a", "b", b"c"])}, body=b"abc"),
    Case("callable_body", "O18", {"to_text": lambda self: (lambda: ["x", "y"])}, body=b"xy"),
]


def _app() -> Application:
    return Application(routes=[(f"/c/{case.name}", case.resource()) for case in CASES])


APP = _app()


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with running(APP) as server:
        yield server


def _decode(headers: Callable[[str], str | None], body: bytes) -> bytes:
    coding = headers("Content-Encoding")
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "deflate":
        import zlib

        return zlib.decompress(body)
    return body


def check(case: Case, status: int, get: Callable[[str], str | None], body: bytes,
          set_cookies: list[str]) -> None:
    assert status == case.status, (case.name, body)
    for name, want in case.expect.items():
        have = get(name)
        if want is ANY:
            assert have, (case.name, name)
        else:
            assert have == want, (case.name, name, have)
    if case.body is not None:
        assert _decode(get, body) == case.body, case.name
    if case.name == "cookies_round_trip":
        assert sorted(c.split(";")[0] for c in set_cookies) == ["a=1", "b=2"]
    if case.name.startswith("exception"):
        assert b"secret-detail" not in body and b"Traceback" not in body
    if status in (204, 304):
        assert get("Content-Type") is None and body == b""


class Raw:
    """What the app itself gave WebTest (WebTest's own response decodes gzip on its own)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    path: list[str]

    def get(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


def webtest_request(case: Case) -> Raw:
    raw = Raw()

    def capture(environ: dict, start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            raw.status, raw.headers = int(status[:3]), headers
            return start_response(status, headers, exc_info)

        result = APP(environ, start)
        try:
            raw.body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        raw.path = environ["greenhttp.resource.path"]
        return [raw.body]

    app = webtest.TestApp(capture)  # with WebTest's WSGI lint
    response = app.request(f"/c/{case.name}", method=case.method, headers=dict(case.headers),
                           body=case.request_body, status="*", expect_errors=True)
    assert response.status_int == raw.status
    return raw


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_webtest(case: Case) -> None:
    raw = webtest_request(case)
    assert case.via in raw.path, (case.name, raw.path)
    check(case, raw.status, raw.get, raw.body, [v for k, v in raw.headers if k.lower() == "set-cookie"])


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_socket(case: Case, server: Any) -> None:
    host, port = server.address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        headers = dict(case.headers)
        if case.request_body or case.method in ("PUT", "POST", "PATCH"):
            headers.setdefault("Content-Length", str(len(case.request_body)))
        # putrequest: http.client.request() would add "Accept-Encoding: identity" by itself.
        conn.putrequest(case.method, f"/c/{case.name}", skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(case.request_body or None)
        response = conn.getresponse()
        body = response.read()

        def get(name: str) -> str | None:
            value = response.getheader(name)
            # The greenhttp server core (greenhttp/_wsgi.py _send_result) adds "Content-Length: 0"
            # to a 204 itself, against RFC 9110 §8.6; this app sends none (the WebTest run checks
            # that). Reported to the server's owners; tolerated here, only for that value.
            if name == "Content-Length" and response.status == 204 and value == "0":
                return None
            return value

        check(case, response.status, get, body, response.headers.get_all("Set-Cookie") or [])
        if case.method == "HEAD" or case.status in (204, 304):
            assert body == b""
    finally:
        conn.close()


def test_rows_cover_every_node() -> None:
    visited: set[str] = set()
    for case in CASES:
        visited.update(webtest_request(case).path)
    assert set(NODES) - visited == set()
