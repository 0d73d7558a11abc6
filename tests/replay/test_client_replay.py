"""Client and pool against canned bytes: a mock stream per connection, no socket.

httpcore's MockStream idea: each connection the pool opens replays a script of
reads and records what the client wrote, so malformed responses, stale keep-alive
connections and the retry rule are tested byte for byte.
"""

from __future__ import annotations

from typing import Any

import gevent
import pytest

import greenhttp
from greenhttp import (
    ConnectionLost,
    DeadlineExceeded,
    IncompleteBody,
    Pool,
    ReadTimeout,
    ResponseProtocolError,
)


class MockStream:
    """Replays ``reads`` (bytes, or an exception to raise); b"" once they run out (EOF)."""

    def __init__(self, reads: list[Any], stale: bool = False) -> None:
        self.reads = list(reads)
        self.written = bytearray()
        self.closed = False
        self.stale = stale

    def read(self, n: int, timeout: float | None) -> bytes:
        if not self.reads:
            return b""
        item = self.reads.pop(0)
        if isinstance(item, BaseException):
            raise item
        if callable(item):
            return item()
        return item

    def write(self, data: bytes, timeout: float | None) -> None:
        if self.closed:
            raise ConnectionLost("write on a closed mock stream")
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_stale(self) -> bool:
        return self.stale or self.closed


class Script:
    """A pool connector that hands out one MockStream per connection, in order."""

    def __init__(self, *streams: MockStream) -> None:
        self.streams = list(streams)
        self.opened: list[MockStream] = []

    def __call__(self, host: str, port: int, timeout: Any, tls: Any = None,
                 server_hostname: Any = None, tunnel: Any = None) -> MockStream:
        stream = self.streams.pop(0)
        self.opened.append(stream)
        return stream


def client_for(*streams: MockStream, **pool_args: Any) -> tuple[greenhttp.Client, Script, Pool]:
    script = Script(*streams)
    pool = Pool(connector=script, **pool_args)
    return greenhttp.Client(pool=pool), script, pool


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def test_request_bytes_on_the_wire_and_reuse():
    first = MockStream([OK, OK])
    client, script, pool = client_for(first)
    assert client.get("http://example.test/a?b=1").text == "hello"
    assert client.get("http://example.test/c").content == b"hello"
    assert len(script.opened) == 1
    lines = bytes(first.written).split(b"\r\n")
    assert lines[0] == b"GET /a?b=1 HTTP/1.1"
    assert b"Host: example.test" in lines
    assert bytes(first.written).count(b"GET ") == 2
    assert pool.stats()["idle"] == 1


def test_malformed_status_line_is_a_protocol_error_and_closes():
    stream = MockStream([b"HTTP/1.1 2OO OK\r\n\r\n"])
    client, _, pool = client_for(stream)
    with pytest.raises(ResponseProtocolError):
        client.get("http://example.test/")
    assert stream.closed
    assert pool.stats()["open"] == 0


