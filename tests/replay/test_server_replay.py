"""The server's connection loop against scripted bytes: no socket, no listener.

The real HTTPConnection and WSGI adapter run over greenhttp.server.testing.FakeSocket
(uvicorn's mock-transport idea), so each test is "these request bytes, these
response bytes", in milliseconds.
"""

from __future__ import annotations

import re
import socket

from greenhttp.server.testing import FakeSocket, connection, replay

GET = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"


def strip_date(data: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]*\r\n", b"", data)


def hello(environ, start_response):
    body = b"hello " + environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def ok(path: bytes, close: bool = False) -> bytes:
    body = b"hello /" + path
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Server: greenhttp\r\n%s\r\n%s" % (len(body), b"Connection: close\r\n" if close else b"", body))


def test_keep_alive_serves_requests_sent_one_after_another():
    out = replay(hello, GET % b"a", GET % b"b")
    assert strip_date(out) == ok(b"a") + ok(b"b")


def test_pipelined_requests_are_answered_in_order_in_one_send():
    sock = FakeSocket([GET % b"1" + GET % b"2" + GET % b"3"])
    connection(hello, sock).run()
    assert strip_date(sock.sent) == ok(b"1") + ok(b"2") + ok(b"3")
    assert len(sock.sends) == 1  # held back while more requests were parsed
    assert sock.closed


def test_connection_close_request_is_answered_with_close_and_nothing_more_is_read():
    out = replay(hello, b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + GET % b"b")
    assert strip_date(out) == ok(b"a", close=True)


def test_expect_100_continue_is_sent_when_the_app_reads_the_body():
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    out = replay(echo, head, b"hello")
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert out.endswith(b"\r\n\r\nhello")


def test_expect_100_continue_unread_body_gets_no_continue_and_a_close():
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    out = replay(hello, head, b"hello" + GET % b"next")
    assert b"100 Continue" not in out
    assert out.count(b"HTTP/1.1 ") == 1 and b"Connection: close\r\n" in out


def test_chunked_request_body_with_trailers():
    seen = {}

    def app(environ, start_response):
        body = environ["greenhttp.body"]
        seen["data"] = body.read()
        seen["trailers"] = dict(body.trailers or {})
        start_response("204 No Content", [])
        return []

    out = replay(app, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n", b"6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n")
    assert seen["data"] == b"hello world"
    assert {k.lower(): v for k, v in seen["trailers"].items()} == {"x-sum": "1"}
    assert out.startswith(b"HTTP/1.1 204 No Content\r\n")


def test_streamed_response_is_chunked():
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"ab"
        yield b""
        yield b"cde"

    out = replay(app, GET % b"")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"


def test_http_10_response_is_not_chunked_and_closes():
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"abc"

    out = replay(app, b"GET / HTTP/1.0\r\n\r\n" + GET % b"never")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"chunked" not in head and b"Connection: close" in head and body == b"abc"


def test_head_keeps_content_length_and_sends_no_body():
    out = replay(hello, b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", GET % b"y")
    first, second = strip_date(out).split(b"HTTP/1.1 200 OK", 2)[1:]
    assert first.endswith(b"Content-Length: 8\r\nServer: greenhttp\r\n\r\n")
    assert second.endswith(b"hello /y")


def test_app_exception_is_a_500_and_close():
    def app(environ, start_response):
        raise RuntimeError("boom")

    out = replay(app, GET % b"" + GET % b"never")
    assert out.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"Connection: close\r\n" in out and out.count(b"HTTP/1.1") == 1
    assert b"boom" not in out


def test_bad_request_is_answered_with_its_status_and_close():
    out = replay(hello, b"GET / HTTP/1.1\r\n\r\n")  # no Host: RFC 9112 §3.2
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close\r\n" in out


def test_good_request_before_a_bad_one_is_still_served():
    out = replay(hello, GET % b"ok" + b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")
    assert strip_date(out).startswith(ok(b"ok"))
    assert b"HTTP/1.1 505 HTTP Version Not Supported\r\n" in out


def test_body_over_the_limit_is_413_before_the_app_runs():
    called = []
    out = replay(lambda e, s: called.append(1) or [],
                 b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", max_body_size=10)
    assert out.startswith(b"HTTP/1.1 413 ") and not called


def test_stalled_body_is_408():
    out = replay(echo, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
                 socket.timeout("timed out"))
    assert out.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"Connection: close" in out


def test_client_gone_mid_body_gets_no_response():
    out = replay(echo, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    assert out == b""


def test_small_unread_body_is_drained_and_not_parsed_as_a_request():
    out = replay(hello, b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n\r\n",
                 b"GET /evil HTTP/1.1", GET % b"b")
    assert strip_date(out) == ok(b"a") + ok(b"b")


def test_file_wrapper_without_a_kernel_socket_reads_and_sends(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789")

    def app(environ, start_response):
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](open(path, "rb"))

    out = replay(app, GET % b"")
    assert b"Content-Length: 10\r\n" in out and out.endswith(b"\r\n\r\n0123456789")


def test_phases_follow_the_documented_transitions():
    from greenhttp import Server
    from greenhttp.server.phase import Phase

    seen = []

    def handler(conn, request, body):  # the connection API under the WSGI adapter
        seen.append(conn.phase)
        conn.start_response(200, "OK", [])
        seen.append(conn.phase)
        conn.write(b"x")
        seen.append(conn.phase)
        conn.finish()
        return True

    sock = FakeSocket([GET % b"a", GET % b"b"])
    conn = connection(hello, sock, Server(hello, handler=handler, access_log=False))
    assert conn.phase is Phase.IDLE and conn.idle
    conn.run()
    assert seen == [Phase.APP, Phase.HEAD_HELD, Phase.SENT] * 2
    assert conn.phase is Phase.IDLE  # the client closed between requests
    assert sock.sent.count(b"HTTP/1.1 200 OK") == 2
