"""greenhttp.progress: the store, the ID rules, the endpoint, and the middleware's states,
live counts over real sockets (paced uploads), and other WSGI servers via WebTest."""

from __future__ import annotations

import hashlib
import json
import socket
import time

import gevent
import msgpack
import pytest
import webtest

import greenhttp
from greenhttp.progress import MemoryStore, Progress, ProgressMiddleware, progress_app, upload_id

from conftest import read_one_response


def consume(environ, start_response):
    """Reads the whole body through wsgi.input, answers its size."""
    size = len(environ["wsgi.input"].read())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(size).encode()]


def poll(url: str, ident: str, **headers) -> tuple[int, dict]:
    response = greenhttp.get(f"{url}/progress", params={"X-Progress-ID": ident}, headers=headers)
    if response.headers.get("content-type") == "application/msgpack":
        return response.status, response.msgpack()
    return response.status, response.json()


def send_head(sock: socket.socket, ident: str, length: int | None, path: str = "/upload") -> None:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    sock.sendall(f"POST {path}?X-Progress-ID={ident} HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n".encode())


# -- the store -----------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_store_expires_finished_records_after_ttl_and_in_flight_ones_when_stale():
    clock = Clock()
    store = MemoryStore(ttl=60, stale_ttl=600, clock=clock)
    store.put(Progress("done", state="done", updated=clock.now))
    store.put(Progress("busy", state="uploading", updated=clock.now))
    clock.now += 59
    assert store.get("done") is not None and store.get("busy") is not None
    clock.now += 2
    assert store.get("done") is None
    assert store.get("busy") is not None
    clock.now += 600
    assert store.get("busy") is None
    assert len(store) == 0


def test_memory_store_is_bounded_and_evicts_the_least_recently_updated():
    store = MemoryStore(max_entries=3)
    for name in "abcd":
        store.put(Progress(name))
    assert len(store) == 3 and store.get("a") is None
    store.put(Progress("b", received=5))  # an update moves it to the fresh end
    store.put(Progress("e"))
    assert store.get("c") is None and store.get("b").received == 5


def test_memory_store_sweeps_expired_records_as_it_writes():
    clock = Clock()
    store = MemoryStore(ttl=1, clock=clock)
    for i in range(3):
        store.put(Progress(f"old{i}", state="done", updated=clock.now))
    clock.now += 5
    store.put(Progress("new", updated=clock.now))
    assert len(store) == 1


def test_progress_round_trips_through_a_dict_for_shared_stores():
    record = Progress("x", state="uploading", received=10, total=100, rate=5.0, status=None)
    assert Progress.from_dict(msgpack.unpackb(msgpack.packb(record.to_dict()))) == record


def test_rate_eta_and_stall():
    now = time.time()
    record = Progress("x", state="uploading", received=100, total=300, rate=50.0, updated=now)
    assert record.eta(now) == 4.0
    assert record.report(now)["eta"] == 4.0 and record.report(now)["size"] == 300
    stalled = now + 10
    assert record.current_rate(stalled) == 0.0 and record.eta(stalled) is None


@pytest.mark.parametrize("environ, expected", [
    ({"QUERY_STRING": "X-Progress-ID=abc"}, "abc"),
    ({"QUERY_STRING": "a=1&x-progress-id=abc"}, "abc"),
    ({"QUERY_STRING": "X-PROGRESS-ID=up"}, "up"),
    ({"HTTP_X_PROGRESS_ID": "hdr"}, "hdr"),
    ({"QUERY_STRING": "X-Progress-ID=q", "HTTP_X_PROGRESS_ID": "hdr"}, "q"),
    ({"QUERY_STRING": "progress=1"}, None),
    ({}, None),
])
def test_upload_id_from_query_or_header(environ, expected):
    assert upload_id(environ) == expected


# -- the endpoint ----------------------------------------------------------------------------

def test_endpoint_answers_json_msgpack_unknown_and_invalid():
    store = MemoryStore()
    store.put(Progress("known", state="uploading", received=7, total=10))
    client = webtest.TestApp(progress_app(store))
    response = client.get("/progress?X-Progress-ID=known")
    assert response.json["state"] == "uploading" and response.json["received"] == 7
    assert response.headers["Cache-Control"] == "no-store"
    response = client.get("/progress", headers={"X-Progress-ID": "known", "Accept": "application/msgpack"})
    assert response.content_type == "application/msgpack"
    assert msgpack.unpackb(response.body)["total"] == 10
    response = client.get("/progress?X-Progress-ID=nobody", status=404)
    assert response.json["state"] == "unknown" and "not started yet" in response.json["error"]
    for bad in ("", "a" * 65, "semi;colon", "sp%20ace"):
        response = client.get(f"/progress?X-Progress-ID={bad}", status=400)
        assert "X-Progress-ID" in response.json["error"]


# -- the middleware, in process (WebTest: no greenhttp.body, so wsgi.input is counted) ------------

def test_webtest_upload_is_tracked_to_done():
    app = ProgressMiddleware(consume)
    client = webtest.TestApp(app)
    client.post("/upload?X-Progress-ID=w1", b"x" * 5000)
    report = client.get("/progress?X-Progress-ID=w1").json
    assert report["state"] == "done" and report["received"] == report["total"] == 5000
    assert report["status"] == 200


