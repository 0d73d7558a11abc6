"""The visual debugger: traces are recorded (bounded), served as JSON and as the decision graph
drawn from the table, and — in headless Chromium — a traced request's nodes are highlighted
in the rendered SVG and clicking a node shows its callback results."""

from __future__ import annotations

import pathlib
from typing import Any

import requests
import webtest

from greenhttp.resource import Application, FileTraceStore, Resource, TraceResource, TraceStore
from greenhttp.resource.graph import NODES

from conftest import running



class Traced(Resource):
    def trace(self) -> bool:
        return True

    def allowed_methods(self) -> list[str]:
        return ["GET", "PUT"]

    def content_types_provided(self) -> list[tuple[str, Any]]:
        return [("text/plain", "to_text"), ("application/json", "to_text")]

    def content_types_accepted(self) -> list[tuple[str, Any]]:
        return [("text/plain", "from_text")]

    def generate_etag(self) -> str:
        return "v1"

    def from_text(self) -> bool:
        self.request.body.read()
        return True

    def to_text(self) -> str:
        if "boom" in self.request.query:
            raise KeyError("secret")
        return "traced"


def make_app(store: TraceStore) -> Application:
    return Application([("/r", Traced), ("/_trace", TraceResource), ("/_trace/{id}", TraceResource)],
                       traces=store)


def test_trace_records_path_calls_and_response() -> None:
    store = TraceStore(maxsize=3)
    api = webtest.TestApp(make_app(store))
    response = api.put("/r", b"hello body", content_type="text/plain", status=204)
    trace = store.get(response.headers["X-Greenhttp-Trace-Id"])
    assert trace is not None
    assert trace.nodes[0] == "B13" and trace.nodes[-1] == "O20"
    assert trace.request["method"] == "PUT" and trace.request["body"] == "hello body"
    assert trace.response["status"] == 204
    calls = {call["name"]: call for call in trace.calls}
    assert calls["service_available"]["owner"] == "(default)"
    assert calls["content_types_accepted"]["owner"] == "Traced"
    assert calls["content_types_accepted"]["result"] == "[('text/plain', 'from_text')]"
    assert calls["from_text"]["source"].endswith(f"{pathlib.Path(__file__).name}:{Traced.from_text.__code__.co_firstlineno}")

    # JSON of the same, through the debugger itself
    data = api.get(f"/_trace/{trace.id}", headers={"Accept": "application/json"}).json
    assert data["nodes"] == trace.nodes and data["response"]["status"] == 204
    api.get("/_trace/nope", status=404)


def test_exception_is_in_the_trace_not_the_response() -> None:
    store = TraceStore()
    api = webtest.TestApp(make_app(store))
    response = api.get("/r?boom=1", status=500)
    assert b"secret" not in response.body and b"Traceback" not in response.body
    trace = store.get(response.headers["X-Greenhttp-Trace-Id"])
    failed = [call for call in trace.calls if "error" in call]
    assert failed[0]["name"] == "to_text" and "KeyError" in failed[0]["error"]
    assert "Traceback" in failed[0]["traceback"]


def test_store_is_bounded_lru() -> None:
    store = TraceStore(maxsize=3)
    api = webtest.TestApp(make_app(store))
    ids = [api.get("/r").headers["X-Greenhttp-Trace-Id"] for _ in range(5)]
    assert len(store) == 3 and [t.id for t in store] == ids[:1:-1]
    listing = api.get("/_trace", headers={"Accept": "application/json"}).json
    assert [item["id"] for item in listing] == ids[:1:-1]
    assert all(f"/_trace/{i}" in api.get("/_trace").text for i in ids[2:])


