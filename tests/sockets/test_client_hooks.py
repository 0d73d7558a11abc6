"""Issue 14: request/response event hooks (httpx's shape), over real sockets."""

from __future__ import annotations

from typing import Any

import pytest

import greenhttp


def app(environ: dict, start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/redirect":
        start_response("302 Found", [("Location", "/final"), ("Content-Length", "0")])
        return [b""]
    if path == "/missing":
        start_response("404 Not Found", [("Content-Length", "4")])
        return [b"nope"]
    tag = environ.get("HTTP_X_TAG", "")
    start_response("200 OK", [("Content-Length", str(len(tag)))])
    return [tag.encode()]


def test_hooks_see_every_hop_and_can_change_the_request(serve, pool):
    seen: list[str] = []

    def tag(request: greenhttp.Request) -> None:
        seen.append(f"> {request.method} {request.url.rsplit('/', 1)[1]}")
        request.headers["X-Tag"] = "hooked"

    def log(response: greenhttp.Response) -> None:
        seen.append(f"< {response.status}")

    with serve(app) as server:
        client = greenhttp.Client(server.url, pool=pool, hooks={"request": [tag]})
        r = client.get("/redirect", hooks={"response": [log]})
        assert r.content == b"hooked" and seen == ["> GET redirect", "< 302", "> GET final", "< 200"]
        seen.clear()
        client.get("/final")  # the call's hooks were for that call only
        assert seen == ["> GET final"]


def test_a_response_hook_that_raises_ends_the_call(serve, pool):
    with serve(app) as server:
        client = greenhttp.Client(server.url, pool=pool,
                                  hooks={"response": [lambda r: r.raise_for_status()]})
        assert client.get("/final").status == 200
        with pytest.raises(greenhttp.HTTPStatusError):
            client.get("/missing")
        # the connection went back to the pool despite the exception
        assert pool.stats()["in_use"] == 0
        with pytest.raises(greenhttp.UsageError, match="hooks="):
            client.get("/final", hooks={"reply": []})