def test_error_status_makes_the_upload_an_error():
    def refuse(environ, start_response):
        environ["wsgi.input"].read()
        start_response("413 Content Too Large", [("Content-Type", "text/plain")])
        return [b"no\n"]

    client = webtest.TestApp(ProgressMiddleware(refuse))
    client.post("/upload?X-Progress-ID=r1", b"x" * 100, status=413)
    report = client.get("/progress?X-Progress-ID=r1").json
    assert report["state"] == "error" and report["status"] == 413


def test_requests_without_id_or_body_are_not_tracked():
    store = MemoryStore()
    client = webtest.TestApp(ProgressMiddleware(consume, store))
    client.post("/upload", b"x" * 10)
    client.get("/upload?X-Progress-ID=nobody")
    client.post("/upload?X-Progress-ID=" + "z" * 100, b"x" * 10)  # invalid: passed through untracked
    assert len(store) == 0


def test_app_exception_marks_error_and_propagates():
    def broken(environ, start_response):
        environ["wsgi.input"].read(3)
        raise RuntimeError("boom")

    store = MemoryStore()
    with pytest.raises(RuntimeError):
        ProgressMiddleware(broken, store)(
            {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "X-Progress-ID=e1",
             "CONTENT_LENGTH": "10", "wsgi.input": __import__("io").BytesIO(b"x" * 10)},
            lambda *a: None)
    record = store.get("e1")
    assert record.state == "error" and record.error == "boom" and record.received == 3


# -- over real sockets -----------------------------------------------------------------------------

def test_paced_upload_shows_live_counts_before_it_ends(serve):
    app = ProgressMiddleware(consume, update_interval=0.0)
    chunk, count = 32 * 1024, 8
    with serve(app) as server, socket.create_connection(server.address) as sock:
        send_head(sock, "live", chunk * count)
        seen = []
        for i in range(count):
            sock.sendall(b"x" * chunk)
            gevent.sleep(0.05)  # let the server read it
            status, report = poll(server.url, "live")
            assert status == 200
            seen.append((report["state"], report["received"]))
        _, headers, body = read_one_response(sock)
        assert body == str(chunk * count).encode()
        _, final = poll(server.url, "live", Accept="application/msgpack")

    in_flight = [received for state, received in seen[:-1] if state == "uploading"]
    assert len(in_flight) == count - 1 and in_flight == sorted(in_flight)
    assert all(0 < received < chunk * count for received in in_flight)
    assert len(set(in_flight)) == count - 1, f"the count must rise while the upload runs: {seen}"
    assert final["state"] == "done" and final["received"] == final["total"] == chunk * count
    assert final["rate"] > 0 and final["status"] == 200


def test_chunked_upload_has_no_total_until_done(serve):
    app = ProgressMiddleware(consume, update_interval=0.0)
    with serve(app) as server, socket.create_connection(server.address) as sock:
        send_head(sock, "chunky", None)
        sock.sendall(b"400\r\n" + b"y" * 1024 + b"\r\n")
        gevent.sleep(0.05)
        _, report = poll(server.url, "chunky")
        assert report["state"] == "uploading" and report["received"] == 1024
        assert report["total"] is None and report["eta"] is None
        sock.sendall(b"0\r\n\r\n")
        read_one_response(sock)
        _, report = poll(server.url, "chunky")
        assert report["state"] == "done" and report["total"] == 1024


def test_client_leaving_mid_upload_is_an_error(serve):
    app = ProgressMiddleware(consume, update_interval=0.0)
    with serve(app) as server:
        sock = socket.create_connection(server.address)
        send_head(sock, "gone", 100_000)
        sock.sendall(b"z" * 5000)
        gevent.sleep(0.05)
        sock.close()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            _, report = poll(server.url, "gone")
            if report["state"] == "error":
                break
            gevent.sleep(0.02)
        assert report["state"] == "error" and report["received"] == 5000
        assert "client closed" in report["error"]


def test_lazy_generator_app_and_read_body_go_through_the_tracker(serve):
    def lazy(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        digest = hashlib.sha256()
        for piece in environ["greenhttp.body"]:
            digest.update(piece)
            yield b"."
        yield digest.hexdigest().encode()

    def decoding(environ, start_response):
        return greenhttp.respond(environ, start_response, len(greenhttp.read_body(environ)))

    store = MemoryStore()
    with serve(ProgressMiddleware(lazy, store)) as server:
        data = b"q" * 300_000
        response = greenhttp.post(server.url + "/?X-Progress-ID=lazy", body=data)
        assert response.content.endswith(hashlib.sha256(data).hexdigest().encode())
        record = store.get("lazy")
        assert record.state == "done" and record.received == 300_000 and record.status == 200
    with serve(ProgressMiddleware(decoding, store)) as server:
        response = greenhttp.post(server.url + "/?X-Progress-ID=dec", json=list(range(1000)))
        assert response.json() == 1000
        assert store.get("dec").received == len(json.dumps(list(range(1000)), separators=(",", ":")))


def test_stream_results_are_not_wrapped(serve):
    def streaming(environ, start_response):
        stream = greenhttp.Stream()
        start_response("200 OK", [("Content-Type", "text/plain")])

        def feed():
            with stream:
                stream.send(str(len(environ["greenhttp.body"].read())))
        gevent.spawn(feed)
        return stream

    seen = []

    def spy(environ, start_response):
        result = ProgressMiddleware(streaming, store)(environ, start_response)
        seen.append(type(result))
        return result

    store = MemoryStore()
    with serve(spy) as server:
        response = greenhttp.post(server.url + "/?X-Progress-ID=st", body=b"s" * 1000)
        assert response.text == "1000"
    assert seen == [greenhttp.Stream]
    assert store.get("st").state == "done"
