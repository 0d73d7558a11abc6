"""CPU per request of greenhttp beside uvicorn and granian, serving the shared bench apps.

    bash /work/shared/bench/setup-peers.sh
    .venv/bin/python benchmarks/cpu_peers.py                           # hello, 3 rounds
    .venv/bin/python benchmarks/cpu_peers.py --path /sleep -c 1000     # blocking
    .venv/bin/python benchmarks/cpu_peers.py --path /flask --servers greenhttp,granian

compare.py's req/s ratios swing with how much of the two cores each server gets (granian
spreads its work over a Rust I/O thread and the Python thread; wrk shares the machine).
The CPU each server's process tree spends per request (user + system from /proc over a
wrk run, divided by the requests wrk completed) barely moves with the load: this is the
work each server does for the same request. The servers run at once, started exactly as
compare.py starts them; rounds alternate their order. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_ab import group_cpu  # noqa: E402
from proxy import wait_port  # noqa: E402


def commands(greenhttp_bin: str, peers_bin: str, port: int) -> dict[str, list[str]]:
    # compare.py's command lines (one worker each), so both scripts measure the same servers.
    return {
        "greenhttp": [f"{greenhttp_bin}/greenhttp", "apps.py:app", "-b", "127.0.0.1", "-p", str(port),
                      "--no-access-log"],
        "uvicorn": [f"{peers_bin}/uvicorn", "--no-access-log", "--http", "httptools", "--loop", "uvloop",
                    "--port", str(port), "apps:aapp"],
        "granian": [f"{peers_bin}/granian", "--interface", "wsgi", "--workers", "1", "--port", str(port),
                    "apps:app"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", default="greenhttp,uvicorn,granian")
    parser.add_argument("--path", default="/")
    parser.add_argument("-c", "--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--secs", type=int, default=3)
    parser.add_argument("--port", type=int, default=18900, help="first of the ports used")
    parser.add_argument("--app-dir", default="/work/shared/bench")
    parser.add_argument("--peers-bin", default=os.environ.get("PEERS_BIN", "/tmp/peers/bin"))
    parser.add_argument("--greenhttp-bin", default=str(Path(sys.executable).parent))
    opts = parser.parse_args()
    names = [n for n in opts.servers.split(",") if n]
    procs: dict[str, subprocess.Popen] = {}
    ports: dict[str, int] = {}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    rps: dict[str, list[float]] = {n: [] for n in names}
    try:
        for index, name in enumerate(names):
            ports[name] = opts.port + index
            argv = commands(opts.greenhttp_bin, opts.peers_bin, ports[name])[name]
            procs[name] = subprocess.Popen(argv, cwd=opts.app_dir, start_new_session=True,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in names:
            wait_port(ports[name], procs[name], name)
        for r in range(opts.rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                before = group_cpu(procs[name].pid)
                out = subprocess.run(["wrk", "-t1", f"-c{opts.connections}", f"-d{opts.secs}s", "--timeout", "5s",
                                      f"http://127.0.0.1:{ports[name]}{opts.path}"],
                                     capture_output=True, text=True).stdout
                done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
                cpu[name].append((group_cpu(procs[name].pid) - before) / max(done, 1) * 1e6)
                rps[name].append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))  # type: ignore[union-attr]
                print(f"round {r + 1} {name:10s} {rps[name][-1]:9.0f} req/s {cpu[name][-1]:7.1f} us CPU/request",
                      flush=True)
        print(f"\n{opts.path} c={opts.connections}: CPU per request (median), and greenhttp's / the server's "
              "(median of the paired rounds)")
        for name in names:
            line = f"{name:10s} {statistics.median(cpu[name]):7.1f} us"
            if name != "greenhttp" and "greenhttp" in cpu:
                ratio = statistics.median(g / p for g, p in zip(cpu["greenhttp"], cpu[name]))
                line += f"   greenhttp/{name} = {ratio:.2f}"
            print(line)
    finally:
        for proc in procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs.values():
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
