"""Each limit and timeout of docs/bad-input.md, with a small configured value, over real sockets.

Sizes are tested on both sides of the boundary (at the limit is served, one past it is
refused); timeouts are set to fractions of a second and checked from the client's side
(when the connection closes) and from the app's side (what it observed).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import gevent
import pytest

import greenhttp
from conftest import read_one_response

TIMEOUT = 3.0


class Recorder:
    """A WSGI app that records what it saw. `/read` reads the body, other paths leave it."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.errors: list[BaseException] = []
        self.bodies: list[bytes] = []
        self.received: list[int] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.paths.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/read":
            body = environ["greenhttp.body"]
            data = b""
            try:
                for chunk in body:
                    data += chunk
                    self.received.append(len(data))
            except BaseException as exc:
                self.errors.append(exc)
                raise
            self.bodies.append(data)
        payload = environ["PATH_INFO"].encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(payload)))])
        return [payload]


def connect(server: greenhttp.Server) -> socket.socket:
    return socket.create_connection(server.address, timeout=TIMEOUT)


def response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    status_line, headers, body = read_one_response(sock, timeout=TIMEOUT)
    return int(status_line.split()[1]), headers, body


def assert_closed(sock: socket.socket, timeout: float = TIMEOUT) -> None:
    """The server closed: recv returns b"" (nothing more is sent)."""
    sock.settimeout(timeout)
    assert sock.recv(65536) == b""


