"""One small keep-alive GET through greenhttp's client, profiled: where the microseconds go.

    .venv/bin/python benchmarks/client_profile.py                 # CPU/GET + cProfile top 25
    .venv/bin/python benchmarks/client_profile.py -n 5000 --stages

A greenhttp server (``apps.py:app``, 13 bytes) runs in a child process so that only the
client's CPU is counted; the client sends ``-n`` sequential GETs on one keep-alive
connection under gevent (monkey-patched), and reports CPU time per GET
(``time.process_time``, best of 3), the cProfile call count per GET (deterministic: the
figure to compare between commits) and the top functions by own time. ``--stages`` times
each stage of a GET on its own (URL/route, headers, request head, pool checkout and
release, response parse, Response). Not part of the test suite.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import wait_port  # noqa: E402

HERE = Path(__file__).resolve().parent

SERVER = """
import sys
sys.path.insert(0, {here!r})
import apps, greenhttp
greenhttp.serve(apps.app, "127.0.0.1", {port}, access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int | None = None) -> tuple[subprocess.Popen, int]:
    port = port or free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER.format(here=str(HERE), port=port)])
    wait_port(port, process, "the server")
    return process, port


def stages(url: str, n: int) -> None:
    from greenhttp.client import routing, send as send_module
    from greenhttp.client.pool import default_pool
    from greenhttp.protocol import ClientProtocol

    parsed = routing._parse_url(url)
    pool = default_pool()
    route = routing._route_for(parsed, None, True, None, pool.connector)
    raw = b"HTTP/1.1 200 OK\r\nServer: greenhttp\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"

    def url_route() -> None:
        u = routing._parse_url(url)
        routing._route_for(u, routing._select_proxy(u, None), True, None, pool.connector)

    def head() -> None:
        p = ClientProtocol()
        p.request_head("GET", "/", [("Host", "127.0.0.1"), ("User-Agent", "x"), ("Accept", "*/*"),
                                    ("Accept-Encoding", "gzip")], None, False)

    def parse() -> None:
        p = ClientProtocol()
        p.request_head("GET", "/", [], None, False)
        p.receive_data(raw)
        while p.next_event() is not None and not p.response_complete:
            pass

    conn = pool.checkout(route.key, lambda: None, None, route.label)
    pool.checkin(conn, True)

    def checkout_release() -> None:
        c = pool.checkout(route.key, lambda: None, None, route.label)
        pool.checkin(c, True)

    for name, fn in (("URL + proxy + route", url_route), ("request head (protocol)", head),
                     ("response parse (protocol)", parse), ("pool checkout + checkin", checkout_release)):
        best = min(timeit.repeat(fn, number=n, repeat=3)) / n
        print(f"  {name:28} {best * 1e6:6.1f} us")


# The stages of one GET, as the functions that do them (cProfile's inclusive time of
# each, as a share of the whole, scaled to the measured CPU per GET: the profiler's own
# overhead inflates many small calls more than a few big ones, so read these as shares).
STAGES = (
    ("URL / proxy / route", ("routing.py", ("_parse_url", "_select_proxy", "_route_for"))),
    ("head fields", ("send.py", ("head_fields",))),
    ("pool checkout", ("pool.py", ("checkout",))),
    ("request head (protocol)", ("client.py", ("request_head",))),
    ("write (sendall)", ("transport.py", ("write",))),
    ("read + parse head and body", ("exchange.py", ("read_head",))),
    ("drain parsed body", ("exchange.py", ("_drain_buffered",))),
    ("release (checkin)", ("pool.py", ("checkin",))),
    ("Response object", ("response.py", ("__init__",))),
    ("whole GET", ("session.py", ("get",))),
)


def print_stages(stats: pstats.Stats, cpu_per_get: float) -> None:
    table = stats.stats  # type: ignore[attr-defined]
    whole = sum(v[3] for k, v in table.items() if k[0].endswith("session.py") and k[2] == "get")
    print("stage                          share   ~us/GET")
    staged = 0.0
    for label, (filename, names) in STAGES:
        inclusive = sum(v[3] for k, v in table.items() if k[0].endswith(filename) and k[2] in names)
        if label != "whole GET":
            staged += inclusive
        else:
            rest = whole - staged
            print(f"  {'the rest (request/send glue)':28} {rest / whole:6.1%}  {rest / whole * cpu_per_get * 1e6:6.1f}")
        print(f"  {label:28} {inclusive / whole:6.1%}  {inclusive / whole * cpu_per_get * 1e6:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--stages", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--port", type=int, help="the server's port (default: a free one)")
    args = parser.parse_args()

    import greenhttp

    process, port = start_server(args.port)
    url = f"http://127.0.0.1:{port}/"
    try:
        client = greenhttp.Client(cookies=False)
        for _ in range(200):
            assert client.get(url).content == b"Hello, World!"
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for _ in range(args.n):
                client.get(url).content
            best = min(best, (time.process_time() - started) / args.n)
        print(f"client CPU per GET: {best * 1e6:.1f} us (best of 3 x {args.n})")
        profile = cProfile.Profile(time.process_time)  # CPU, not the wait for the server
        profile.enable()
        for _ in range(args.n):
            client.get(url).content
        profile.disable()
        stats = pstats.Stats(profile)
        print(f"calls per GET (cProfile): {stats.total_calls / args.n:.1f}")  # type: ignore[attr-defined]
        print_stages(stats, best)
        if args.top:
            stats.sort_stats("tottime").print_stats(args.top)
        if args.stages:
            stages(url, args.n)
    finally:
        process.terminate()
        process.wait(5)


if __name__ == "__main__":
    main()
