"""examples/resources.py: the collection/item API, driven through WebTest and through
`greenhttp examples/resources.py -p 0` as a user runs it."""

from __future__ import annotations

import contextlib
import importlib.util
import pathlib
import subprocess
import sys
from typing import Any, Iterator

import msgpack
import requests
import webtest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load() -> Any:
    spec = importlib.util.spec_from_file_location("example_resources", ROOT / "examples" / "resources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_collection_and_items_with_webtest() -> None:
    api = webtest.TestApp(load().app)
    assert api.get("/items").json == []

    created = api.post_json("/items", {"name": "pen"}, status=201)
    location = created.headers["Location"]
    assert location == "http://localhost:80/items/1"  # absolute, from the request's Host
    item = api.get("/items/1")
    assert item.json == {"id": "1", "name": "pen"}
    etag, modified = item.headers["ETag"], item.headers["Last-Modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    assert item.headers["Vary"] == "Accept"

    # conditional GETs
    api.get("/items/1", headers={"If-None-Match": etag}, status=304)
    api.get("/items/1", headers={"If-Modified-Since": modified}, status=304)

    # msgpack both ways
    packed = api.get("/items/1", headers={"Accept": "application/msgpack"})
    assert packed.content_type == "application/msgpack"
    assert msgpack.unpackb(packed.body) == {"id": "1", "name": "pen"}
    api.put("/items/2", msgpack.packb({"name": "ink"}), content_type="application/msgpack", status=201)
    assert api.get("/items/2").json["name"] == "ink"

    # PUT replace: 204; If-Match with a stale tag: 412 and nothing changes
    api.put_json("/items/1", {"name": "pencil"}, headers={"If-Match": etag}, status=204)
    api.put_json("/items/1", {"name": "crayon"}, headers={"If-Match": etag}, status=412)
    assert api.get("/items/1").json["name"] == "pencil"
    # If-Match on an item that does not exist: 412, not a silent create
    api.put_json("/items/9", {"name": "x"}, headers={"If-Match": etag}, status=412)

    # bad bodies: 422 (not an item), 400 (not JSON), 415 (not a type we take)
    api.put_json("/items/1", ["not", "an", "item"], status=422)
    api.put("/items/1", b"{nope", content_type="application/json", status=400)
    api.put("/items/1", b"name=x", content_type="application/x-www-form-urlencoded", status=415)
    api.get("/items/1", headers={"Accept": "text/csv"}, status=406)
    api.post_json("/items/1", {"name": "x"}, status=405)

    assert [item["id"] for item in api.get("/items").json] == ["1", "2"]
    api.delete("/items/2", status=204)
    api.get("/items/2", status=404)
    api.delete("/items/2", status=404)


@contextlib.contextmanager
def cli() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "greenhttp", str(ROOT / "examples" / "resources.py"),
                             "-p", "0", "--no-access-log"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), proc.stderr.read()
        yield url.rstrip("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_example_served_by_the_cli() -> None:
    with cli() as url, requests.Session() as http:
        created = http.post(f"{url}/items", json={"name": "pen"})
        assert created.status_code == 201
        assert created.headers["Location"] == f"{url}/items/1"
        item = http.get(created.headers["Location"])
        assert item.json()["name"] == "pen"
        etag = item.headers["ETag"]
        assert http.put(f"{url}/items/1", json={"name": "pencil"}, headers={"If-Match": etag}).status_code == 204
        assert http.put(f"{url}/items/1", json={"name": "x"}, headers={"If-Match": etag}).status_code == 412
        assert http.get(f"{url}/items/1", headers={"If-None-Match": '"nope"'}).json()["name"] == "pencil"
        # every request of the example is traced; the debugger lists them
        traces = http.get(f"{url}/_trace", headers={"Accept": "application/json"}).json()
        assert [t["status"] for t in traces][:3] == [200, 412, 204]
        assert item.headers["X-Greenhttp-Trace-Id"] in {t["id"] for t in traces}
