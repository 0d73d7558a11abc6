"""The server over real loopback sockets: connections, Body, responses, streaming, errors."""

import logging
import socket
import time

import gevent
import gevent.event
import pytest

import greenhttp
from conftest import raw_exchange, read_one_response, read_response


def hello(environ, start_response):
    body = b"hello " + environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def connect(server):
    return socket.create_connection(server.address, timeout=5)


# -- connections -------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(serve):
    with serve(hello) as server, connect(server) as sock:
        for i in range(5):
            sock.sendall(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            status, headers, body = read_one_response(sock)
            assert status == b"HTTP/1.1 200 OK" and body == b"hello /%d" % i
            assert headers["content-length"] == str(len(body))
            assert "connection" not in headers
        assert server.stats()["connections"] == 1


def test_http10_closes_unless_keep_alive_requested(serve):
    with serve(hello) as server:
        raw = raw_exchange(server.address, b"GET /a HTTP/1.0\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in raw
        assert raw.endswith(b"hello /a")
        with connect(server) as sock:
            for _ in range(2):
                sock.sendall(b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                status, headers, body = read_one_response(sock)
                assert headers["connection"] == "keep-alive" and body == b"hello /k"


def test_connection_close_from_client_is_honoured(serve):
    with serve(hello) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"Connection: close" in raw and raw.endswith(b"hello /")


def test_pipelined_requests_answered_in_order_with_bodies(serve):
    def app(environ, start_response):
        data = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode() + b":" + data]

    with serve(app) as server, connect(server) as sock:
        sock.sendall(b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                     b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
                     b"GET /4 HTTP/1.1\r\nHost: x\r\n")
        bodies = [read_one_response(sock)[2] for _ in range(3)]
        assert bodies == [b"/1:abc", b"/2:", b"/3:xy"]
        sock.sendall(b"\r\n")  # the rest of request 4 arrives later: it was kept, not lost
        assert read_one_response(sock)[2] == b"/4:"


def test_small_keep_alive_requests_are_not_held_by_nagle(serve):
    # gevent.pywsgi sends head and body separately and manages ~25 req/s on one
    # connection (Nagle + delayed ACK). One send per response avoids the stall.
    with serve(hello) as server, connect(server) as sock:
        started = time.monotonic()
        for _ in range(200):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            read_one_response(sock)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"200 keep-alive requests took {elapsed:.2f}s"


def test_server_header_and_date(serve):
    with serve(hello) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"\r\nServer: greenhttp\r\n" in raw
    date = raw.split(b"\r\nDate: ")[1].split(b"\r\n")[0].decode()
    assert time.strptime(date, "%a, %d %b %Y %H:%M:%S GMT")


# -- the request Body -------------------------------------------------------------


def test_app_runs_before_body_arrives_and_sees_chunks_as_they_come(serve):
    seen = []
    first_chunk = gevent.event.Event()

    def app(environ, start_response):
        body = environ["greenhttp.body"]
        seen.append(("called", body.received, body.complete))
        for chunk in body:
            seen.append(("chunk", chunk))
            first_chunk.set()
        seen.append(("done", body.received, body.complete, body.length))
        start_response("200 OK", [])
        return [b"%d" % body.received]

    with serve(app) as server, connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        sock.sendall(b"01234")
        assert first_chunk.wait(2), "app did not see the first chunk before the rest was sent"
        assert seen[0] == ("called", 0, False)
        assert seen[1] == ("chunk", b"01234")
        gevent.sleep(0.05)
        sock.sendall(b"56789")
        assert read_one_response(sock)[2] == b"10"
    assert seen[-1] == ("done", 10, True, 10)


def test_body_file_api_and_trailers(serve):
    result = {}

    def app(environ, start_response):
        body = environ["greenhttp.body"]
        result["length"] = body.length
        result["first"] = body.read(3)
        result["line"] = body.readline()
        result["lines"] = body.readlines()
        result["rest"] = body.read()
        result["complete"] = body.complete
        result["trailers"] = body.trailers.get("X-Checksum") if body.trailers else None
        start_response("204 No Content", [])
        return []

    with serve(app) as server, connect(server) as sock:
        sock.sendall(b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"4\r\nabcd\r\n7\r\nef\nghi\n\r\n3\r\njk\n\r\n0\r\nX-Checksum: 99\r\n\r\n")
        status, headers, body = read_one_response(sock)
        assert status == b"HTTP/1.1 204 No Content" and body == b""
    assert result == {"length": None, "first": b"abc", "line": b"def\n",
                      "lines": [b"ghi\n", b"jk\n"], "rest": b"", "complete": True,
                      "trailers": "99"}


def test_slow_reader_applies_backpressure_instead_of_buffering(serve):
    # The server must stop reading the socket while the app is not reading: the
    # client's sendall blocks once kernel buffers fill, long before 256 MiB.
    release = gevent.event.Event()
    state = {}

    def app(environ, start_response):
        body = environ["greenhttp.body"]
        body.read(1)
        release.wait(10)
        state["received_while_paused"] = body.received
        total = 1 + len(body.read())
        start_response("200 OK", [])
        return [b"%d" % total]

    size = 256 * 1024 * 1024
    sent = [0]

    def upload(sock):
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        block = b"x" * 65536
        while sent[0] < size:
            sock.sendall(block)
            sent[0] += len(block)

    with serve(app) as server, connect(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        uploader = gevent.spawn(upload, sock)
        gevent.sleep(0.5)
        stalled_at = sent[0]
        assert stalled_at < 32 * 1024 * 1024, f"client pushed {stalled_at} bytes into a paused app"
        release.set()
        uploader.join(30)
        assert read_one_response(sock, timeout=30)[2] == b"%d" % size
    assert state["received_while_paused"] <= 65536


def test_expect_100_continue_sent_once_when_app_reads(serve):
    def app(environ, start_response):
        data = environ["wsgi.input"].read()
        data += environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [data]

    with serve(app) as server, connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        sock.settimeout(2)
        interim = sock.recv(100)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"data")
        status, _, body = read_one_response(sock)
        assert status == b"HTTP/1.1 200 OK" and body == b"data"


def test_no_100_continue_when_app_answers_without_reading(serve):
    def app(environ, start_response):
        start_response("413 Content Too Large", [("Content-Type", "text/plain")])
        return [b"too big for me"]

    with serve(app) as server:
        raw = raw_exchange(server.address, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                                           b"Expect: 100-continue\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 413") and b"100 Continue" not in raw
    assert b"Connection: close" in raw  # the body never came: the stream cannot be reused


def test_no_100_continue_to_http10(serve):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [environ["wsgi.input"].read()]

    with serve(app) as server:
        raw = raw_exchange(server.address, b"POST / HTTP/1.0\r\nContent-Length: 2\r\n"
                                           b"Expect: 100-continue\r\n\r\nhi")
    assert b"100 Continue" not in raw and raw.endswith(b"hi")


def test_client_disconnect_mid_body_raises_in_app_and_server_keeps_serving(serve, caplog):
    outcome = gevent.event.AsyncResult()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/upload":
            try:
                environ["greenhttp.body"].read()
            except greenhttp.ClientDisconnected as exc:
                outcome.set(exc)
                raise
        start_response("200 OK", [])
        return [b"ok"]

    with caplog.at_level(logging.INFO, logger="greenhttp.error"), serve(app) as server:
        sock = connect(server)
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial")
        gevent.sleep(0.1)
        sock.close()
        assert isinstance(outcome.get(timeout=3), greenhttp.ClientDisconnected)
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert raw.endswith(b"ok")
    lines = [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]


# -- responses ----------------------------------------------------------------------


def test_generator_body_is_chunked_and_each_chunk_flushed(serve):
    go_on = gevent.event.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def generate():
            yield b"first"
            go_on.wait(5)
            yield b"second"
        return generate()

    with serve(app) as server, connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(2)
        got = b""
        while b"first" not in got:
            got += sock.recv(4096)
        assert b"Transfer-Encoding: chunked" in got and b"5\r\nfirst\r\n" in got
        assert b"second" not in got
        go_on.set()
        while not got.endswith(b"0\r\n\r\n"):
            got += sock.recv(4096)
        assert b"6\r\nsecond\r\n0\r\n\r\n" in got


def test_unknown_length_on_http10_is_close_delimited(serve):
    def app(environ, start_response):
        start_response("200 OK", [])
        return (part for part in [b"a", b"b", b"c"])

    with serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.0\r\n\r\n")
    assert b"Transfer-Encoding" not in raw and b"Connection: close" in raw and raw.endswith(b"\r\n\r\nabc")


def test_head_keeps_content_length_without_body(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "11")])
        return [b"hello world"]

    with serve(app) as server, connect(server) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = b""
        sock.settimeout(2)
        while raw.count(b"HTTP/1.1 200") < 2 or not raw.endswith(b"hello world"):
            raw += sock.recv(4096)
    first, second = raw.split(b"HTTP/1.1 200 OK")[1:]
    assert b"Content-Length: 11" in first and first.endswith(b"\r\n\r\n")
    assert second.endswith(b"\r\n\r\nhello world")


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_bodiless_statuses(serve, status):
    def app(environ, start_response):
        start_response(status, [])
        return [b"ignored"]

    with serve(app) as server, connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = read_response(sock)
    assert raw.count(b"HTTP/1.1 " + status[:3].encode()) == 2
    assert b"ignored" not in raw and b"Transfer-Encoding" not in raw


