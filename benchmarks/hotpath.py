"""The server's per-request Python path with no socket: where the microseconds go.

    .venv/bin/python benchmarks/hotpath.py              # 100,000 keep-alive GETs + stages
    .venv/bin/python benchmarks/hotpath.py -n 20000 --profile

Drives the real connection loop (:class:`HTTPConnection` over
``greenhttp.server.testing.FakeSocket``: keep-alive, the WSGI adapter, the protocol
core) with the same small GET again and again, answered by ``apps.py:app`` (13 bytes) behind ``ProxyHeaders`` as the CLI serves it,
and reports CPU time per request (``time.process_time``, best of 3: a shared machine
slows wall time far more than CPU time). Then it times each stage on its own. No
kernel, no hub: what is left over between the stages and the total is the loop's own
glue (``_serve``/``_read_head``/``_handle``, the adapter's closures, output buffering).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import timeit
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))

import apps  # noqa: E402  (benchmarks/apps.py)

from greenhttp.body import Body  # noqa: E402
from greenhttp.protocol import ServerProtocol  # noqa: E402
from greenhttp.server.dates import http_date  # noqa: E402
from greenhttp.server.forwarded import ProxyHeaders  # noqa: E402
from greenhttp.server.testing import FakeSocket, connection  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\n\r\n"


class _Replay(FakeSocket):
    """The same request ``count`` times, one per recv; sends are dropped."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def recv(self, size: int) -> bytes:
        if not self.count:
            return b""
        self.count -= 1
        return REQUEST

    def send(self, data: object) -> int:
        return len(data)  # type: ignore[arg-type]


# The app as ``greenhttp APP`` serves it: behind the trusted-proxy-headers middleware.
SERVED_APP = ProxyHeaders(apps.app)


def run(count: int) -> float:
    conn = connection(SERVED_APP, _Replay(count))
    started = time.process_time()
    conn.run()
    return time.process_time() - started


def stages(number: int) -> list[tuple[str, float]]:
    def cost(func: object) -> float:
        return min(timeit.repeat(func, number=number, repeat=5, timer=time.process_time)) / number * 1e6  # type: ignore[arg-type]

    protocol = ServerProtocol()

    def parse() -> object:
        protocol.receive_data(REQUEST)
        head = protocol.next_event()
        protocol.next_event()
        protocol.start_next_cycle()
        return head

    head = parse()
    conn = connection(apps.app, FakeSocket())
    handler = conn.server.handler
    body = Body.empty()
    environ = handler.environ(conn, head, body)  # type: ignore[attr-defined]
    headers = [("Content-Type", "text/plain"), ("Content-Length", "13")]
    return [
        ("parse: receive_data + 2 next_event (llhttp, 6 callbacks, RequestHead)", cost(parse)),
        ("environ: WSGI environ for the request", cost(lambda: handler.environ(conn, head, body))),  # type: ignore[attr-defined]
        ("app: apps.app (route, start_response stub, list)",
         cost(lambda: apps.app(environ, lambda status, headers, exc_info=None: None))),
        ("head: response_head (validated head + body writer)",
         cost(lambda: protocol.response_head(head, 200, "OK", headers, http_date(), "greenhttp", True))),  # type: ignore[arg-type]
        ("date: http_date()", cost(http_date)),
        ("Body.empty()", cost(Body.empty)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="requests per run (default 100,000)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one run")
    opts = parser.parse_args()
    run(2000)  # warm caches (names, heads, environ keys)
    total = min(run(opts.n) for _ in range(3)) / opts.n * 1e6
    print(f"{total:6.2f} us  whole request through HTTPConnection.run (CPU, best of 3)")
    for name, us in stages(max(opts.n // 2, 1000)):
        print(f"{us:6.2f} us  {name}")
    if opts.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run, opts.n)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
