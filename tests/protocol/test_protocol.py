"""Protocol core: bytes in, events out. No sockets here."""

import ast
import pathlib

import pytest

from greenhttp import errors, protocol as p
from greenhttp.errors import (
    BadRequest,
    BodyTooLarge,
    ExpectationFailed,
    HeadersTooLarge,
    IncompleteBody,
    LocalProtocolError,
    ResponseProtocolError,
)


def events(proto):
    out = []
    while (event := proto.next_event()) is not p.NEED_DATA:
        out.append(event)
    return out


def test_core_imports_neither_socket_nor_gevent():
    # The sans-I/O rule, checked on the source: every module of the protocol folder, and
    # the shared modules it leans on, import no I/O.
    package = pathlib.Path(p.__file__).parent
    modules = sorted(package.glob("*.py")) + [package.parent / n for n in ("body.py", "headers.py", "errors.py")]
    assert len(modules) > 4
    for path in modules:
        tree = ast.parse(path.read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
        assert not imported & {"socket", "gevent", "ssl", "select", "selectors"}, (path.name, imported)


def test_simple_get_yields_head_then_end():
    proto = p.ServerProtocol()
    proto.receive_data(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n")
    head, end = events(proto)
    assert isinstance(head, p.RequestHead)
    assert (head.method, head.target, head.http_version) == ("GET", b"/a?b=1", "1.1")
    assert head.headers == [(b"Host", b"x"), (b"X-A", b"1")]
    assert head.keep_alive and not head.has_body
    assert isinstance(end, p.EndOfMessage)


def test_head_split_across_many_feeds():
    proto = p.ServerProtocol()
    raw = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    got = []
    for i in range(len(raw)):
        proto.receive_data(raw[i:i + 1])
        got.extend(events(proto))
    assert isinstance(got[0], p.RequestHead) and got[0].target == b"/upload"
    assert b"".join(e.data for e in got if isinstance(e, p.Data)) == b"hello"
    assert isinstance(got[-1], p.EndOfMessage)


def test_pipelined_requests_come_out_in_order():
    proto = p.ServerProtocol()
    proto.receive_data(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
    kinds = [(type(e).__name__, getattr(e, "target", getattr(e, "data", None))) for e in events(proto)]
    assert kinds == [("RequestHead", b"/1"), ("EndOfMessage", None), ("RequestHead", b"/2"),
                     ("Data", b"ok"), ("EndOfMessage", None), ("RequestHead", b"/3"),
                     ("EndOfMessage", None)]


def test_chunked_body_with_trailers_is_dechunked():
    proto = p.ServerProtocol()
    proto.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n")
    got = events(proto)
    assert got[0].chunked and got[0].content_length is None
    assert b"".join(e.data for e in got if isinstance(e, p.Data)) == b"hello world"
    assert got[-1].trailers == [(b"X-Sum", b"42")]


@pytest.mark.parametrize("raw, error, status", [
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", BadRequest, 400),
    (b"GET / HTTP/1.1\r\n\r\n", BadRequest, 400),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", BadRequest, 400),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", errors.VersionNotSupported, 505),
    (b"POST / HTTP/1.1\r\nHost: a\r\nExpect: telepathy\r\n\r\n", ExpectationFailed, 417),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", errors.NotImplementedCoding, 501),
])
def test_checks_llhttp_leaves_to_us(raw, error, status):
    proto = p.ServerProtocol()
    with pytest.raises(error) as info:
        proto.receive_data(raw)
    assert info.value.status_hint == status
    with pytest.raises(error):  # the connection is done: further data re-raises
        proto.receive_data(b"GET / HTTP/1.1\r\n\r\n")


def test_limits():
    limits = p.Limits(max_request_line=10, max_header_size=40, max_header_count=2,
                      max_head_size=200, max_body_size=4)
    with pytest.raises(errors.RequestLineTooLong):
        p.ServerProtocol(limits).receive_data(b"GET /" + b"a" * 20 + b" HTTP/1.1\r\n")
    with pytest.raises(HeadersTooLarge):
        p.ServerProtocol(limits).receive_data(b"GET / HTTP/1.1\r\nX: " + b"v" * 50 + b"\r\n\r\n")
    with pytest.raises(HeadersTooLarge):
        p.ServerProtocol(limits).receive_data(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    with pytest.raises(BodyTooLarge):
        p.ServerProtocol(limits).receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
    proto = p.ServerProtocol(limits)
    with pytest.raises(BodyTooLarge):
        proto.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        proto.receive_data(b"3\r\ndef\r\n")
    # A field trickled in without ever ending is bounded by what was fed.
    proto = p.ServerProtocol(limits)
    proto.receive_data(b"GET / HTTP/1.1\r\nX: ")
    with pytest.raises(HeadersTooLarge):
        for _ in range(30):
            proto.receive_data(b"vvvvvvvvvv")


def test_expect_continue_only_for_http11_with_body():
    proto = p.ServerProtocol()
    proto.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert proto.next_event().expect_continue
    proto = p.ServerProtocol()
    proto.receive_data(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert not proto.next_event().expect_continue


def test_unhonoured_upgrade_continues_as_http():
    proto = p.ServerProtocol()
    proto.receive_data(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
                       b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
    got = events(proto)
    assert [e.target for e in got if isinstance(e, p.RequestHead)] == [b"/ws", b"/next"]
    assert got[0].upgrade is False


def test_connect_pauses_parsing_and_keeps_trailing_bytes():
    proto = p.ServerProtocol()
    proto.receive_data(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01")
    head = proto.next_event()
    assert head.method == "CONNECT" and head.upgrade and head.target == b"example.com:443"
    proto.receive_data(b"more")
    assert proto.trailing_data == b"\x16\x03\x01more"


def test_eof_inside_a_request_body_is_the_clients_fault():
    # The server side of a truncated message is a RequestError (400), never the
    # client-side IncompleteBody, which is an upstream's fault (502).
    proto = p.ServerProtocol()
    proto.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    events(proto)
    with pytest.raises(errors.RequestError) as raised:
        proto.receive_eof()
    assert not isinstance(raised.value, errors.UpstreamError) and raised.value.status_hint == 400


def _request(method="GET", version="1.1", keep_alive=True):
    return p.RequestHead(method, b"/", version, [], keep_alive, None, False, False, False, b"x")


def test_response_framing_choices():
    proto = p.ServerProtocol()
    date = "Thu, 01 Jan 2026 00:00:00 GMT"
    head, framing = proto.response_head(_request(), 200, "OK", [("Content-Length", "2")], date, "g", True)
    assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: ") and b"Server: g" in head
    assert not framing.chunked and framing.keep_alive
    head, framing = proto.response_head(_request(), 200, "OK", [], date, "g", True)
    assert b"Transfer-Encoding: chunked\r\n" in head and framing.chunked
    assert framing.frame(b"abc") == b"3\r\nabc\r\n" and framing.end() == b"0\r\n\r\n"
    head, framing = proto.response_head(_request(version="1.0"), 200, "OK", [], date, "g", True)
    assert b"Connection: close" in head and not framing.keep_alive and not framing.chunked
    head, framing = proto.response_head(_request("HEAD"), 200, "OK", [("Content-Length", "9")], date, "g", True)
    assert b"Content-Length: 9" in head and framing.frame(b"body") == b"" and framing.end() == b""
    for status in (204, 304):
        head, framing = proto.response_head(_request(), status, "X", [], date, "g", True)
        assert b"Transfer-Encoding" not in head and framing.no_body
    # The app's own framing headers are replaced, not trusted.
    head, _ = proto.response_head(_request(), 200, "OK", [("Transfer-Encoding", "gzip")], date, "g", True)
    assert b"gzip" not in head


def test_content_length_promises_are_enforced():
    proto = p.ServerProtocol()
    _, framing = proto.response_head(_request(), 200, "OK", [("Content-Length", "3")], "d", None, True)
    with pytest.raises(LocalProtocolError):
        framing.frame(b"toolong")
    _, framing = proto.response_head(_request(), 200, "OK", [("Content-Length", "3")], "d", None, True)
    framing.frame(b"a")
    with pytest.raises(LocalProtocolError):
        framing.end()
    assert not framing.keep_alive


@pytest.mark.parametrize("name, value", [("X", "a\r\nSet-Cookie: evil"), ("X", "a\nb"),
                                         ("X", "a\x00b"), ("Bad Name", "v"), ("X:Y", "v")])
def test_injection_refused(name, value):
    with pytest.raises(LocalProtocolError):
        p.validate_field(name, value)


# -- client half ------------------------------------------------------------------


def test_client_parses_response_and_skips_interim():
    proto = p.ClientProtocol()
    head, _ = proto.request_head("GET", "/", [("Host", "x")], None, False)
    assert head == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    proto.receive_data(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    got = events(proto)
    assert isinstance(got[0], p.InformationalResponse) and got[0].status == 100
    assert got[1].status == 200 and got[1].reason == "OK"
    assert got[2].data == b"ok" and isinstance(got[3], p.EndOfMessage)
    assert proto.response_complete


def test_client_head_notes_content_encoding_and_set_cookie_per_response():
    proto = p.ClientProtocol()
    proto.request_head("GET", "/", [("Host", "x")], None, False)
    proto.receive_data(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nSet-Cookie: a=1\r\n"
                       b"content-encoding: br\r\nContent-Length: 0\r\n\r\n")
    head = events(proto)[0]
    assert head.content_encoding == b"gzip, br" and head.sets_cookie  # RFC 9110 §5.3: combined
    proto.request_head("GET", "/", [("Host", "x")], None, False)
    proto.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    head = events(proto)[0]
    assert head.content_encoding is None and not head.sets_cookie  # nothing left from the last one


def test_client_head_response_has_no_body_despite_content_length():
    proto = p.ClientProtocol()
    proto.request_head("HEAD", "/", [("Host", "x")], None, False)
    proto.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    got = events(proto)
    assert got[0].content_length == 1000 and isinstance(got[1], p.EndOfMessage)


def test_client_close_delimited_and_truncated_bodies():
    proto = p.ClientProtocol()
    proto.request_head("GET", "/", [], None, False)
    proto.receive_data(b"HTTP/1.1 200 OK\r\n\r\nsome")
    proto.receive_eof()
    assert isinstance(events(proto)[-1], p.EndOfMessage)
    proto = p.ClientProtocol()
    proto.request_head("GET", "/", [], None, False)
    proto.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(IncompleteBody):
        proto.receive_eof()


def test_client_rejects_malformed_status_line():
    proto = p.ClientProtocol()
    proto.request_head("GET", "/", [], None, False)
    with pytest.raises(ResponseProtocolError):
        proto.receive_data(b"HTTP/1.1 2x0 OK\r\n\r\n")


def test_client_request_framing():
    assert b"Transfer-Encoding: chunked" in p.ClientProtocol().request_head("POST", "/", [], None, True)[0]
    assert b"Content-Length: 0" in p.ClientProtocol().request_head("POST", "/", [], 0, False)[0]
    assert b"Content-Length" not in p.ClientProtocol().request_head("GET", "/", [], 0, False)[0]
    with pytest.raises(LocalProtocolError):
        p.ClientProtocol().request_head("GET", "/", [("X", "a\r\nb")], None, False)



@pytest.mark.parametrize("status, reason, headers", [
    (200, "OK", [("X-A", "1\r\nSet-Cookie: x")]), (200, "OK", [("Bad Name", "v")]),
    (200, "OK", [(b"X-A", "1")]), (200, "OK", [("X-A", 1)]), (200, "OK", [("X-A", "\u20ac")]),
    (200, "OK\r\nX: y", []), (99, "OK", []), ("200", "OK", []),
    (200, "OK", [("Content-Length", " 5")]), (200, "OK", [("Content-Length", "5_0")]),
])
def test_response_head_is_the_validator(status, reason, headers):
    with pytest.raises(LocalProtocolError):
        p.ServerProtocol().response_head(_request(), status, reason, headers, "d", None, True)


# -- named phases -----------------------------------------------------------------


def test_server_phases_follow_the_table():
    proto = p.ServerProtocol()
    assert proto.phase == "idle"
    proto.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\n")
    assert proto.phase == "head" and proto.in_head
    proto.receive_data(b"Content-Length: 4\r\n\r\nab")
    assert proto.phase == "body"
    proto.receive_data(b"cd")
    assert proto.phase == "idle"
    proto = p.ServerProtocol()
    proto.receive_data(b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\nrest")
    assert proto.phase == "tunnel" and proto.trailing_data == b"rest"
    proto = p.ServerProtocol()
    with pytest.raises(errors.BadRequest):
        proto.receive_data(b"GET / HTTP/1.1\r\n\r\n")  # no Host
    assert proto.phase == "error"


def test_client_phases_and_one_end_for_101():
    proto = p.ClientProtocol()
    assert proto.phase == "idle"
    proto.request_head("GET", "/", [("Host", "x")], None, False)
    assert proto.phase == "await"
    proto.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert proto.phase == "await"
    proto.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: ws\r\nConnection: upgrade\r\n\r\nws")
    got = events(proto)
    assert [type(e).__name__ for e in got] == ["InformationalResponse", "ResponseHead", "EndOfMessage"]
    assert proto.phase == "done" and proto.response_complete


def test_client_bytes_after_the_response_are_not_parsed():
    proto = p.ClientProtocol()
    proto.request_head("GET", "/", [("Host", "x")], None, False)
    proto.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n")
    got = events(proto)
    assert proto.unexpected_data and isinstance(got[-1], p.EndOfMessage) and len(got) == 3


# -- conformance decisions that are not errors (docs/bad-input.md) -----------------


@pytest.mark.parametrize("host", [b"a", b"a:80", b"a:", b"127.0.0.1:8080", b"[::1]:80", b"xn--bcher-kva.example",
                                  b"a_b.c~d", b"a,b"])
def test_valid_hosts_accepted(host):
    proto = p.ServerProtocol()
    proto.receive_data(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert proto.next_event().host == host


def test_lenient_on_purpose():
    proto = p.ServerProtocol()
    proto.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t007 \r\n"
                       b"Content-Type: a\r\nContent-Type: a\r\n\r\nabcdefg")
    assert proto.next_event().content_length == 7
    proto = p.ServerProtocol()
    proto.receive_data(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"
                       b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Sum: 1\r\n\r\n")
    assert proto.next_event().target == b"*"
    got = events(proto)
    assert got[-1].trailers == [(b"X-Sum", b"1")]


@pytest.mark.parametrize("data, status", [
    (b"FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
    (b"\r\nget / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS ClientHello on the plain port
    (b"GE\tT / HTTP/1.1\r\n", 400),
    (b"X" * 9000, 400),
])
def test_method_errors(data, status):
    with pytest.raises(errors.RequestError) as caught:
        p.ServerProtocol().receive_data(data)
    assert caught.value.status_hint == status
