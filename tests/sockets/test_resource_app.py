"""Application-level behaviour: routing, the per-request resource lifecycle, mounting beside
other WSGI apps, and the adapter-lint equivalents of webmachine-ruby's spec/adapter_lint.rb."""

from __future__ import annotations

import http.client
from typing import Any, Iterator

import webtest

from greenhttp.resource import Application, Halt, Resource

from conftest import running


class Echo(Resource):
    def __init__(self) -> None:
        self.seen_in_init = self.request.method  # __init__ may read the request

    def allowed_methods(self) -> list[str]:
        return ["GET", "POST"]

    def content_types_provided(self) -> list[tuple[str, Any]]:
        return [("text/plain", "to_text")]

    def to_text(self) -> str:
        return f"{self.seen_in_init} {self.path_params} {self.request.query} {self.request.base_uri}"

    def process_post(self) -> bool:
        mode = self.request.query.get("mode")
        if mode == "chunks":
            sizes = [len(chunk) for chunk in self.request.body]
            self.response.body = f"{sum(sizes)} bytes"
        elif mode == "bytes":
            self.response.body = self.request.body.read()
        return True


class Halting(Resource):
    def forbidden(self) -> bool:
        raise Halt(451)


ROUTES = [("/echo/{name}", Echo), ("/files/{rest:path}", Echo), ("/halt", Halting), ("/post", Echo)]


def test_routes_bind_segments_and_paths() -> None:
    api = webtest.TestApp(Application(ROUTES))
    assert api.get("/echo/caf%C3%A9?x=1").text == "GET {'name': 'café'} {'x': '1'} http://localhost:80/"
    assert "'rest': 'a/b/c.txt'" in api.get("/files/a/b/c.txt").text
    api.get("/echo/", status=404)  # {name} needs a non-empty segment
    api.get("/echo/a/b", status=404)  # ...and only one
    missing = api.get("/nowhere", status=404)
    assert missing.content_type == "text/plain" and missing.text == "404 Not Found\n"


class Named(Resource):
    """Answers with its class name, to tell which route took the request."""

    def content_types_provided(self) -> list[tuple[str, Any]]:
        return [("text/plain", "to_text")]

    def to_text(self) -> str:
        return f"{type(self).__name__} {self.path_params}"


class Beta(Named):
    pass


class Stable(Named):
    pass


def test_route_guards_pick_among_routes_for_one_path(caplog: Any) -> None:
    # webmachine-ruby's route guards: a route takes a request only if its guard says so;
    # otherwise the next route is tried. The guard sees the request, path params bound.
    seen: list[Any] = []

    def beta(request: Any) -> bool:
        seen.append((request.path_params, request.headers.get("X-Channel")))
        return request.headers.get("X-Channel") == "beta"

    def broken(request: Any) -> bool:
        raise RuntimeError("guard bug")

    app = Application([("/v/{id}", Beta, beta), ("/v/{id}", Stable),
                       ("/broken", Stable, broken)])
    api = webtest.TestApp(app)
    assert api.get("/v/7", headers={"X-Channel": "beta"}).text == "Beta {'id': '7'}"
    assert api.get("/v/7").text == "Stable {'id': '7'}"
    assert seen == [({"id": "7"}, "beta"), ({"id": "7"}, None)]
    # A guard that raises is our side's fault: a generic 500, the traceback in the log only.
    failed = api.get("/broken", status=500)
    assert failed.text == "500 Internal Server Error\n" and "guard bug" not in failed.text
    assert "exception in a route guard" in caplog.text and "guard bug" in caplog.text
    # add_route takes the guard too; no route accepting the request is a 404.
    only_beta = Application()
    only_beta.add_route("/v/{id}", Beta, beta)
    webtest.TestApp(only_beta).get("/v/1", status=404)


def test_halt_exception() -> None:
    assert webtest.TestApp(Application(ROUTES)).get("/halt", status=451).text.startswith("451")


def test_mounted_beside_another_app() -> None:
    resources = Application(ROUTES)

    def other(environ: dict, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"other app"])

    def dispatcher(environ: dict, start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        if path.startswith("/api/"):
            environ["SCRIPT_NAME"] += "/api"
            environ["PATH_INFO"] = path[4:]
            return resources(environ, start_response)
        return other(environ, start_response)

    api = webtest.TestApp(dispatcher)
    assert api.get("/").text == "other app"
    assert api.get("/api/echo/x").text.endswith("http://localhost:80/api/")


def test_adapter_lint_over_a_socket() -> None:
    """spec/adapter_lint.rb: body as bytes and as chunks; empty POST → 204 with no body."""
    with running(Application(ROUTES)) as server:
        conn = http.client.HTTPConnection(*server.address[:2], timeout=10)
        conn.request("POST", "/post?mode=bytes", body=b"hello world")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"hello world")
        conn.request("POST", "/post?mode=chunks", body=iter([b"a" * 5000, b"b" * 7000]),
                     headers={"Transfer-Encoding": "chunked"}, encode_chunked=True)
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"12000 bytes")
        conn.request("POST", "/post", body=b"")
        response = conn.getresponse()
        assert response.status == 204 and response.read() == b""
        assert response.getheader("Content-Type") is None
        conn.request("GET", "/echo/x")
        response = conn.getresponse()
        body = response.read()
        assert response.getheader("Content-Length") == str(len(body))
        conn.close()