def test_write_callable(serve):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"from write, ")
        return [b"then iterable"]

    with serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"from write, " in raw and b"then iterable" in raw


def test_stream_fed_by_another_greenlet(serve):
    streams = []

    def app(environ, start_response):
        stream = greenhttp.Stream()
        streams.append(stream)

        def feed():
            for i in range(3):
                stream.send(f"tick {i}\n")
                gevent.sleep(0.01)
            stream.close()
        gevent.spawn(feed)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream

    with serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"7\r\ntick 0\n\r\n" in raw and raw.endswith(b"0\r\n\r\n")


def test_stream_producer_learns_client_left(serve):
    stream = greenhttp.Stream(maxsize=2)
    outcome = gevent.event.AsyncResult()

    def app(environ, start_response):
        def produce():
            try:
                while True:
                    stream.send(b"x" * 1024)
                    gevent.sleep(0.001)
            except greenhttp.StreamClosed as exc:
                outcome.set(exc)
        gevent.spawn(produce)
        start_response("200 OK", [])
        return stream

    with serve(app) as server:
        sock = connect(server)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(100)
        sock.close()
        assert isinstance(outcome.get(timeout=5), greenhttp.StreamClosed)


@pytest.mark.parametrize("status, headers", [
    ("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")]),
    ("200 OK", [("X-Evil", "a\nSet-Cookie: pwned=1")]),
    ("200 OK", [("X-Evil", "a\x00b")]),
    ("200 OK\r\nSet-Cookie: pwned=1", []),
    ("200 OK", [("Bad:Name", "v")]),
])
def test_header_injection_refused_with_500(serve, status, headers, caplog):
    def app(environ, start_response):
        start_response(status, headers)
        return [b"body"]

    with caplog.at_level(logging.ERROR, logger="greenhttp.error"), serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 500 ")
    assert b"pwned" not in raw and b"X-Evil" not in raw and b"body" not in raw


