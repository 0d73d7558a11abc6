"""The client over real loopback sockets against greenhttp's own server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
from typing import Any

import gevent
import gevent.event
import msgpack
import pytest
from werkzeug.formparser import parse_form_data

import greenhttp


def echo_app(environ: dict, start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    answer = {
        "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"], "headers": headers, "length": len(body),
        "sha": hashlib.sha256(body).hexdigest(), "body": body[:200].decode("latin-1"),
    }
    data = json.dumps(answer).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def pool():
    with greenhttp.Pool(max_per_host=8) as pool:
        yield pool


def test_methods_params_and_headers(serve, pool):
    with serve(echo_app) as server:
        for method in ("get", "post", "put", "patch", "delete", "options"):
            answer = getattr(greenhttp, method)(server.url + "/p/q", params={"a": "1", "b": ["x", "y"]},
                                                headers={"X-Test": "yes"}, pool=pool).json()
            assert answer["method"] == method.upper()
            assert answer["path"] == "/p/q" and answer["query"] == "a=1&b=x&b=y"
            assert answer["headers"]["x-test"] == "yes"
            assert answer["headers"]["user-agent"].startswith("greenhttp/")
        response = greenhttp.head(server.url + "/", pool=pool)
        assert response.status == 200 and response.content == b""
        assert response.http_version == "1.1" and response.reason == "OK"
        assert response.headers.get_all("Content-Type") == ["application/json"]


def test_json_msgpack_form_and_text_bodies(serve, pool):
    with serve(echo_app) as server:
        answer = greenhttp.post(server.url, json={"k": [1, "é"]}, pool=pool).json()
        assert answer["headers"]["content-type"] == "application/json"
        assert json.loads(answer["body"].encode("latin-1").decode()) == {"k": [1, "é"]}
        answer = greenhttp.post(server.url, msgpack={"k": b"\x00"}, pool=pool).json()
        assert answer["headers"]["content-type"] == "application/msgpack"
        assert msgpack.unpackb(answer["body"].encode("latin-1")) == {"k": b"\x00"}
        answer = greenhttp.post(server.url, form={"a": "1 2", "b": "&"}, pool=pool).json()
        assert answer["body"] == "a=1+2&b=%26"
        answer = greenhttp.post(server.url, body="naïve", pool=pool).json()
        assert answer["headers"]["content-type"] == "text/plain; charset=utf-8"
        assert answer["length"] == len("naïve".encode())


def test_msgpack_and_text_responses(serve, pool):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain; charset=latin-1")])
        return [msgpack.packb({"é": 1}) if environ["PATH_INFO"] == "/m" else "café".encode("latin-1")]

    with serve(app) as server:
        assert greenhttp.get(server.url + "/m", pool=pool).msgpack() == {"é": 1}
        assert greenhttp.get(server.url + "/t", pool=pool).text == "café"


class CountingFile(io.RawIOBase):
    """A seekable file-like object (no fileno) that records its largest read."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)
        self.largest = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert size is not None and size > 0, "the encoder must never read a file whole"
        self.largest = max(self.largest, size)
        return self.inner.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()