def exchange(server: greenhttp.Server, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection; the response, after checking the rules for errors."""
    with connect(server) as sock:
        sock.sendall(data)
        status, headers, body = response(sock)
        if status >= 400:
            assert headers.get("connection") == "close", headers
            assert_closed(sock)
        return status, headers, body


def get_on(sock: socket.socket, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    status, headers, body = response(sock)
    assert (status, body) == (200, path.encode())
    assert headers.get("connection") != "close"


# -- sizes -------------------------------------------------------------------------------


def test_max_request_line(serve):
    app = Recorder()
    with serve(app, max_request_line=64) as server:
        at_limit = "/" + "a" * 63
        assert exchange(server, f"GET {at_limit} HTTP/1.1\r\nHost: t\r\n\r\n".encode())[0] == 200
        over = "/" + "b" * 64
        status, _, body = exchange(server, f"GET {over} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        assert status == 414, body
    assert app.paths == [at_limit]


def test_max_header_size(serve):
    app = Recorder()
    with serve(app, max_header_size=64) as server:
        # The limit counts name plus value: "X" and 63 bytes is exactly 64.
        ok = b"GET /ok HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 63 + b"\r\n\r\n"
        assert exchange(server, ok)[0] == 200
        over = b"GET /over HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 64 + b"\r\n\r\n"
        assert exchange(server, over)[0] == 431
    assert app.paths == ["/ok"]


def test_max_header_count(serve):
    app = Recorder()
    with serve(app, max_header_count=5) as server:
        five = b"GET /ok HTTP/1.1\r\nHost: t\r\n" + b"X: y\r\n" * 4 + b"\r\n"
        assert exchange(server, five)[0] == 200
        six = b"GET /over HTTP/1.1\r\nHost: t\r\n" + b"X: y\r\n" * 5 + b"\r\n"
        assert exchange(server, six)[0] == 431
    assert app.paths == ["/ok"]


def test_max_head_size(serve):
    app = Recorder()
    with serve(app, max_head_size=256) as server:
        # Each field counts name + value + 4: Host is 9, each X-n field 77.
        field = lambda n: b"X-%d: " % n + b"a" * 70 + b"\r\n"  # noqa: E731
        three = b"GET /ok HTTP/1.1\r\nHost: t\r\n" + field(1) + field(2) + field(3) + b"\r\n"
        assert exchange(server, three)[0] == 200
        four = b"GET /over HTTP/1.1\r\nHost: t\r\n" + b"".join(field(n) for n in range(4)) + b"\r\n"
        assert exchange(server, four)[0] == 431
    assert app.paths == ["/ok"]


def test_endless_header_value_is_cut_off_by_max_head_size(serve):
    """A field that never ends is bounded by the head limit while it is still arriving."""
    with serve(Recorder(), max_head_size=1024, max_header_size=8192) as server:
        with connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX: ")
            sent = 0
            sock.settimeout(0.02)
            answer = b""
            while sent < 64 * 1024 and not answer:
                try:
                    sock.sendall(b"a" * 128)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += 128
                try:
                    answer = sock.recv(65536)
                except socket.timeout:
                    pass
            assert sent <= 3 * 1024, f"no answer after {sent} bytes of one header value"
            sock.settimeout(TIMEOUT)
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 431 "), answer
            assert b"\r\nConnection: close\r\n" in answer


def test_max_body_size_from_content_length_before_reading_the_body(serve):
    app = Recorder()
    with serve(app, max_body_size=100) as server:
        with connect(server) as sock:
            # Only the head: the 413 must come without the server waiting for the body.
            sock.sendall(b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n")
            status, headers, _ = response(sock)
            assert status == 413 and headers.get("connection") == "close"
            assert_closed(sock)
        assert app.paths == []
        at_limit = b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"z" * 100
        assert exchange(server, at_limit)[0] == 200
    assert app.bodies == [b"z" * 100]


def test_max_body_size_while_reading_a_chunked_body(serve):
    app = Recorder()
    with serve(app, max_body_size=100) as server:
        with connect(server) as sock:
            sock.sendall(b"POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"3c\r\n" + b"a" * 60 + b"\r\n")
            deadline = time.monotonic() + TIMEOUT
            while not app.received and time.monotonic() < deadline:
                gevent.sleep(0.01)
            assert app.received == [60], "the app should be reading the first 60 bytes"
            sock.sendall(b"3c\r\n" + b"a" * 60 + b"\r\n")  # now 120 > 100
            status, headers, _ = response(sock)
            assert status == 413 and headers.get("connection") == "close"
            assert_closed(sock)
        assert [type(e) for e in app.errors] == [greenhttp.BodyTooLarge]
        exact = (b"POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"32\r\n" + b"b" * 50 + b"\r\n32\r\n" + b"b" * 50 + b"\r\n0\r\n\r\n")
        assert exchange(server, exact)[0] == 200
    assert app.bodies == [b"b" * 100]


# -- timeouts ----------------------------------------------------------------------------


def test_slowloris_is_closed_after_head_timeout_while_others_are_served(serve):
    app = Recorder()
    head = b"GET /slow HTTP/1.1\r\nHost: t\r\nUser-Agent: slowloris\r\n\r\n"
    with serve(app, head_timeout=0.5) as server:
        slow = connect(server)
        result: dict[str, Any] = {}

        def trickle() -> None:
            # One byte every 50 ms: the whole head would take 2.5 s, five head timeouts.
            for i in range(len(head)):
                try:
                    slow.sendall(head[i:i + 1])
                except OSError:
                    return
                result["sent"] = i + 1
                gevent.sleep(0.05)

        def watch() -> None:
            try:
                result["data"] = slow.recv(65536)
            except ConnectionResetError:
                result["data"] = b""
            result["closed_at"] = time.monotonic()

        started = time.monotonic()
        jobs = [gevent.spawn(trickle), gevent.spawn(watch)]
        with connect(server) as other:
            latencies = []
            while "closed_at" not in result and time.monotonic() - started < 2.0:
                t0 = time.monotonic()
                get_on(other, "/other")
                latencies.append(time.monotonic() - t0)
                gevent.sleep(0.05)
        gevent.joinall(jobs, timeout=TIMEOUT)
        slow.close()
    assert "closed_at" in result, "the slow client was never disconnected"
    elapsed = result["closed_at"] - started
    assert 0.45 <= elapsed <= 1.2, f"closed after {elapsed:.2f}s with head_timeout=0.5"
    assert result["data"] == b""
    assert result["sent"] < len(head)
    assert len(latencies) >= 5 and max(latencies) < 0.2, latencies
    assert "/slow" not in app.paths


def test_keepalive_timeout_closes_an_idle_connection(serve):
    with serve(Recorder(), keepalive_timeout=0.3) as server:
        with connect(server) as sock:
            # Requests spaced closer than the timeout keep it open well past 0.3 s in total...
            for i in range(4):
                get_on(sock, f"/busy-{i}")
                gevent.sleep(0.15)
            # ...then idling ends it.
            get_on(sock, "/last")
            idle_from = time.monotonic()
            assert_closed(sock)
            idle = time.monotonic() - idle_from
    assert 0.25 <= idle <= 0.8, f"closed after {idle:.2f}s idle with keepalive_timeout=0.3"


def test_body_timeout_raises_request_timeout_in_the_app_and_answers_408(serve):
    app = Recorder()
    with serve(app, body_timeout=0.3) as server:
        with connect(server) as sock:
            sock.sendall(b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            started = time.monotonic()
            status, headers, _ = response(sock)
            waited = time.monotonic() - started
            assert status == 408 and headers.get("connection") == "close"
            assert_closed(sock)
    assert [type(e) for e in app.errors] == [greenhttp.RequestTimeout]
    assert app.received == [3]
    assert 0.25 <= waited <= 1.0, waited


# -- unread bodies -----------------------------------------------------------------------

EVIL = b"GET /evil HTTP/1.1\r\nHost: t\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n"


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n0\r\n\r\n" % (len(data), data)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_small_unread_body_is_drained_and_never_parsed_as_a_request(serve, framing):
    app = Recorder()
    body = EVIL * 4
    if framing == "chunked":
        request = b"POST /ignore HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body)
    else:
        request = b"POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    with serve(app, drain_limit=1024) as server:
        with connect(server) as sock:
            sock.sendall(request + NEXT)  # pipelined: the next request follows the body
            first = response(sock)
            second = response(sock)
            assert first[0] == 200 and first[2] == b"/ignore"
            assert first[1].get("connection") != "close"
            assert second[0] == 200 and second[2] == b"/next"
            get_on(sock, "/still-open")
    assert app.paths == ["/ignore", "/next", "/still-open"]


def test_unread_body_arriving_after_the_response_is_drained(serve):
    app = Recorder()
    with serve(app, drain_limit=1024) as server:
        with connect(server) as sock:
            sock.sendall(b"POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(EVIL))
            assert response(sock)[:1] == (200,)
            sock.sendall(EVIL + NEXT)
            status, _, body = response(sock)
            assert (status, body) == (200, b"/next")
    assert app.paths == ["/ignore", "/next"]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_unread_body_over_drain_limit_closes_the_connection(serve, framing):
    app = Recorder()
    body = EVIL * 200  # ~6 KiB
    if framing == "chunked":
        request = b"POST /ignore HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body)
    else:
        request = b"POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    with serve(app, drain_limit=1024) as server:
        with connect(server) as sock:
            sock.sendall(request + NEXT)
            status, headers, payload = response(sock)
            assert (status, payload) == (200, b"/ignore")
            if framing == "content-length":
                # The length says up front that the body cannot be drained: announce the close.
                assert headers.get("connection") == "close", headers
            assert_closed(sock)
        with connect(server) as sock:
            get_on(sock, "/after")
    assert app.paths == ["/ignore", "/after"]