def test_app_exception_gives_500_and_logged_traceback(serve, caplog):
    def app(environ, start_response):
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR, logger="greenhttp.error"), serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 500 Internal Server Error")
        assert b"secret" not in raw and b"Traceback" not in raw
        assert raw_exchange(server.address, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 500")
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)


def test_exception_in_generator_before_first_chunk_is_still_a_500(serve):
    def app(environ, start_response):
        start_response("200 OK", [])

        def generate():
            raise ValueError("boom")
            yield b""
        return generate()

    with serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 500")


def test_exception_after_response_started_closes_connection(serve):
    closed = []

    class Body:
        def __iter__(self):
            yield b"partial"
            raise ValueError("mid-stream")

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    with serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200") and b"7\r\npartial\r\n" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # no terminating chunk: the client sees a cut body
    assert closed == [True]


def test_content_length_mismatch_closes_connection(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "100")])
        return iter([b"short"])

    with serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.endswith(b"short")  # and then the server closed instead of waiting


# -- lifecycle --------------------------------------------------------------------------


def slow_app():
    """Answers the path; ``/slow`` sets ``app.started`` and then takes 0.3 s."""
    started = gevent.event.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            started.set()
            gevent.sleep(0.3)
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    app.started = started
    return app


def test_graceful_stop_finishes_in_flight_and_closes_idle(serve):
    app = slow_app()
    started = app.started
    server = greenhttp.Server(app, port=0, access_log=False).start()
    idle = connect(server)
    idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    read_one_response(idle)
    busy = connect(server)
    busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    started.wait(2)
    stopper = gevent.spawn(server.stop, 5)
    assert read_one_response(busy)[2] == b"/slow"
    assert read_response(idle, timeout=2) == b""  # idle keep-alive connection was closed
    stopper.join(5)
    assert stopper.successful() and not server.connections
    with pytest.raises(OSError):
        socket.create_connection(server.address, timeout=1)


