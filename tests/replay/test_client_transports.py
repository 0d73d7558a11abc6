"""Issue 14: MockTransport and WSGITransport: the client with no socket, for users' tests."""

from __future__ import annotations

import gzip
import json
import wsgiref.validate
from typing import Any

import flask
import pytest

import greenhttp


def test_mock_transport_sees_the_request_and_answers():
    seen: list[Any] = []

    def handler(request: greenhttp.Request) -> Any:
        seen.append((request.method, request.url, request.headers.get("host"),
                     request.headers.get("content-type"), request.body.read()))
        return 201, {"Content-Type": "application/json"}, b'{"id": 7}'

    client = greenhttp.Client("http://api.test/v1/", transport=greenhttp.MockTransport(handler))
    r = client.post("items", json={"a": 1}, params={"q": "x"})
    assert (r.status, r.reason, r.json()) == (201, "Created", {"id": 7})
    assert seen == [("POST", "http://api.test/v1/items?q=x", "api.test", "application/json", b'{"a":1}')]
    assert r.request.url == "http://api.test/v1/items?q=x"


def test_mock_transport_redirects_cookies_auth_hooks_and_decoding():
    def handler(request: greenhttp.Request) -> Any:
        if request.url.endswith("/start"):
            return 302, [("Location", "/end"), ("Set-Cookie", "s=1; Path=/")]
        if request.headers.get("authorization") is None:
            return 401, {"WWW-Authenticate": 'Basic realm="x"'}
        assert request.headers.get("cookie") == "s=1"
        return 200, {"Content-Encoding": "gzip"}, gzip.compress(b"decoded")

    events: list[str] = []
    client = greenhttp.Client(transport=greenhttp.MockTransport(handler), auth=("u", "p"),
                              hooks={"response": [lambda r: events.append(str(r.status))]})
    r = client.get("http://h.test/start")
    assert (r.status, r.content, [h.status for h in r.history]) == (200, b"decoded", [302])
    assert events == ["302", "200"]


def test_mock_transport_streams_both_ways():
    pulled: list[int] = []

    def produce() -> Any:
        for i in range(3):
            pulled.append(i)
            yield b"part%d;" % i

    def handler(request: greenhttp.Request) -> Any:
        first = request.body.read(6)  # the generator has produced one piece, not all
        assert first == b"part0;" and pulled == [0]
        rest = request.body.read()

        def answer() -> Any:
            yield first
            yield rest

        return 200, {}, answer()

    client = greenhttp.Client(transport=greenhttp.MockTransport(handler))
    with client.put("http://h.test/", body=produce(), stream=True) as r:
        assert r.body.length is None
        assert list(r.body) == [b"part0;", b"part1;part2;"]


def test_mock_transport_with_retries():
    calls: list[int] = []

    def handler(request: greenhttp.Request) -> Any:
        calls.append(1)
        return (503, {"Retry-After": "0"}) if len(calls) < 3 else 200

    client = greenhttp.Client(transport=greenhttp.MockTransport(handler), retries=3)
    assert client.get("http://h.test/").status == 200 and len(calls) == 3


def flask_app() -> flask.Flask:
    app = flask.Flask("transport")

    @app.route("/items/<int:item_id>", methods=["GET", "PUT"])
    def item(item_id: int) -> Any:
        if flask.request.method == "PUT":
            return flask.jsonify(id=item_id, got=flask.request.get_json(),
                                 query=flask.request.args.get("v"),
                                 remote=flask.request.remote_addr,
                                 host=flask.request.host, scheme=flask.request.scheme)
        return flask.jsonify(id=item_id)

    @app.route("/upload", methods=["POST"])
    def upload() -> Any:
        # A streamed (chunked) request body: read in pieces, as a real server hands it over.
        total = 0
        while piece := flask.request.stream.read(4096):
            total += len(piece)
        return {"total": total}

    @app.route("/form", methods=["POST"])
    def form() -> Any:
        return flask.request.form.to_dict()

    @app.route("/stream")
    def stream() -> Any:
        def generate() -> Any:
            for i in range(3):
                yield f"line {i}\n"
        return flask.Response(generate(), mimetype="text/plain")

    @app.route("/cookie")
    def cookie() -> Any:
        response = flask.make_response("set")
        response.set_cookie("flavor", "ginger")
        return response

    @app.route("/whoami")
    def whoami() -> Any:
        return flask.request.cookies.get("flavor", "none")

    return app


def test_wsgi_transport_runs_a_flask_app():
    client = greenhttp.Client("https://example.test:8443/",
                              transport=greenhttp.WSGITransport(flask_app(), remote_addr="10.1.2.3"))
    r = client.put("items/5", json={"a": [1, 2]}, params={"v": "é"})
    assert r.json() == {"id": 5, "got": {"a": [1, 2]}, "query": "é", "remote": "10.1.2.3",
                        "host": "example.test:8443", "scheme": "https"}
    assert client.get("items/9").json() == {"id": 9}
    assert client.get("nowhere").status == 404
    chunks = (b"x" * 10000 for _ in range(5))
    assert client.post("upload", body=chunks).json() == {"total": 50000}
    assert client.post("form", form={"a": "1"}).json() == {"a": "1"}
    with client.get("stream", stream=True) as r:
        assert list(r.iter_lines()) == ["line 0", "line 1", "line 2"]
    assert client.get("cookie").text == "set" and client.get("whoami").text == "ginger"


def test_wsgi_transport_environ_passes_wsgiref_validate():
    closed: list[bool] = []

    def app(environ: dict, start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        assert environ["SERVER_NAME"] == "h.test" and environ["SERVER_PORT"] == "80"
        assert environ["PATH_INFO"] == "/a b" and environ["QUERY_STRING"] == "x=1"
        assert environ["REQUEST_METHOD"] in ("POST", "GET") and "HTTP_CONTENT_LENGTH" not in environ
        if environ["REQUEST_METHOD"] == "POST":
            assert environ["CONTENT_TYPE"] == "text/plain; charset=utf-8"
            assert environ["CONTENT_LENGTH"] == "5"
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written;")

        class Result:
            def __iter__(self) -> Any:
                yield b"echo:" + body

            def close(self) -> None:
                closed.append(True)

        return Result()

    client = greenhttp.Client(transport=greenhttp.WSGITransport(wsgiref.validate.validator(app)))
    r = client.post("http://h.test/a%20b?x=1", body="hello")
    assert (r.status, r.content) == (200, b"written;echo:hello")
    assert closed == [True]
    with client.get("http://h.test/a%20b?x=1", stream=True) as r2:
        pass  # closed unread: the app's close() still runs
    assert closed == [True, True]


def test_wsgi_app_exceptions_reach_the_test():
    def app(environ: dict, start_response: Any) -> Any:
        raise RuntimeError("boom")

    client = greenhttp.Client(transport=greenhttp.WSGITransport(app))
    with pytest.raises(RuntimeError, match="boom"):
        client.get("http://h.test/")


def test_json_helper_roundtrip_is_not_lost_through_gzip_app():
    def app(environ: dict, start_response: Any) -> Any:
        data = gzip.compress(json.dumps({"ok": True}).encode())
        start_response("200 OK", [("Content-Encoding", "gzip"), ("Content-Length", str(len(data)))])
        return [data]

    r = greenhttp.Client(transport=greenhttp.WSGITransport(app)).get("http://h.test/")
    assert r.json() == {"ok": True}
