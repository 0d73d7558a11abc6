"""``TraceResource``: the visual debugger, itself a Resource.

Mount it twice, for the list and for one trace::

    Application(routes=[..., ("/_trace", TraceResource), ("/_trace/{id}", TraceResource)])

``/_trace`` lists recent traces (HTML, or JSON with ``Accept: application/json``);
``/_trace/{id}`` draws the decision graph from the table with the request's path
highlighted, and each node's callback calls shown on hover and on click. Development
only: a trace holds request headers and body previews. Never mount it in production.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from . import svg
from .resource import Resource
from .trace import DEFAULT_STORE, Trace, Traces

_SCRIPT = """
document.querySelectorAll('.decision-graph .node').forEach(function (node) {
  node.addEventListener('click', function () {
    var id = node.getAttribute('data-node');
    document.querySelectorAll('.calls').forEach(function (el) { el.hidden = true; });
    var panel = document.getElementById('calls-' + id);
    if (panel) { panel.hidden = false; }
    document.getElementById('selected').textContent = id;
  });
});
"""


class TraceResource(Resource):
    def __init__(self) -> None:
        app = self.request.environ.get("greenhttp.resource.application")
        self.store: Traces = getattr(app, "traces", DEFAULT_STORE)
        self.trace_id = self.path_params.get("id")
        self.record: Trace | None = self.store.get(self.trace_id) if self.trace_id else None

    def content_types_provided(self) -> list[tuple[str, Any]]:
        return [("text/html", "to_html"), ("application/json", "to_json")]

    def resource_exists(self) -> bool:
        return self.trace_id is None or self.record is not None

    def to_json(self) -> str:
        if self.record is None:
            return json.dumps([_summary(trace) for trace in self.store])
        return json.dumps(self.record.to_dict())

    def to_html(self) -> str:
        if self.record is None:
            return self._list()
        return self._one(self.record)

    def _list(self) -> str:
        base = self.request.path.rstrip("/")
        rows = "".join(
            f'<tr><td><a href="{escape(base)}/{trace.id}">{trace.id}</a></td>'
            f"<td>{escape(s['method'])}</td><td>{escape(s['path'])}</td><td>{s['status']}</td>"
            f"<td>{escape(s['time'])}</td></tr>"
            for trace in self.store for s in [_summary(trace)])
        return _page("Traces", f"<h1>Recent traces</h1><table><tr><th>id</th><th>method</th><th>URL</th>"
                               f"<th>status</th><th>time</th></tr>{rows}</table>")

    def _one(self, trace: Trace) -> str:
        status = trace.response.get("status")
        graph = svg.render(trace.nodes, status, trace.calls)
        panels = []
        for node_id in dict.fromkeys(trace.nodes):
            calls = [call for call in trace.calls if call.get("node") == node_id]
            items = "".join(
                f"<li><code>{escape(call['name'])}()</code> [{escape(call['owner'])}, "
                f"{escape(call['source'])}] → <code>{escape(call.get('result', call.get('error', '')))}"
                f"</code>{_traceback(call)}</li>" for call in calls)
            panels.append(f'<div class="calls" id="calls-{node_id}" hidden><h3>{node_id}</h3>'
                          f"<ul>{items or '<li>no callbacks</li>'}</ul></div>")
        request, response = trace.request, trace.response
        meta = (f"<h1>{escape(request['method'])} {escape(request['path'])} → {status}</h1>"
                f"<p>path: <span id=\"path\">{' → '.join(trace.nodes)}</span></p>"
                f"<details><summary>request</summary>{_headers(request['headers'])}"
                f"<pre>{escape(request['body'])}</pre></details>"
                f"<details><summary>response</summary>{_headers(response.get('headers', []))}"
                f"<pre>{escape(str(response.get('body', '')))}</pre></details>"
                f"<p>Click a node for its callbacks; selected: <b id=\"selected\">none</b></p>")
        return _page(f"Trace {trace.id}", meta + "<div id=\"panels\">" + "".join(panels) + "</div>" + graph,
                     script=_SCRIPT)


def _summary(trace: Trace) -> dict[str, Any]:
    return {"id": trace.id, "method": trace.request["method"], "path": trace.request["path"],
            "status": trace.response.get("status"),
            "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(trace.started))}


def _traceback(call: dict[str, Any]) -> str:
    if "traceback" not in call:
        return ""
    return f"<details><summary>traceback</summary><pre>{escape(call['traceback'])}</pre></details>"


def _headers(headers: list[Any]) -> str:
    return "<pre>" + escape("\n".join(f"{name}: {value}" for name, value in headers)) + "</pre>"


def _page(title: str, body: str, script: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>body {{ font: 14px sans-serif; margin: 1em; }} .calls {{ background: #fffbe6; "
            f"padding: .5em; }} {svg.STYLE}</style></head><body>{body}"
            f"<script>{script}</script></body></html>")