def test_stop_answers_a_request_sent_behind_a_response_already_in_flight(serve):
    """The head went out keep-alive before the stop: the request right behind it is
    answered, with Connection: close, instead of meeting EOF."""
    release = gevent.event.Event()

    def app(environ, start_response):
        start_response("200 OK", [])
        if environ["PATH_INFO"] == "/stream":
            yield b"a"
            release.wait(5)
        yield environ["PATH_INFO"].encode()

    server = greenhttp.Server(app, port=0, access_log=False).start()
    with connect(server) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")  # head and b"a" are out
        stopper = gevent.spawn(server.stop, 5)
        gevent.sleep(0.1)  # the stop has begun
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        gevent.sleep(0.1)
        release.set()
        rest = read_response(sock, timeout=3)
    stopper.join(5)
    assert rest.startswith(b"1\r\na\r\n5\r\n/stream\r\n0\r\n\r\n") or b"/stream" in rest, rest
    second = rest[rest.index(b"HTTP/1.1 "):]
    assert second.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close\r\n" in second
    assert second.endswith(b"5\r\n/next\r\n0\r\n\r\n")
    assert stopper.successful() and not server.connections


def test_stop_answers_pipelined_requests_already_received_and_the_last_says_close(serve):
    app = slow_app()
    started = app.started
    server = greenhttp.Server(app, port=0, access_log=False).start()
    with connect(server) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        started.wait(2)
        stopper = gevent.spawn(server.stop, 5)
        first = read_one_response(sock)
        second = read_one_response(sock)
        assert read_response(sock, timeout=2) == b""
    stopper.join(5)
    assert first[2] == b"/slow" and first[1].get("connection") != "close"
    assert second[2] == b"/next" and second[1].get("connection") == "close"


def test_stop_answers_an_idle_connections_request_already_waiting(serve):
    server = greenhttp.Server(hello, port=0, access_log=False).start()
    with connect(server) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        read_one_response(sock)  # now an idle keep-alive connection
        sock.sendall(b"GET /waiting HTTP/1.1\r\nHost: x\r\n\r\n")
        # No yield since the send: the connection's greenlet has not read the request yet.
        server.stop(timeout=5)
        status, headers, body = read_one_response(sock)
        assert read_response(sock, timeout=2) == b""
    assert status == b"HTTP/1.1 200 OK" and body == b"hello /waiting"
    assert headers.get("connection") == "close"


