"""The apps every server in ``benchmarks/servers.py`` serves.

``app`` is the WSGI app (greenhttp, gevent.pywsgi, gunicorn); ``asgi_app`` is the
same thing in ASGI for uvicorn. Both must stay behaviourally identical so the
benchmark compares servers, not apps:

* ``GET /``        -> 200, ``Hello, World!`` (13 bytes) with Content-Length.
* ``GET /stream``  -> 200, 10 MiB in 64 KiB chunks with Content-Length.
* ``POST /upload`` -> 200, reads the body in 64 KiB reads, answers the byte count.

Stdlib only: greenhttp loads this file by path (``benchmarks/apps.py:app``) in its
own venv, which has none of the peers' packages.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable, Iterator

HELLO = b"Hello, World!"
CHUNK_SIZE = 64 * 1024
STREAM_SIZE = 10 * 1024 * 1024
# One preallocated chunk, yielded again and again: the app must cost ~nothing so
# that what is measured is the server's I/O path, not bytes allocation.
CHUNK = b"x" * CHUNK_SIZE
STREAM_CHUNKS = STREAM_SIZE // CHUNK_SIZE

StartResponse = Callable[..., Any]


def _stream_body() -> Iterator[bytes]:
    for _ in range(STREAM_CHUNKS):
        yield CHUNK


def _read_upload(environ: dict[str, Any]) -> int:
    """Read the request body in 64 KiB reads; return how many bytes came.

    Never reads past CONTENT_LENGTH (PEP 3333 leaves that undefined), and stops
    at an early empty read so a truncated upload cannot spin.
    """
    stream = environ["wsgi.input"]
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    total = 0
    while remaining > 0:
        data = stream.read(min(CHUNK_SIZE, remaining))
        if not data:
            break
        total += len(data)
        remaining -= len(data)
    return total


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/" and method in ("GET", "HEAD"):
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(HELLO)))])
        return [HELLO]
    if path == "/stream" and method == "GET":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(STREAM_SIZE))])
        return _stream_body()
    if path == "/upload" and method == "POST":
        body = str(_read_upload(environ)).encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"Not Found"]


# --- ASGI twin for uvicorn ---------------------------------------------------

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _start(status: int, content_type: bytes, length: int) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status,
            "headers": [(b"content-type", content_type),
                        (b"content-length", str(length).encode())]}


async def _lifespan(receive: Receive, send: Send) -> None:
    # Answer lifespan events so uvicorn does not log "ASGI 'lifespan' unsupported".
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def asgi_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path, method = scope["path"], scope["method"]
    if path == "/" and method in ("GET", "HEAD"):
        await send(_start(200, b"text/plain", len(HELLO)))
        await send({"type": "http.response.body", "body": HELLO})
    elif path == "/stream" and method == "GET":
        await send(_start(200, b"application/octet-stream", STREAM_SIZE))
        for _ in range(STREAM_CHUNKS - 1):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": CHUNK})
    elif path == "/upload" and method == "POST":
        # ASGI hands over the body in whatever pieces the server read; counting
        # them is the equivalent of the WSGI app's 64 KiB reads.
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            total += len(message.get("body", b""))
            more = message.get("more_body", False)
        body = str(total).encode()
        await send(_start(200, b"text/plain", len(body)))
        await send({"type": "http.response.body", "body": body})
    else:
        await send(_start(404, b"text/plain", 9))
        await send({"type": "http.response.body", "body": b"Not Found"})