def test_file_store_is_shared_between_processes_and_bounded(tmp_path: pathlib.Path) -> None:
    # Two applications over one directory stand for two worker processes: a trace one
    # records is served by the other's debugger. The store keeps the newest maxsize.
    recorder = webtest.TestApp(make_app(FileTraceStore(str(tmp_path / "traces"), maxsize=3)))
    viewer_store = FileTraceStore(str(tmp_path / "traces"), maxsize=3)
    viewer = webtest.TestApp(make_app(viewer_store))
    response = recorder.put("/r", b"hello body", content_type="text/plain", status=204)
    trace_id = response.headers["X-Greenhttp-Trace-Id"]
    data = viewer.get(f"/_trace/{trace_id}", headers={"Accept": "application/json"}).json
    assert data["nodes"][0] == "B13" and data["response"]["status"] == 204
    assert data["request"]["body"] == "hello body"
    assert f'data-node="B13"' in viewer.get(f"/_trace/{trace_id}").text  # the SVG page renders too
    ids = [trace_id] + [recorder.get("/r").headers["X-Greenhttp-Trace-Id"] for _ in range(4)]
    assert len(viewer_store) == 3 and [t.id for t in viewer_store] == ids[:1:-1]
    assert sorted(p.name.split("-")[1] for p in (tmp_path / "traces").iterdir()) == sorted(f"{i}.json" for i in ids[2:])
    # Ids are checked before any file is opened.
    (tmp_path / "secret.json").write_text('{"id": "x"}')
    assert viewer_store.get("../secret") is None
    viewer.get("/_trace/..%2Fsecret", status=404)
    viewer.get(f"/_trace/{ids[0]}", status=404)  # dropped by the bound


def test_untraced_resources_leave_no_trace() -> None:
    store = TraceStore()
    response = webtest.TestApp(Application([("/x", Resource)], traces=store)).get("/x")
    assert "X-Greenhttp-Trace-Id" not in response.headers and len(store) == 0


def test_svg_drawn_from_the_table() -> None:
    store = TraceStore()
    api = webtest.TestApp(make_app(store))
    trace_id = api.get("/r", headers={"Accept": "application/json"}).headers["X-Greenhttp-Trace-Id"]
    page = api.get(f"/_trace/{trace_id}").text
    for node_id in NODES:
        assert f'data-node="{node_id}"' in page
    trace = store.get(trace_id)
    assert page.count('class="node visited"') == len(set(trace.nodes))


def test_traced_path_is_highlighted_in_chromium(browser: Any) -> None:
    from selenium.webdriver.common.by import By

    store = TraceStore()
    with running(make_app(store)) as server:
        base = f"http://127.0.0.1:{server.address[1]}"
        response = requests.get(f"{base}/r", headers={"If-None-Match": '"v1"'})
        assert response.status_code == 304
        trace = store.get(response.headers["X-Greenhttp-Trace-Id"])
        browser.get(f"{base}/_trace")
        browser.find_element(By.LINK_TEXT, trace.id).click()
        highlighted = {el.get_attribute("data-node")
                       for el in browser.find_elements(By.CSS_SELECTOR, "svg .node.visited")}
        assert highlighted == set(trace.nodes) and {"K13", "J18"} <= highlighted
        # the highlight is what the browser paints, not just a class name
        fill = browser.find_element(By.ID, "node-K13").find_element(By.TAG_NAME, "rect").value_of_css_property("fill")
        plain = browser.find_element(By.ID, "node-O18").find_element(By.TAG_NAME, "rect").value_of_css_property("fill")
        assert fill != plain
        final = browser.find_element(By.CSS_SELECTOR, "svg .status.visited")
        assert final.get_attribute("data-status") == "304" and final.get_attribute("data-from") == "J18"
        taken = {(el.get_attribute("data-from"), el.get_attribute("data-to"))
                 for el in browser.find_elements(By.CSS_SELECTOR, "svg .edge.taken")}
        assert ("K13", "J18") in taken and ("J18", "304") in taken
        # clicking a node shows its callbacks
        browser.find_element(By.ID, "node-K13").click()
        panel = browser.find_element(By.ID, "calls-K13")
        assert panel.is_displayed() and "generate_etag()" in panel.text and "'v1'" in panel.text
        assert browser.find_element(By.ID, "selected").text == "K13"
