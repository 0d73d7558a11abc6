"""Static-file benchmark: ``greenhttp DIR`` against nginx serving the same directory,
measured with wrk in one run; the servers' RSS afterwards.

    python benchmarks/static.py                  # 3 s per run, 1 round
    python benchmarks/static.py --secs 10 --rounds 3

Scenarios: ``10mib`` (GET of a 10 MiB file, wrk -c4, MiB/s), ``4kib`` (GET of a 4 KiB
file, wrk -c50, req/s), ``range`` (GET with ``Range: bytes=1048576-2097151``, a 1 MiB
slice of the 10 MiB file, wrk -c4, MiB/s) and ``ranges`` (two 4 KiB ranges of it,
multipart/byteranges, wrk -c50, req/s). Each server is one process (nginx: one worker,
``sendfile on``, no access log; greenhttp: ``--no-access-log``). With ``taskset``
the server under test runs on CPU 1 and wrk on CPU 0. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import (  # noqa: E402
    ROOT, files_conf, free_port, nginx_binary, pinned, print_ratio_table, run_wrk, stop_all, wait_port,
)

SCENARIOS = {
    # name: (path, extra wrk header, connections, unit)
    "10mib": ("/10m.bin", None, 4, "mib_s"),
    "4kib": ("/4k.bin", None, 50, "rps"),
    "range": ("/10m.bin", "Range: bytes=1048576-2097151", 4, "mib_s"),
    "ranges": ("/10m.bin", "Range: bytes=0-4095,5000000-5004095", 50, "rps"),
}


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` and its children (nginx: master + worker), in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def check(port: int, data: bytes) -> None:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/10m.bin", timeout=10) as r:
        if r.read() != data:
            sys.exit(f"port {port} served wrong bytes")
    req = urllib.request.Request(f"http://127.0.0.1:{port}/10m.bin", headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 206 or r.read() != data[10:20]:
            sys.exit(f"port {port} got the range wrong")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--secs", type=float, default=3.0, help="seconds per wrk run (default 3)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, order alternating (default 1)")
    opts = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y -qq wrk")
    binary = nginx_binary()
    tmp = Path(tempfile.mkdtemp(prefix="greenhttp-static-bench-"))
    www = tmp / "www"
    www.mkdir()
    data = os.urandom(10 * 1024 * 1024)
    (www / "10m.bin").write_bytes(data)
    (www / "4k.bin").write_bytes(os.urandom(4096))
    user = "user root;" if os.geteuid() == 0 else ""
    nginx_port, green_port = free_port(), free_port()
    (tmp / "nginx.conf").write_text(files_conf(tmp, nginx_port, user, name="nginx"))
    processes: list[subprocess.Popen] = []
    try:
        nginx = subprocess.Popen(pinned(1, [binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                                            "-e", str(tmp / "nginx-error.log")]))
        processes.append(nginx)
        wait_port(nginx_port, nginx, "nginx")
        green_cmd = [sys.executable, "-m", "greenhttp", str(www), "-p", str(green_port),
                     "--no-access-log", "--keepalive-timeout", "600", "--listings", "off"]
        # stderr: wrk closing its connections at the end of a run logs "client disconnected".
        green = subprocess.Popen(pinned(1, green_cmd), cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        processes.append(green)
        wait_port(green_port, green, "greenhttp")
        servers = {"greenhttp": (green_port, green.pid), "nginx": (nginx_port, nginx.pid)}
        for port, _ in servers.values():
            check(port, data)
        print(f"# greenhttp: greenhttp DIR {' '.join(green_cmd[4:])}")
        print(f"# nginx {subprocess.run([binary, '-v'], capture_output=True, text=True).stderr.strip()}: "
              "1 worker, sendfile on, access_log off")
        print(f"# wrk -t1, {opts.secs:g} s per run, {opts.rounds} round(s); taskset: "
              f"{'yes' if shutil.which('taskset') and (os.cpu_count() or 1) >= 2 else 'no'}")
        for port, _ in servers.values():  # warm up
            run_wrk(f"http://127.0.0.1:{port}/4k.bin", 50, 1)
        results: dict[tuple[str, str], list[float]] = {}
        for round_ in range(opts.rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for scenario, (path, header, connections, unit) in SCENARIOS.items():
                for name in order:
                    measured = run_wrk(f"http://127.0.0.1:{servers[name][0]}{path}", connections,
                                       opts.secs, header)
                    value = measured[unit]
                    results.setdefault((scenario, name), []).append(value)
                    flag = f" ({measured['errors']} errors)" if measured["errors"] else ""
                    print(f"round {round_ + 1} {scenario:6} {name:10} {value:10.1f} "
                          f"{'req/s' if unit == 'rps' else 'MiB/s'}{flag}", flush=True)
                    time.sleep(0.5)
        rss = {name: rss_mib(pid) for name, (_, pid) in servers.items()}
        print_ratio_table(results, [(name, c, unit) for name, (_, _, c, unit) in SCENARIOS.items()])
        print(f"| RSS after the runs (MiB) | {rss['greenhttp']:.1f} | {rss['nginx']:.1f} "
              f"| {rss['greenhttp'] / rss['nginx']:.2f}x |")
    finally:
        stop_all(processes, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
