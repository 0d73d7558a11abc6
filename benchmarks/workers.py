"""Worker processes: small GETs and a Flask route with 1, 2 and ``auto`` workers, and two
``--reuse-port`` processes against two workers sharing the master's socket; RSS per worker.

    python benchmarks/workers.py                     # 3 s per run, 2 rounds
    python benchmarks/workers.py --secs 5 --rounds 4

Each configuration serves /work/shared/bench/apps.py (``/``: 13 bytes; ``/flask``: the
same through Flask) with ``--no-access-log``; wrk -t2 -c50 with benchmarks/wrk/hello.lua.
Rounds alternate the configurations (1, 2, auto, reuse-port, 1, 2, ...) so a noisy
neighbour slows every configuration of a round alike: read the per-round ratios to
1 worker. RSS is VmRSS of each worker after its runs. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import ROOT, WRK_SCRIPT, free_port, wait_port  # noqa: E402

APPS = Path(os.environ.get("BENCH_APPS", "/work/shared/bench/apps.py"))
#: name -> (how many greenhttp processes, their -w)
CONFIGS = {"1": (1, "1"), "2": (1, "2"), "auto": (1, "auto"), "2x reuse-port": (2, "1")}
PATHS = {"hello": "/", "flask": "/flask"}


def start(config: str, port: int) -> list[subprocess.Popen]:
    processes, workers = CONFIGS[config]
    argv = [sys.executable, "-m", "greenhttp", f"{APPS}:app", "-b", f"127.0.0.1:{port}",
            "-w", workers, "--no-access-log", "--keepalive-timeout", "600"]
    if processes > 1:
        argv.append("--reuse-port")
    started = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for _ in range(processes)]
    for proc in started:
        wait_port(port, proc, f"greenhttp ({config})")
    time.sleep(1.0)  # every worker forked and listening
    return started


def worker_rss(processes: list[subprocess.Popen]) -> list[float]:
    sizes = []
    for proc in processes:
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            for pid in f.read().split():
                status = Path(f"/proc/{pid}/status").read_text()
                sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
    return sizes


def wrk(url: str, secs: float) -> float:
    argv = ["wrk", "-t2", "-c50", f"-d{secs:g}s", "--timeout", "10s", "-s", str(WRK_SCRIPT), url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60).stdout
    match = re.search(r"GREENHTTP_BENCH requests=(\d+) bytes=\d+ duration_us=(\d+) (.*)", out)
    if not match or re.search(r"Non-2xx", out):
        sys.exit(f"wrk failed: {out}")
    return int(match.group(1)) / (int(match.group(2)) / 1e6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secs", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rps: dict[tuple[str, str], list[float]] = {}
    rss: dict[str, list[float]] = {}
    for round_no in range(args.rounds):
        for config in CONFIGS:
            port = free_port()
            processes = start(config, port)
            try:
                for scenario, path in PATHS.items():
                    wrk(f"http://127.0.0.1:{port}{path}", 1)  # warm-up
                    rps.setdefault((config, scenario), []).append(
                        wrk(f"http://127.0.0.1:{port}{path}", args.secs))
                rss[config] = worker_rss(processes)
            finally:
                for proc in processes:
                    proc.send_signal(signal.SIGTERM)
                for proc in processes:
                    proc.wait(timeout=30)
            print(f"round {round_no + 1} {config}: " + ", ".join(
                f"{s} {rps[(config, s)][-1]:.0f} req/s" for s in PATHS), flush=True)
    print("\n| workers | scenario | req/s (median) | per-round ratio to 1 worker | RSS per worker (MiB) |")
    print("|---|---|---:|---|---|")
    for config in CONFIGS:
        for scenario in PATHS:
            runs = rps[(config, scenario)]
            ratios = [run / base for run, base in zip(runs, rps[("1", scenario)])]
            print(f"| {config} | {scenario} | {statistics.median(runs):.0f} | "
                  f"{', '.join(f'{r:.2f}' for r in ratios)} | "
                  f"{', '.join(f'{m:.1f}' for m in rss[config])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
