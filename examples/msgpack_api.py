"""A small notes API that speaks JSON and msgpack, and a client that uses both.

Serve it:   greenhttp examples/msgpack_api.py -p 8080
Use it:     python examples/msgpack_api.py http://127.0.0.1:8080
    or      curl -X POST -H 'Content-Type: application/json' -d '{"text": "hi"}' localhost:8080/notes

Requests may be JSON or msgpack (by Content-Type); answers are JSON or msgpack (by Accept).
A malformed body gets 400, an unknown Content-Type 415, an Accept of neither 406.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterable

import greenhttp

# --8<-- [start:app]
NOTES: dict[int, dict[str, Any]] = {}


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if path == "/notes" and method == "GET":
        return greenhttp.respond(environ, start_response, list(NOTES.values()))
    if path == "/notes" and method == "POST":
        try:
            note = greenhttp.read_body(environ)  # JSON or msgpack, by Content-Type
        except greenhttp.ProtocolError as exc:  # 400 malformed, 413 too large, 415 other type
            return greenhttp.respond(environ, start_response, {"error": str(exc)}, exc.status_hint)
        if not _valid(note):
            return greenhttp.respond(environ, start_response, {
                "error": 'expected {"text": string, "tags": [string, ...] (optional)}'}, 422)
        note_id = len(NOTES) + 1
        NOTES[note_id] = {"id": note_id, "text": note["text"], "tags": note.get("tags", [])}
        return greenhttp.respond(environ, start_response, NOTES[note_id], 201,
                                 [("Location", f"/notes/{note_id}")])
    if path.startswith("/notes/") and method == "GET":
        note_id = int(path[7:]) if path[7:].isdigit() else 0
        if note_id in NOTES:
            return greenhttp.respond(environ, start_response, NOTES[note_id])
    return greenhttp.respond(environ, start_response, {"error": f"no route for {method} {path}"}, 404)


def _valid(note: Any) -> bool:
    # A decoded body is whatever the client sent: check the shape before using it.
    tags = note.get("tags", []) if isinstance(note, dict) else None
    return (isinstance(note, dict) and isinstance(note.get("text"), str)
            and isinstance(tags, list) and all(isinstance(tag, str) for tag in tags))
# --8<-- [end:app]


# --8<-- [start:client]
def demo(base_url: str) -> dict[str, Any]:
    """Create a note in msgpack, read it back in msgpack and in JSON."""
    created = greenhttp.post(f"{base_url}/notes", msgpack={"text": "bytes, not text", "tags": ["demo"]},
                             headers={"Accept": "application/msgpack"})
    created.raise_for_status()
    note = created.msgpack()
    as_msgpack = greenhttp.get(f"{base_url}/notes/{note['id']}",
                               headers={"Accept": "application/msgpack"}).msgpack()
    as_json = greenhttp.get(f"{base_url}/notes/{note['id']}").json()
    assert as_msgpack == as_json == note
    return note
# --8<-- [end:client]


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    print(demo(url.rstrip("/")))