def test_bad_chunk_size_is_a_protocol_error():
    stream = MockStream([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"])
    client, _, pool = client_for(stream)
    with pytest.raises(ResponseProtocolError):
        client.get("http://example.test/")
    assert pool.stats()["open"] == 0


def test_body_shorter_than_content_length_is_never_silently_truncated():
    stream = MockStream([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel"])
    client, _, pool = client_for(stream)
    with pytest.raises(IncompleteBody, match="3 of 10"):
        client.get("http://example.test/")
    assert pool.stats()["open"] == 0


def test_truncated_chunked_body_streamed():
    stream = MockStream([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\nhello\r\n"])
    client, _, pool = client_for(stream)
    response = client.get("http://example.test/", stream=True)
    assert next(iter(response.body)) == b"hello"
    with pytest.raises(IncompleteBody):
        response.body.read()
    assert pool.stats()["open"] == 0


def test_close_delimited_body_and_no_reuse():
    stream = MockStream([b"HTTP/1.1 200 OK\r\n\r\nall of ", b"it"])
    client, _, pool = client_for(stream)
    assert client.get("http://example.test/").content == b"all of it"
    assert stream.closed and pool.stats()["open"] == 0


def test_connection_close_and_http10_are_not_reused():
    for raw in (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"):
        stream = MockStream([raw])
        client, _, pool = client_for(stream)
        assert client.get("http://example.test/").content == b"ok"
        assert stream.closed and pool.stats()["open"] == 0


def test_bytes_after_a_complete_response_mean_no_reuse():
    stream = MockStream([OK + b"HTTP/1.1 200 OK\r\n\r\n", OK])
    client, script, pool = client_for(stream, MockStream([OK]))
    assert client.get("http://example.test/").content == b"hello"
    assert stream.closed and pool.stats()["open"] == 0


def test_interim_responses_are_skipped_and_trailers_kept():
    raw = (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
           b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
           b"3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n")
    client, _, _ = client_for(MockStream([raw[:40], raw[40:90], raw[90:]]))
    response = client.get("http://example.test/", stream=True)
    assert response.status == 200
    assert response.body.read() == b"abc"
    assert response.body.trailers is not None and response.body.trailers["x-sum"] == "42"


def test_head_and_204_have_no_body():
    stream = MockStream([b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
                         b"HTTP/1.1 204 No Content\r\n\r\n"])
    client, _, pool = client_for(stream)
    response = client.head("http://example.test/", stream=True)
    assert response.headers["content-length"] == "1000" and response.content == b""
    assert client.delete("http://example.test/").status == 204
    assert pool.stats() == {"open": 1, "idle": 1, "in_use": 0, "waiting": 0,
                            "hosts": {"http://example.test": {"open": 1, "idle": 1, "in_use": 0, "waiting": 0}}}


def test_stale_reused_connection_is_retried_once_for_idempotent_requests():
    # The server closed the idle connection while we sent: EOF before any response byte.
    first = MockStream([OK, b""])
    second = MockStream([OK])
    client, script, _ = client_for(first, second)
    client.get("http://example.test/")
    assert client.get("http://example.test/again").content == b"hello"
    assert len(script.opened) == 2
    assert b"GET /again" in bytes(second.written)


def test_post_is_not_retried_but_replayable_idempotency_key_is():
    client, script, _ = client_for(MockStream([OK, b""]), MockStream([OK]))
    client.get("http://example.test/")
    with pytest.raises(ConnectionLost):
        client.post("http://example.test/", body=b"data")
    assert len(script.opened) == 1  # no silent second POST

    client, script, _ = client_for(MockStream([OK, b""]), MockStream([OK]))
    client.get("http://example.test/")
    response = client.post("http://example.test/", body=b"data", headers={"Idempotency-Key": "k1"})
    assert response.status == 200 and len(script.opened) == 2
    assert bytes(script.opened[1].written).endswith(b"\r\n\r\ndata")


def test_generator_body_is_never_retried():
    client, script, _ = client_for(MockStream([OK, b""]), MockStream([OK]))
    client.get("http://example.test/")
    with pytest.raises(ConnectionLost):
        client.put("http://example.test/", body=(b"x" for _ in range(3)))
    assert len(script.opened) == 1


def test_fresh_connection_failure_is_not_retried():
    client, script, _ = client_for(MockStream([b""]), MockStream([OK]))
    with pytest.raises(ConnectionLost):
        client.get("http://example.test/")
    assert len(script.opened) == 1


def test_failure_after_response_bytes_is_not_retried():
    client, script, _ = client_for(MockStream([OK, b"HTTP/1.1 200 OK\r\nContent-Le"]), MockStream([OK]))
    client.get("http://example.test/")
    with pytest.raises(ResponseProtocolError):
        client.get("http://example.test/")
    assert len(script.opened) == 1


def test_stale_idle_connection_is_skipped_before_reuse():
    first = MockStream([OK])
    client, script, pool = client_for(first, MockStream([OK]))
    client.get("http://example.test/")
    first.stale = True
    client.get("http://example.test/")
    assert first.closed and len(script.opened) == 2 and pool.stats()["open"] == 1


def test_read_timeout_is_not_retried_and_frees_the_slot():
    client, script, pool = client_for(MockStream([OK, ReadTimeout("slow")]), MockStream([OK]))
    client.get("http://example.test/")
    with pytest.raises(ReadTimeout):
        client.get("http://example.test/")
    assert len(script.opened) == 1 and pool.stats()["open"] == 0


def test_deadline_exceeded_while_the_body_trickles():
    def slow() -> bytes:
        gevent.sleep(0.05)
        return b"x"

    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    client, _, pool = client_for(MockStream([head] + [slow] * 100))
    with pytest.raises(DeadlineExceeded):
        client.get("http://example.test/", timeout=greenhttp.Timeout(5, total=0.3))
    assert pool.stats()["open"] == 0


def test_chunked_request_framing_for_unknown_length():
    stream = MockStream([OK])
    client, _, _ = client_for(stream)
    client.post("http://example.test/", body=iter([b"ab", b"", b"cde"]))
    written = bytes(stream.written)
    assert b"Transfer-Encoding: chunked\r\n" in written
    assert written.endswith(b"\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n")


def test_body_shorter_than_declared_length_is_refused():
    stream = MockStream([OK])
    client, _, pool = client_for(stream)
    with pytest.raises(greenhttp.LocalProtocolError, match="shorter"):
        client.post("http://example.test/", body=iter([b"ab"]), headers={"Content-Length": "5"})
    assert stream.closed and pool.stats()["open"] == 0


def test_header_injection_is_refused():
    client, _, pool = client_for(MockStream([OK]))
    with pytest.raises(greenhttp.LocalProtocolError):
        client.get("http://example.test/", headers={"X-A": "b\r\nX-Injected: 1"})
    assert pool.stats()["open"] == 0


def test_expect_continue_final_answer_skips_the_body():
    stream = MockStream([b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\n\r\nbig"])
    client, _, pool = client_for(stream)
    response = client.put("http://example.test/", body=b"x" * 100, expect_continue=True)
    assert response.status == 413 and response.content == b"big"
    written = bytes(stream.written)
    assert b"Expect: 100-continue" in written and written.endswith(b"\r\n\r\n")
    assert stream.closed and pool.stats()["open"] == 0


def test_expect_continue_sends_after_100():
    stream = MockStream([b"HTTP/1.1 100 Continue\r\n\r\n", OK])
    client, _, _ = client_for(stream)
    assert client.put("http://example.test/", body=b"x" * 100, expect_continue=True).status == 200
    assert bytes(stream.written).endswith(b"\r\n\r\n" + b"x" * 100)


def test_redirect_rules_on_the_wire():
    moved = b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
    a = MockStream([moved % (307, b"/b"), moved % (303, b"http://other.test/c")])
    b = MockStream([OK])
    client, script, _ = client_for(a, b)
    response = client.post("http://example.test/a", body=b"payload", auth=("u", "p"),
                           headers={"Cookie": "c=1"})
    assert response.status == 200 and [r.status for r in response.history] == [307, 303]
    first_host = bytes(a.written)
    assert first_host.count(b"POST ") == 2 and first_host.count(b"payload") == 2  # 307 keeps both
    assert first_host.count(b"Authorization: Basic") == 2
    other = bytes(b.written)
    assert other.startswith(b"GET /c HTTP/1.1")  # 303: GET, no body
    assert b"Authorization" not in other and b"Cookie" not in other and b"payload" not in other


def test_unreplayable_body_stops_at_307():
    moved = b"HTTP/1.1 307 Moved\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"
    client, script, _ = client_for(MockStream([moved]))
    response = client.post("http://example.test/a", body=(b"x" for _ in range(2)))
    assert response.status == 307 and len(script.opened) == 1


def test_too_many_redirects():
    loop = b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"
    client, _, pool = client_for(MockStream([loop] * 10))
    with pytest.raises(greenhttp.TooManyRedirects):
        client.get("http://example.test/", max_redirects=3)
    assert pool.stats()["in_use"] == 0


def test_decode_errors():
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{x]"
    client, _, _ = client_for(MockStream([raw, raw]))
    with pytest.raises(greenhttp.DecodeError):
        client.get("http://example.test/").json()
    with pytest.raises(greenhttp.DecodeError):
        client.get("http://example.test/").msgpack()


def test_invalid_urls():
    client, _, _ = client_for()
    for url in ("ftp://x/", "http:///nohost", "http://x:99999/", "nonsense"):
        with pytest.raises(greenhttp.InvalidURL):
            client.get(url)
