"""A broadcast chat over WebSockets: `greenhttp examples/chat.py`, then open the URL in
two browser tabs. GET / is the page; /ws is the WebSocket every tab joins. Each message a
tab sends goes to every connected tab. One greenlet per WebSocket, no threads, no broker.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from greenhttp.websocket import ConnectionClosed, WebSocket, endpoint

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>greenhttp chat</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}#log{border:1px solid #ccc;
height:20em;overflow-y:auto;padding:.5em;white-space:pre-wrap}</style></head>
<body><h1>greenhttp chat</h1>
<div id="status">connecting...</div>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" size="50" autofocus><button>Send</button></form>
<script>
const log = document.getElementById("log");
const status = document.getElementById("status");
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
ws.onopen = () => { status.textContent = "connected"; };
ws.onclose = (e) => { status.textContent = "closed " + e.code; };
ws.onmessage = (e) => {
  const line = document.createElement("div");
  line.className = "message";
  line.textContent = e.data;
  log.appendChild(line);
  log.scrollTop = log.scrollHeight;
};
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  if (input.value) { ws.send(input.value); input.value = ""; }
};
</script></body></html>
"""

# --8<-- [start:chat]
#: Everyone connected. A set of WebSocket objects: a member that left is removed by
#: its own greenlet when its receive loop ends.
members: set[WebSocket] = set()


def broadcast(text: str) -> None:
    for member in list(members):
        try:
            member.send(text)
        except ConnectionClosed:
            members.discard(member)


@endpoint
def chat(ws: WebSocket) -> None:
    members.add(ws)
    broadcast(f"* someone joined ({len(members)} here)")
    try:
        for message in ws:
            if isinstance(message, str):
                broadcast(message[:1000])
    finally:
        members.discard(ws)
        broadcast(f"* someone left ({len(members)} here)")
# --8<-- [end:chat]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/ws":
        return chat(environ, start_response)
    if environ["PATH_INFO"] == "/":
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(PAGE)))])
        return [PAGE]
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]
