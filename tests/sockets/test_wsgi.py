"""PEP 3333 compliance over real sockets: validator-wrapped apps, Flask, WebTest, sendfile."""

import http.client
import os
import wsgiref.validate

import flask
import pytest
import requests
import webtest

import greenhttp
from conftest import raw_exchange

REQUIRED_KEYS = {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
    "SERVER_PROTOCOL", "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors",
    "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once",
}


def echo_environ(environ, start_response):
    body = b""
    while chunk := environ["wsgi.input"].read(4096):  # the validator insists on a size
        body += chunk
    keys = sorted(k for k in environ if isinstance(environ[k], str))
    text = "\n".join(f"{k}={environ[k]}" for k in keys) + f"\nBODY={body.decode()}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text.encode()]


def lines_app(environ, start_response):
    lines = list(environ["wsgi.input"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d lines; last=%s" % (len(lines), lines[-1] if lines else b"")]


def streaming_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return iter([b"a", b"", b"b", b"c"])


@pytest.mark.parametrize("app", [echo_environ, lines_app, streaming_app])
def test_apps_pass_wsgiref_validator_over_real_sockets(serve, app):
    checked = wsgiref.validate.validator(app)
    with serve(checked) as server:
        response = requests.post(server.url + "/p%20th?q=1", data=b"l1\nl2\nl3")
        assert response.status_code == 200
        response = requests.get(server.url + "/again")
        assert response.status_code == 200


def test_environ_has_required_and_extra_keys(serve):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        seen["body_is_same"] = environ["wsgi.input"].body is environ["greenhttp.body"]
        start_response("200 OK", [])
        return [environ["wsgi.input"].read()]

    with serve(app) as server:
        conn = http.client.HTTPConnection(*server.address)
        conn.request("POST", "/a%2Fb/c?x=1&y=%20", body=b"payload",
                     headers={"X-Custom": "v", "Content-Type": "text/plain", "Cookie": "a=1"})
        local_port = conn.sock.getsockname()[1]
        response = conn.getresponse()
        assert response.read() == b"payload"
        conn.close()
    assert REQUIRED_KEYS <= seen.keys()
    assert seen["PATH_INFO"] == "/a/b/c" and seen["QUERY_STRING"] == "x=1&y=%20"
    assert seen["REQUEST_URI"] == "/a%2Fb/c?x=1&y=%20"
    assert seen["CONTENT_TYPE"] == "text/plain" and seen["CONTENT_LENGTH"] == "7"
    assert seen["HTTP_X_CUSTOM"] == "v" and seen["HTTP_COOKIE"] == "a=1"
    assert "HTTP_CONTENT_TYPE" not in seen
    assert seen["REMOTE_ADDR"] == "127.0.0.1" and seen["REMOTE_PORT"] == str(local_port)
    assert seen["SERVER_NAME"] == "127.0.0.1" and seen["SERVER_PORT"] == str(server.address[1])
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert seen["wsgi.input_terminated"] is True and seen["body_is_same"]
    assert isinstance(seen["greenhttp.body"], greenhttp.Body)


def test_repeated_headers_combine_and_underscore_names_are_dropped(serve):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    with serve(app) as server:
        raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: b\r\n"
                                     b"X-User: real\r\nX_User: spoofed\r\nConnection: close\r\n\r\n")
    assert seen["HTTP_ACCEPT"] == "a,b"
    assert seen["HTTP_X_USER"] == "real"


def test_close_called_on_iterable_always(serve):
    closed = []

    class Result:
        def __init__(self, fail):
            self.fail = fail

        def __iter__(self):
            if self.fail:
                raise RuntimeError("app bug")
            yield b"ok"

        def close(self):
            closed.append(self.fail)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Result(environ["PATH_INFO"] == "/fail")

    with serve(app) as server:
        assert requests.get(server.url + "/").text == "ok"
        assert requests.get(server.url + "/fail").status_code == 500
    assert closed == [False, True]


def test_file_wrapper_uses_sendfile(serve, tmp_path, monkeypatch):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    calls = []
    real_sendfile = os.sendfile

    def counting_sendfile(*args):
        calls.append(args[3])
        return real_sendfile(*args)

    monkeypatch.setattr(os, "sendfile", counting_sendfile)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(path, "rb"))

    with serve(app) as server:
        response = requests.get(server.url)
        assert response.headers["Content-Length"] == str(len(payload))
        assert response.content == payload
        assert requests.head(server.url).content == b""
    assert calls, "sendfile(2) was not used"


def test_flask_app_runs_unchanged(serve):
    app = flask.Flask("t")

    @app.route("/items/<int:item_id>", methods=["GET", "PUT"])
    def item(item_id):
        if flask.request.method == "PUT":
            return flask.jsonify(id=item_id, got=flask.request.get_json())
        return flask.jsonify(id=item_id, args=flask.request.args.to_dict())

    @app.route("/stream")
    def stream():
        return flask.Response((f"{i}\n" for i in range(3)), mimetype="text/plain")

    @app.route("/upload", methods=["POST"])
    def upload():
        size = 0
        while chunk := flask.request.stream.read(65536):
            size += len(chunk)
        return {"size": size}

    with serve(app) as server:
        assert requests.get(server.url + "/items/3?x=y").json() == {"id": 3, "args": {"x": "y"}}
        assert requests.put(server.url + "/items/4", json={"a": [1]}).json() == {"id": 4, "got": {"a": [1]}}
        assert requests.get(server.url + "/stream").text == "0\n1\n2\n"
        assert requests.get(server.url + "/missing").status_code == 404
        data = b"z" * (5 * 1024 * 1024)
        assert requests.post(server.url + "/upload", data=data).json() == {"size": len(data)}
        chunks = (b"q" * 1000 for _ in range(100))  # requests sends a generator chunked
        assert requests.post(server.url + "/upload", data=chunks).json() == {"size": 100000}


def test_webtest_drives_the_hello_example():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "hello.py"
    spec = importlib.util.spec_from_file_location("hello_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = webtest.TestApp(module.app)
    assert app.get("/").text == "Hello, world!\n"
    assert app.get("/?name=gevent").text == "Hello, gevent!\n"