def test_multipart_files_are_streamed(serve, pool, tmp_path):
    received: dict[str, Any] = {}

    def app(environ, start_response):
        _, form, files = parse_form_data(environ)
        received["form"] = dict(form)
        received["files"] = {name: (f.filename, f.content_type, sha(f.read())) for name, f in files.items()}
        received["length"] = environ.get("CONTENT_LENGTH")
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    big = os.urandom(3 * 1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(big)
    counting = CountingFile(b"stream me" * 1000)
    with serve(app) as server, open(path, "rb") as real:
        response = greenhttp.post(server.url, form={"title": "héllo"}, pool=pool, files={
            "real": real,
            "counted": ("c.txt", counting, "text/plain"),
            "inline": ("a \"quoted\" name.json", b'{"a":1}'),
        })
        assert response.status == 200
    assert received["form"] == {"title": "héllo"}
    assert received["files"]["real"] == ("big.bin", "application/octet-stream", sha(big))
    assert received["files"]["counted"] == ("c.txt", "text/plain", sha(b"stream me" * 1000))
    assert received["files"]["inline"][2] == sha(b'{"a":1}')
    assert received["length"] is not None  # every size known: Content-Length, not chunked
    assert counting.largest <= 65536


def test_file_body_uses_sendfile_and_reports_progress(serve, pool, tmp_path, monkeypatch):
    data = os.urandom(5 * 1024 * 1024 + 7)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    calls = []
    real_sendfile = os.sendfile

    def counting_sendfile(*args: Any) -> int:
        calls.append(args[3])
        return real_sendfile(*args)

    monkeypatch.setattr(os, "sendfile", counting_sendfile)
    progress: list[tuple[int, Any]] = []
    with serve(echo_app) as server, open(path, "rb") as f:
        answer = greenhttp.put(server.url, body=f, pool=pool, expect_continue=False,
                               progress=lambda sent, total: progress.append((sent, total))).json()
    assert answer["length"] == len(data) and answer["sha"] == sha(data)
    assert calls, "a plain-TCP file upload goes out with sendfile(2)"
    assert progress[-1] == (len(data), len(data))


def test_generator_body_is_chunked_with_progress(serve, pool):
    progress: list[tuple[int, Any]] = []
    pieces = [os.urandom(100_000) for _ in range(10)]
    with serve(echo_app) as server:
        answer = greenhttp.post(server.url, body=(p for p in pieces), pool=pool,
                                progress=lambda sent, total: progress.append((sent, total))).json()
    assert answer["headers"].get("transfer-encoding") == "chunked"
    assert answer["sha"] == sha(b"".join(pieces))
    assert [p[0] for p in progress] == [100_000 * i for i in range(1, 11)]
    assert all(total is None for _, total in progress)


def test_large_upload_uses_expect_continue(serve, pool):
    data = os.urandom(2 * 1024 * 1024)
    with serve(echo_app) as server:
        started = time.monotonic()
        answer = greenhttp.post(server.url, body=data, pool=pool).json()
        assert time.monotonic() - started < 0.9  # the 100 came; no 1 s fallback wait
    assert answer["headers"]["expect"] == "100-continue"
    assert answer["sha"] == sha(data)


def test_server_body_is_forwarded_chunk_by_chunk(serve):
    """A server's request Body passed as a client body streams through (the proxy's path)."""
    first_chunk_arrived = gevent.event.Event()
    seen: dict[str, Any] = {}

    def backend(environ, start_response):
        body = environ["greenhttp.body"]
        digest = hashlib.sha256()
        for chunk in body:
            first_chunk_arrived.set()
            digest.update(chunk)
        seen["sha"] = digest.hexdigest()
        seen["te"] = environ.get("HTTP_TRANSFER_ENCODING")
        start_response("200 OK", [("Content-Length", "4")])
        return [b"done"]

    def front(environ, start_response):
        upstream = greenhttp.post(backend_server.url, body=environ["greenhttp.body"], pool=front_pool)
        start_response(f"{upstream.status} {upstream.reason}", [("Content-Length", str(len(upstream.content)))])
        return [upstream.content]

    def upload():
        yield b"a" * 70000
        # The rest waits until the backend has the first chunk: proof that nothing
        # between here and there buffered the whole body.
        assert first_chunk_arrived.wait(5), "first chunk never reached the backend"
        yield b"b" * 70000

    with greenhttp.Pool() as front_pool, serve(backend) as backend_server, serve(front) as front_server:
        response = greenhttp.post(front_server.url, body=upload())
        assert response.content == b"done"
    assert seen["sha"] == sha(b"a" * 70000 + b"b" * 70000)
    assert seen["te"] == "chunked"


def test_streamed_response_chunks_arrive_as_sent_and_any_greenlet_reads(serve, pool):
    go_on = gevent.event.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            yield b"first"
            go_on.wait(5)
            yield b"second"
        return body()

    with serve(app) as server:
        with greenhttp.get(server.url, stream=True, pool=pool) as response:
            assert response.status == 200 and response.headers["transfer-encoding"] == "chunked"
            chunks = iter(response.body)
            assert next(chunks) == b"first"
            go_on.set()
            rest = gevent.spawn(lambda: b"".join(chunks)).get(timeout=5)
            assert rest == b"second"
            assert response.body.complete
        assert pool.stats()["idle"] == 1


def test_raise_for_status(serve, pool):
    def app(environ, start_response):
        start_response(environ["PATH_INFO"][1:] + " Whatever", [("Content-Length", "0")])
        return []

    with serve(app) as server:
        assert greenhttp.get(server.url + "/204", pool=pool).raise_for_status().status == 204
        with pytest.raises(greenhttp.HTTPStatusError) as info:
            greenhttp.get(server.url + "/404", pool=pool).raise_for_status()
        assert info.value.response.status == 404
        with pytest.raises(greenhttp.HTTPStatusError, match="server error"):
            greenhttp.get(server.url + "/503", pool=pool).raise_for_status()


def test_client_session_base_url_headers_and_cookies(serve, pool):
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/api/login":
            start_response("200 OK", [("Set-Cookie", "sid=abc; Path=/api; HttpOnly"),
                                      ("Set-Cookie", "theme=dark; Path=/"), ("Content-Length", "0")])
            return []
        if path == "/api/logout":
            start_response("200 OK", [("Set-Cookie", "sid=; Max-Age=0; Path=/api"), ("Content-Length", "0")])
            return []
        data = json.dumps({"cookie": environ.get("HTTP_COOKIE"), "token": environ.get("HTTP_X_TOKEN"),
                           "path": path}).encode()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]

    with serve(app) as server:
        client = greenhttp.Client(base_url=server.url + "/api/", headers={"X-Token": "t1"}, pool=pool)
        client.post("login")
        answer = client.get("/me").json()
        assert answer["path"] == "/api/me" and answer["token"] == "t1"
        assert answer["cookie"] == "sid=abc; theme=dark"  # longest path first
        assert greenhttp.get(server.url + "/other", pool=pool).json()["cookie"] is None
        assert client.get(server.url + "/other").json()["cookie"] == "theme=dark"  # path-scoped sid
        client.get("logout")
        assert client.get("me").json()["cookie"] == "theme=dark"
        assert client.cookies is not None and client.cookies.get("theme") == "dark"


