"""Server-Sent Events: one background greenlet broadcasts to every connected client.

Run:   greenhttp examples/events.py -p 8080   and open http://127.0.0.1:8080/
Or:    curl -N localhost:8080/events      (a clock tick every second)
       curl -X POST -d 'hello' localhost:8080/say      (a message to everyone)
       curl localhost:8080/stats

Each client gets a greenhttp.Stream. The ticker greenlet pushes into all of them; when
a client goes away the server abandons its stream, the next send() raises
StreamClosed, and the broadcaster forgets that client. The ticker runs only while
someone listens, so an idle server holds no greenlet at all.
"""

from __future__ import annotations

import json
import time
from typing import Callable, Iterable

import gevent
import gevent.queue

import greenhttp

# --8<-- [start:broadcaster]
class Broadcaster:
    """Fan events out to every subscribed Stream from one greenlet."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.streams: set[greenhttp.Stream] = set()
        self.ticker: gevent.Greenlet | None = None
        self.next_id = 0

    @property
    def clients(self) -> int:
        return len(self.streams)

    def subscribe(self) -> greenhttp.Stream:
        # A small queue: a client that falls this far behind is dropped (see publish),
        # instead of the server buffering for it without bound.
        stream = greenhttp.Stream(maxsize=16)
        stream.send(": connected\n\n")  # an SSE comment: headers go out now, not at the first tick
        self.streams.add(stream)
        if self.ticker is None or self.ticker.dead:
            self.ticker = gevent.spawn(self._tick)
        return stream

    def publish(self, event: str, data: object) -> None:
        self.next_id += 1
        message = f"id: {self.next_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n"
        for stream in list(self.streams):
            try:
                # timeout=0: never let one slow client hold up everyone else's events.
                stream.send(message, timeout=0)
            except greenhttp.StreamClosed:  # the client left; the server abandoned the stream
                self.streams.discard(stream)
            except gevent.queue.Full:  # the client stopped reading: cut it off
                self.streams.discard(stream)
                stream.abort(greenhttp.StreamClosed("client too slow"))

    def _tick(self) -> None:
        # Sending is how a departed client is noticed, so the clock doubles as a heartbeat.
        while self.streams:
            self.publish("tick", {"time": time.time(), "clients": self.clients})
            gevent.sleep(self.interval)
        self.ticker = None


def make_app(broadcaster: Broadcaster) -> Callable[[dict, Callable], Iterable[bytes]]:
    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if path == "/events":
            start_response("200 OK", [("Content-Type", "text/event-stream"),
                                      ("Cache-Control", "no-store"),
                                      # nginx would buffer the stream without this.
                                      ("X-Accel-Buffering", "no")])
            return broadcaster.subscribe()
        if path == "/say" and method == "POST":
            text = environ["wsgi.input"].read(4096).decode("utf-8", "replace")
            broadcaster.publish("message", {"text": text})
            return greenhttp.respond(environ, start_response, {"sent_to": broadcaster.clients})
        if path == "/stats":
            return greenhttp.respond(environ, start_response, {"clients": broadcaster.clients})
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [PAGE.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


broadcaster = Broadcaster()
app = make_app(broadcaster)
# --8<-- [end:broadcaster]

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>greenhttp events</title>
<h1>Events</h1>
<form id="say"><input id="text" placeholder="say something"> <button>Send</button></form>
<pre id="log"></pre>
<script>
const log = document.getElementById("log");
const source = new EventSource("/events");   // reconnects by itself, with Last-Event-ID
source.addEventListener("tick", e => {
  const d = JSON.parse(e.data);
  document.title = new Date(d.time * 1000).toLocaleTimeString() + " - " + d.clients + " client(s)";
});
source.addEventListener("message", e => { log.textContent += JSON.parse(e.data).text + "\\n"; });
document.getElementById("say").addEventListener("submit", e => {
  e.preventDefault();
  fetch("/say", {method: "POST", body: document.getElementById("text").value});
});
</script>
"""