def test_stop_answers_the_first_request_of_a_connection_accepted_just_before(serve):
    # A client that connected before the listener closed and sends its request a moment
    # later (a worker being reloaded under load sees this every time) gets an answer,
    # not EOF; then the connection closes.
    server = greenhttp.Server(hello, port=0, access_log=False).start()
    with connect(server) as sock:
        while not server.connections:
            gevent.sleep(0.01)
        stopper = gevent.spawn(server.stop, 5)
        gevent.sleep(0.2)  # the stop is under way, the connection still silent
        sock.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_one_response(sock)
        assert read_response(sock, timeout=2) == b""
        stopper.join(timeout=5)
    assert status == b"HTTP/1.1 200 OK" and body == b"hello /late"
    assert headers.get("connection") == "close"


def test_stop_still_closes_idle_connections_with_nothing_waiting_at_once(serve):
    server = greenhttp.Server(hello, port=0, access_log=False).start()
    with connect(server) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT")  # half a head: abandoned
        read_one_response(sock)
        gevent.sleep(0.05)
        started = time.monotonic()
        server.stop(timeout=5)
        assert time.monotonic() - started < 1.0
        assert read_response(sock, timeout=2) == b""


# -- regressions: pipelining order, deferred errors, held output, slow readers -----------


def test_pipelined_error_response_keeps_request_order(serve):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        start_response("200 OK", [])
        return [b"fine"]

    with serve(app) as server:
        raw = raw_exchange(server.address, b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                           b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK") and raw.index(b"fine") < raw.index(b"HTTP/1.1 500")


def test_malformed_request_behind_a_good_one_does_not_lose_it(serve):
    with serve(hello) as server:
        raw = raw_exchange(server.address, b"GET /good HTTP/1.1\r\nHost: x\r\n\r\n"
                                           b"GET /bad HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK") and b"hello /good" in raw
    assert raw.index(b"hello /good") < raw.index(b"HTTP/1.1 400")


def test_malformed_next_request_in_same_read_as_body_end(serve):
    bodies = []

    def app(environ, start_response):
        bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"read it"]

    with serve(app) as server:
        raw = raw_exchange(server.address, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                                           b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n")
    assert bodies == [b"abc"]
    assert raw.startswith(b"HTTP/1.1 200 OK") and b"HTTP/1.1 400" in raw


def test_held_pipelined_response_is_not_delayed_by_a_slow_next_app(serve):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            gevent.sleep(1.0)
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    with serve(app) as server, connect(server) as sock:
        sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        assert read_one_response(sock)[2] == b"/fast"
        assert time.monotonic() - started < 0.5
        assert read_one_response(sock)[2] == b"/slow"


def test_body_timeout_bounds_stalls_not_slow_steady_readers(serve):
    payload = b"p" * (6 * 1024 * 1024)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(len(payload)))])
        return [payload]

    with serve(app, body_timeout=0.5) as server, connect(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = 0
        started = time.monotonic()
        while True:
            data = sock.recv(256 * 1024)
            if not data:
                break
            got += len(data)
            gevent.sleep(0.02)  # steady but slow: the whole transfer outlasts body_timeout
        assert got > len(payload)  # head + every body byte
        assert time.monotonic() - started > 0.5


def test_aborted_stream_closes_connection_with_one_log_line(serve, caplog):
    def app(environ, start_response):
        stream = greenhttp.Stream()

        def produce():
            stream.send(b"first")
            gevent.sleep(0.05)
            stream.abort(greenhttp.StreamClosed("slow consumer cut off"))
        gevent.spawn(produce)
        start_response("200 OK", [])
        return stream

    with caplog.at_level(logging.INFO, logger="greenhttp.error"), serve(app) as server:
        raw = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"5\r\nfirst\r\n" in raw and not raw.endswith(b"0\r\n\r\n")
    records = [r for r in caplog.records if "slow consumer" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is None


# -- the access log: exactly one line per response the server sends -----------------------


def access_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "greenhttp.access"]


def body_length(reply: bytes) -> int:
    head, _, body = reply.partition(b"\r\n\r\n")
    assert f"content-length: {len(body)}".encode() in head.lower(), reply
    return len(body)


@pytest.mark.parametrize("request_bytes, logged", [
    (b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", '"GET /x HTTP/1.1" 200 '),
    (b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n", '"GET /x HTTP/1.1" 400 '),  # no Host
    (b"GET /x HTTP/2.0\r\nHost: t\r\n\r\n", '"GET /x HTTP/2.0" 505 '),
    (b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 99\r\n\r\n", '"POST /up HTTP/1.1" 413 '),
    (b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     '"POST /up HTTP/1.1" 501 '),
    (b"GET /x HTTP/1.1\r\nHost: t\r\n" + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n",
     '"GET /x HTTP/1.1" 431 '),
    (b"\x16\x03\x01 not http at all\r\n\r\n", '"-" 400 '),  # TLS to a plain port: no method token, 400
    (b"GET /x HTTP/1.1 extra\r\nHost: t\r\n\r\n", '"-" 400 '),
])
def test_every_response_and_rejection_gets_one_access_line_with_its_body_bytes(
        serve, caplog, request_bytes, logged):
    caplog.set_level(logging.INFO, logger="greenhttp.access")
    with serve(hello, access_log=True, max_body_size=10, max_header_size=8192) as server:
        reply = raw_exchange(server.address, request_bytes)
    lines = access_lines(caplog)
    assert len(lines) == 1, lines
    assert f"{logged}{body_length(reply)} " in lines[0], (lines[0], reply[:200])


def test_servers_own_500_is_logged_with_the_bytes_it_sent(serve, caplog):
    def app(environ, start_response):
        raise RuntimeError("boom")

    caplog.set_level(logging.INFO, logger="greenhttp.access")
    with serve(app, access_log=True) as server:
        reply = raw_exchange(server.address, b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 500 ")
    lines = access_lines(caplog)
    assert len(lines) == 1 and f'"GET /boom HTTP/1.1" 500 {body_length(reply)} ' in lines[0], lines


def test_stalled_body_408_and_a_pipelined_rejection_each_get_one_line(serve, caplog):
    caplog.set_level(logging.INFO, logger="greenhttp.access")
    with serve(echo_body_app, access_log=True, body_timeout=0.3) as server:
        reply = raw_exchange(server.address,
                             b"POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        pipelined = raw_exchange(server.address, b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
                                                 b"GET /b HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert pipelined.count(b"HTTP/1.1 200 OK") == 1 and b"HTTP/1.1 400 " in pipelined
    lines = access_lines(caplog)
    assert len(lines) == 3, lines
    assert f'"POST /slow HTTP/1.1" 408 {body_length(reply)} ' in lines[0]
    assert '"GET /a HTTP/1.1" 200 ' in lines[1]
    rejected = pipelined[pipelined.index(b"HTTP/1.1 400 "):]
    assert f'"-" 400 {body_length(rejected)} ' in lines[2]  # its head is in a chunk after /a


def echo_body_app(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


# -- CONNECT ---------------------------------------------------------------------------

CONNECT = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"


def test_connect_to_a_plain_app_is_405_with_allow_and_the_app_never_runs(serve, caplog):
    calls = []

    def app(environ, start_response):
        calls.append(environ["REQUEST_METHOD"])
        return hello(environ, start_response)

    caplog.set_level(logging.INFO, logger="greenhttp.access")
    with serve(app, access_log=True) as server:
        reply = raw_exchange(server.address, CONNECT + b"\x16\x03\x01tls bytes")
    head = reply.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"\r\nAllow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n" in head + b"\r\n"
    assert b"\r\nConnection: close\r\n" in head and calls == []
    assert [f'"CONNECT example.com:443 HTTP/1.1" 405 {body_length(reply)} ' in line
            for line in access_lines(caplog)] == [True]


def test_connect_reaches_an_app_that_opts_in(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "7")])
        return [environ["REQUEST_METHOD"].encode()]

    app.greenhttp_connect = True
    with serve(app) as server:
        reply = raw_exchange(server.address, CONNECT)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"\r\n\r\nCONNECT")