def test_redirects_across_origins_drop_credentials(serve, pool):
    def target(environ, start_response):
        data = json.dumps({"auth": environ.get("HTTP_AUTHORIZATION"), "cookie": environ.get("HTTP_COOKIE"),
                           "method": environ["REQUEST_METHOD"], "length": len(environ["wsgi.input"].read())}).encode()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]

    with serve(target) as other:
        def origin(environ, start_response):
            path = environ["PATH_INFO"]
            if path == "/final":
                return target(environ, start_response)
            environ["wsgi.input"].read()
            if path == "/same":
                start_response("308 Permanent Redirect", [("Location", "/final"), ("Content-Length", "0")])
                return []
            start_response("302 Found", [("Location", other.url + "/there"), ("Content-Length", "0")])
            return []

        with serve(origin) as server:
            same = greenhttp.post(server.url + "/same", body=b"12345", auth=("u", "p"), pool=pool).json()
            assert same == {"auth": "Basic dTpw", "cookie": None, "method": "POST", "length": 5}
            response = greenhttp.post(server.url + "/away", body=b"12345", auth=("u", "p"),
                                      headers={"Cookie": "a=1"}, pool=pool)
            assert response.json() == {"auth": None, "cookie": None, "method": "GET", "length": 0}
            assert [r.status for r in response.history] == [302]
            assert response.url == other.url + "/there"
            kept = greenhttp.get(server.url + "/away", follow_redirects=False, pool=pool)
            assert kept.status == 302 and kept.is_redirect


def test_fetch_all_bounds_concurrency_and_keeps_order(serve, pool):
    active = {"now": 0, "max": 0}

    def app(environ, start_response):
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        gevent.sleep(0.02)
        active["now"] -= 1
        data = environ["PATH_INFO"].encode()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    closed.close()
    with serve(app) as server:
        requests = [server.url + f"/{i}" for i in range(20)]
        requests.insert(7, dead_url)
        requests.append(("POST", server.url + "/posted"))
        requests.append({"method": "PUT", "url": server.url + "/put", "body": b"x"})
        results = greenhttp.fetch_all(requests, concurrency=4, pool=pool)
    assert isinstance(results[7], greenhttp.ConnectError)
    others = [r for i, r in enumerate(results) if i != 7]
    assert [r.content for r in others] == [f"/{i}".encode() for i in range(20)] + [b"/posted", b"/put"]
    assert 1 < active["max"] <= 4


def test_read_timeout_and_connect_errors(serve, pool):
    def slow(environ, start_response):
        gevent.sleep(3)
        start_response("200 OK", [("Content-Length", "0")])
        return []

    with serve(slow) as server:
        started = time.monotonic()
        with pytest.raises(greenhttp.ReadTimeout) as info:
            greenhttp.get(server.url, timeout=0.3, pool=pool)
        assert time.monotonic() - started < 2
        assert isinstance(info.value, TimeoutError)  # also the builtin, for except TimeoutError
        with pytest.raises(greenhttp.DeadlineExceeded):
            greenhttp.get(server.url, timeout=greenhttp.Timeout(5, total=0.3), pool=pool)
    assert pool.stats()["open"] == 0

    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    port = refused.getsockname()[1]
    refused.close()
    with pytest.raises(greenhttp.ConnectError) as error:
        greenhttp.get(f"http://127.0.0.1:{port}/", pool=pool)
    assert not isinstance(error.value, greenhttp.TimeoutError)
    with pytest.raises(greenhttp.ConnectError, match="resolve"):
        greenhttp.get("http://no-such-host.invalid/", pool=pool)


def test_connect_timeout(pool):
    # A listener with a full accept backlog: the kernel drops further SYNs, so the
    # connect hangs until our timeout.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        gevent.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(greenhttp.ConnectTimeout):
            greenhttp.get(f"http://127.0.0.1:{port}/", timeout=greenhttp.Timeout(connect=0.3, read=5), pool=pool)
        assert time.monotonic() - started < 2
        assert pool.stats()["open"] == 0
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_no_ssl_import_at_module_level():
    import subprocess
    import sys

    code = "import sys, greenhttp; assert 'ssl' not in sys.modules, 'greenhttp imported ssl'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
