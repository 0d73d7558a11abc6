"""A large generated download (a CSV of any size) streamed in constant memory.

Run:   greenhttp examples/stream_download.py -p 8080
       curl -o rows.csv 'localhost:8080/rows.csv?rows=10000000'     (~340 MB)
       curl -o rows.csv 'localhost:8080/rows-write.csv?rows=10000000'   (the same, pushed with write())

The body is a generator: the server sends each chunk as it is made, and the
generator runs only as fast as the client reads (a full socket buffer blocks the
send, which suspends the generator). Memory stays at one chunk whatever the size.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator
from urllib.parse import parse_qs

import gevent

# --8<-- [start:download]
ROWS_PER_CHUNK = 2000  # ~120 KB per chunk: few enough sends to be fast, small enough to not matter


def row(n: int) -> str:
    # Deterministic content, so a client (or a test) can check any part of the file.
    return f"{n},{n * 7919 % 1000003},item-{n:09d},{(n % 997) / 10:.1f}\n"


def csv_rows(count: int) -> Iterator[bytes]:
    yield b"id,checksum,name,price\n"
    for start in range(0, count, ROWS_PER_CHUNK):
        yield "".join(row(n) for n in range(start, min(start + ROWS_PER_CHUNK, count))).encode()
        # Making rows is CPU work; against a fast client the sends never block, so give
        # other greenlets (other requests) a turn after each chunk.
        gevent.sleep(0)


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path not in ("/rows.csv", "/rows-write.csv"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /rows.csv?rows=1000000\n"]
    try:
        count = int(parse_qs(environ["QUERY_STRING"]).get("rows", ["1000000"])[0])
    except ValueError:
        count = -1
    if not 0 <= count <= 10**9:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"rows must be an integer from 0 to 1000000000\n"]
    # No Content-Length: the size is known only once the rows are made, so the server
    # sends the body chunked (HTTP/1.1) or until close (HTTP/1.0).
    write = start_response("200 OK", [("Content-Type", "text/csv; charset=utf-8"),
                                      ("Content-Disposition", 'attachment; filename="rows.csv"')])
    if path == "/rows.csv":
        return csv_rows(count)  # the server pulls: the usual way
    # --8<-- [start:write]
    # The same body pushed with PEP 3333's write(): each call sends at once and waits
    # while the client is slow, so this streams too. For code written to push.
    for chunk in csv_rows(count):
        write(chunk)
    return []
    # --8<-- [end:write]
# --8<-- [end:download]
