"""Client benchmark: N small GETs from C greenlets against a local nginx, greenhttp's
client next to geventhttpclient, urllib3, requests and httpx (all under gevent), plus
a 1 GiB streamed download (throughput and peak RSS).

Each client runs in its own subprocess (monkey-patched, with its own pool sized to C),
in alternating rounds so that machine drift hits every client alike; the summary is
the median per client and the median of the paired per-round ratios greenhttp/peer.
nginx runs one worker from a generated config in a temp dir, pinned to the last CPU,
the clients to the others. Load goes to 127.0.0.1 only; every wait is bounded.

    /tmp/clientpeers/bin/python benchmarks/client.py            # 3 rounds, N=20000, C=50
    /tmp/clientpeers/bin/python benchmarks/client.py --rounds 1 -n 5000 --clients greenhttp,geventhttpclient

See benchmarks/README.md ("Client benchmark") for the setup.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import nginx_conf, wait_port  # noqa: E402

CLIENTS = ("greenhttp", "geventhttpclient", "urllib3", "requests", "httpx")
GIB = 1024 ** 3
GZIP_MIB = 256

def client_nginx_conf(tmp: str, port: int, user: str) -> str:
    """The nginx the clients talk to: /hello, the 1 GiB file, and gzip on the fly."""
    return nginx_conf(tmp, "nginx", user, f"""
    sendfile on;
    tcp_nopush on;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {tmp}/www;
        location = /hello {{ default_type text/plain; return 200 "Hello, World!"; }}
        # gzip-decoded download: nginx compresses on the fly (level 1, chunked).
        location /gz/ {{ gzip on; gzip_comp_level 1; gzip_types text/plain; default_type text/plain; }}
    }}""", worker_connections=4096)


# -- one client run (in a subprocess) ---------------------------------------------------


def run_small_gets(name: str, url: str, total: int, concurrency: int, max_secs: float) -> dict[str, float]:
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import gevent.pool

    per_greenlet = total // concurrency

    if name == "greenhttp":
        import greenhttp

        pool = greenhttp.Pool(max_per_host=concurrency)
        client = greenhttp.Client(pool=pool, cookies=False)

        def one() -> None:
            assert client.get(url).content == b"Hello, World!"
    elif name == "geventhttpclient":
        from geventhttpclient import HTTPClient, URL

        parsed = URL(url)
        ghc = HTTPClient.from_url(parsed, concurrency=concurrency)

        def one() -> None:
            response = ghc.get(parsed.request_uri)
            assert response.read() == b"Hello, World!"
    elif name == "urllib3":
        import urllib3

        manager = urllib3.PoolManager(maxsize=concurrency, block=True)

        def one() -> None:
            assert manager.request("GET", url).data == b"Hello, World!"
    elif name == "requests":
        import requests

        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=concurrency, pool_block=True)
        session.mount("http://", adapter)

        def one() -> None:
            assert session.get(url).content == b"Hello, World!"
    elif name == "httpx":
        import httpx

        hx = httpx.Client(limits=httpx.Limits(max_connections=concurrency,
                                              max_keepalive_connections=concurrency))

        def one() -> None:
            assert hx.get(url).content == b"Hello, World!"
    else:
        raise SystemExit(f"unknown client {name}")

    done = [0]
    stop_at = [float("inf")]

    def worker(count: int) -> None:
        # Bounded in count and in time: the slowest peers (requests, httpx under
        # gevent) would otherwise take minutes per round.
        for _ in range(count):
            if time.perf_counter() > stop_at[0]:
                return
            one()
            done[0] += 1

    # warm-up: open the connections, import lazily-imported modules
    gevent.joinall([gevent.spawn(worker, 5) for _ in range(concurrency)], raise_error=True)
    done[0] = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    stop_at[0] = started + max_secs
    gevent.joinall([gevent.spawn(worker, per_greenlet) for _ in range(concurrency)], raise_error=True)
    elapsed = time.perf_counter() - started
    # The client process's own CPU (user + system, every thread) per completed GET: what
    # a request costs the caller with C requests in flight, whatever share of the
    # machine it was given (req/s swings with the load, this barely does).
    cpu_us = (time.process_time() - cpu_started) / max(done[0], 1) * 1e6
    return {"rps": done[0] / elapsed, "cpu_us": cpu_us}


def run_download(url: str) -> dict[str, float]:
    from gevent import monkey

    monkey.patch_all()
    import resource

    import greenhttp

    started = time.perf_counter()
    received = 0
    with greenhttp.get(url, stream=True, timeout=greenhttp.Timeout(30)) as response:
        for chunk in response.body:
            received += len(chunk)
    elapsed = time.perf_counter() - started
    assert received == GIB, received
    return {"gib_s": received / GIB / elapsed,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_gzip_download(url: str) -> dict[str, float]:
    from gevent import monkey

    monkey.patch_all()
    import resource

    import greenhttp

    started = time.perf_counter()
    received = 0
    with greenhttp.get(url, stream=True, timeout=greenhttp.Timeout(60)) as response:
        assert response.headers.get("content-encoding") == "gzip"
        for chunk in response.body:
            received += len(chunk)
    elapsed = time.perf_counter() - started
    assert received == GZIP_MIB << 20, received
    return {"mib_s": received / 2**20 / elapsed,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# -- orchestration --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_nginx(tmp: str, cpus: list[int], port: int | None = None) -> tuple[subprocess.Popen, int]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        raise SystemExit("nginx not found: apt-get update -qq && apt-get install -y -qq nginx-light")
    port = port or free_port()
    os.makedirs(f"{tmp}/www")
    with open(f"{tmp}/www/1g.bin", "wb") as f:
        f.truncate(GIB)  # sparse: no disk traffic, nginx sendfile()s from the page cache
    os.makedirs(f"{tmp}/www/gz")
    # 256 MiB of hex text (~2:1 with gzip): a 1 MiB block repeats, beyond deflate's 32 KiB window.
    block = b"".join(b"%08d %064x\n" % (i, i * 0x9E3779B97F4A7C15) for i in range(15000))[:1 << 20]
    with open(f"{tmp}/www/gz/text.txt", "wb") as f:
        for _ in range(GZIP_MIB):
            f.write(block)
    user = "user root;" if os.geteuid() == 0 else ""
    with open(f"{tmp}/nginx.conf", "w") as f:
        f.write(client_nginx_conf(tmp, port, user))
    command = [binary, "-p", tmp, "-c", f"{tmp}/nginx.conf", "-e", f"{tmp}/nginx-error.log"]
    if cpus and shutil.which("taskset"):
        command = ["taskset", "-c", ",".join(map(str, cpus))] + command
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port, process, f"nginx (see {tmp}/nginx-error.log)")
    return process, port


def child(args: list[str], cpus: list[int]) -> dict:
    command = [sys.executable, os.path.abspath(__file__)] + args
    if cpus and shutil.which("taskset"):
        command = ["taskset", "-c", ",".join(map(str, cpus))] + command
    out = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-n", "--requests", type=int, default=20000)
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--max-secs", type=float, default=5.0,
                        help="stop a client's run after this long even if N is not reached")
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument("--port", type=int, help="nginx's port (default: a free one)")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run == "download":
        print(json.dumps(run_download(args.url)))
        return
    if args.run == "gzip-download":
        print(json.dumps(run_gzip_download(args.url)))
        return
    if args.run:
        print(json.dumps(run_small_gets(args.run, args.url, args.requests, args.concurrency,
                                        args.max_secs)))
        return

    ncpu = os.cpu_count() or 1
    server_cpus = [ncpu - 1] if ncpu > 1 else []
    client_cpus = list(range(ncpu - 1)) if ncpu > 1 else []
    clients = [c for c in args.clients.split(",") if c]
    tmp = tempfile.mkdtemp(prefix="greenhttp-client-bench-")
    # SIGTERM runs the finally below too, so nginx never outlives the benchmark.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    process, port = start_nginx(tmp, server_cpus, args.port)
    hello = f"http://127.0.0.1:{port}/hello"
    # per client: {round: req/s}; ratios pair only the rounds where both clients ran
    results: dict[str, dict[int, float]] = {c: {} for c in clients}
    cpu: dict[str, list[float]] = {c: [] for c in clients}  # client CPU us per GET, per round
    downloads: list[dict] = []
    gzip_downloads: list[dict] = []
    print(f"# {args.requests} GETs of 13 bytes from {args.concurrency} greenlets, nginx 1 worker, "
          f"{args.rounds} rounds; python {sys.version.split()[0]}, {ncpu} CPUs", flush=True)
    try:
        for round_no in range(args.rounds):
            order = clients[round_no % len(clients):] + clients[:round_no % len(clients)]
            for name in order:
                result = child(["--run", name, "--url", hello, "-n", str(args.requests),
                                "-c", str(args.concurrency), "--max-secs", str(args.max_secs)], client_cpus)
                if "error" in result:
                    print(f"round {round_no + 1} {name:>16}: FAILED {result['error']}", flush=True)
                    continue
                results[name][round_no] = result["rps"]
                cpu[name].append(result["cpu_us"])
                print(f"round {round_no + 1} {name:>16}: {result['rps']:9.0f} req/s, "
                      f"{result['cpu_us']:6.1f} us CPU per GET", flush=True)
                time.sleep(0.5)
            if not args.no_download:
                result = child(["--run", "download", "--url", f"http://127.0.0.1:{port}/1g.bin"], client_cpus)
                if "error" not in result:
                    downloads.append(result)
                    print(f"round {round_no + 1} {'1 GiB download':>16}: {result['gib_s']:.2f} GiB/s, "
                          f"peak RSS {result['rss_mib']:.0f} MiB", flush=True)
                else:
                    print(f"round {round_no + 1} download FAILED {result['error']}", flush=True)
                result = child(["--run", "gzip-download", "--url", f"http://127.0.0.1:{port}/gz/text.txt"],
                               client_cpus)
                if "error" not in result:
                    gzip_downloads.append(result)
                    print(f"round {round_no + 1} {'gzip download':>16}: {result['mib_s']:.0f} MiB/s decoded, "
                          f"peak RSS {result['rss_mib']:.0f} MiB", flush=True)
                else:
                    print(f"round {round_no + 1} gzip download FAILED {result['error']}", flush=True)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    print("\n| client | req/s (median) | client CPU per GET, us (median) | greenhttp / client (median of paired rounds) |")
    print("| --- | ---: | ---: | ---: |")
    base = results.get("greenhttp", {})
    for name in clients:
        values = results[name]
        if not values:
            print(f"| {name} | failed | | |")
            continue
        ratio = ""
        pairs = [base[r] / values[r] for r in sorted(values) if r in base]
        if pairs and name != "greenhttp":
            ratio = f"{statistics.median(pairs):.2f}x [" + ", ".join(f"{p:.2f}" for p in pairs) + "]"
        print(f"| {name} | {statistics.median(values.values()):.0f} | {statistics.median(cpu[name]):.1f} | {ratio} |")
    if downloads:
        print(f"\n1 GiB streamed download (greenhttp): median "
              f"{statistics.median(d['gib_s'] for d in downloads):.2f} GiB/s, peak RSS "
              f"{max(d['rss_mib'] for d in downloads):.0f} MiB")
    if gzip_downloads:
        print(f"{GZIP_MIB} MiB gzip download decoded as it streams (greenhttp, nginx gzip_comp_level 1): "
              f"median {statistics.median(d['mib_s'] for d in gzip_downloads):.0f} MiB/s, peak RSS "
              f"{max(d['rss_mib'] for d in gzip_downloads):.0f} MiB")


if __name__ == "__main__":
    main()
