"""A/B of two greenhttp source trees: server CPU per request under the same wrk load.

    git archive main greenhttp | tar -x -C /tmp/a     # tree A (e.g. before a change)
    .venv/bin/python benchmarks/cpu_ab.py /tmp/a .                # tree B: this worktree
    .venv/bin/python benchmarks/cpu_ab.py /tmp/a . --path /sleep -c 1000 --app-dir ../shared/bench --app apps.py:app
    .venv/bin/python benchmarks/cpu_ab.py /tmp/a . --proxy --path /small     # greenhttp proxy in front of nginx

Both servers run at once (``greenhttp APP`` with each tree first on PYTHONPATH); rounds
alternate which one wrk loads first. For each run it reads the CPU time of the server's
process group from /proc and divides by the requests wrk completed. On a machine shared
with other jobs, throughput swings 2x between runs while CPU per request barely moves:
CPU per request (and the paired ratio of B to A) is the figure to read.
``--proxy``: each tree runs ``greenhttp proxy /=UPSTREAM`` instead of an app, in front of
one upstream nginx serving proxy.py's files (``/small``: 13 bytes); the proxies are pinned
to CPU 1, nginx and wrk to CPU 0, as in proxy.py. ``--port`` is the first of the three
ports used (A, B, and the upstream with ``--proxy``).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import files_conf, nginx_binary, pinned, stop_all, wait_port  # noqa: E402


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every process in process group ``pgid``."""
    ticks = 0
    pids = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def start(tree: str, port: int, opts: argparse.Namespace, upstream: int | None) -> subprocess.Popen:
    # Drop an editable install's finder so the tree on PYTHONPATH is what gets imported.
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
            "sys.argv[0] = 'greenhttp'; from greenhttp.cli import main; sys.exit(main())")
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    what = ["proxy", f"/=http://127.0.0.1:{upstream}", "--keepalive-timeout", "600"] if upstream else [opts.app]
    argv = [sys.executable, "-c", code, *what, "-b", "127.0.0.1", "-p", str(port), "--no-access-log"]
    return subprocess.Popen(pinned(1, argv) if upstream else argv, cwd=opts.app_dir, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_upstream(port: int) -> tuple[subprocess.Popen, Path]:
    """proxy.py's upstream nginx (``/small``: 13 bytes, ``/10m``), pinned to CPU 0."""
    tmp = Path(tempfile.mkdtemp(prefix="greenhttp-cpu-ab-"))
    (tmp / "www").mkdir()
    (tmp / "www" / "small").write_bytes(b"Hello, World!")
    (tmp / "www" / "10m").write_bytes(os.urandom(10 * 1024 * 1024))
    user = "user root;" if os.geteuid() == 0 else ""
    (tmp / "upstream.conf").write_text(files_conf(tmp, port, user))
    process = subprocess.Popen(pinned(0, [nginx_binary(), "-p", str(tmp), "-c", str(tmp / "upstream.conf"),
                                          "-e", str(tmp / "upstream-error.log")]))
    wait_port(port, process, "upstream nginx")
    return process, tmp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tree_a")
    parser.add_argument("tree_b")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--secs", type=int, default=3)
    parser.add_argument("-c", "--connections", type=int, default=50)
    parser.add_argument("--path", default="/")
    parser.add_argument("--script", help="wrk -s script (e.g. ../shared/bench/pipeline.lua)")
    parser.add_argument("--app", default="apps.py:app")
    parser.add_argument("--app-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--proxy", action="store_true", help="A/B `greenhttp proxy` in front of nginx")
    parser.add_argument("--port", type=int, default=18881, help="first of the ports used (default 18881)")
    opts = parser.parse_args()
    ports = (opts.port, opts.port + 1)
    upstream = None
    if opts.proxy:
        upstream, upstream_tmp = start_upstream(opts.port + 2)
    upstream_port = opts.port + 2 if opts.proxy else None
    procs = [start(opts.tree_a, ports[0], opts, upstream_port), start(opts.tree_b, ports[1], opts, upstream_port)]
    rps: dict[int, list[float]] = {p: [] for p in ports}
    cpu: dict[int, list[float]] = {p: [] for p in ports}
    try:
        for port, proc in zip(ports, procs):
            wait_port(port, proc, f"greenhttp on port {port}")
        if opts.proxy:  # warm up: the proxies' connections to the upstream
            for port in ports:
                subprocess.run(["wrk", "-t1", f"-c{opts.connections}", "-d1s", f"http://127.0.0.1:{port}{opts.path}"],
                               capture_output=True)
        for r in range(opts.rounds):
            for index in ((0, 1) if r % 2 == 0 else (1, 0)):
                port, pgid = ports[index], procs[index].pid
                before = group_cpu(pgid)
                script = ["-s", os.path.abspath(opts.script)] if opts.script else []
                argv = ["wrk", "-t1", f"-c{opts.connections}", f"-d{opts.secs}s", "--timeout", "5s",
                        *script, f"http://127.0.0.1:{port}{opts.path}"]
                out = subprocess.run(pinned(0, argv) if opts.proxy else argv,
                                     capture_output=True, text=True).stdout
                done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
                cpu[port].append((group_cpu(pgid) - before) / max(done, 1) * 1e6)
                rps[port].append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))  # type: ignore[union-attr]
        a, b = ports
        print(f"CPU us/request: A {statistics.median(cpu[a]):.1f}  B {statistics.median(cpu[b]):.1f}  "
              f"B/A {statistics.median([y / x for x, y in zip(cpu[a], cpu[b])]):.3f}")
        ratios = [y / x for x, y in zip(rps[a], rps[b])]
        print(f"req/s: A {statistics.median(rps[a]):.0f}  B {statistics.median(rps[b]):.0f}  "
              f"B/A {statistics.median(ratios):.3f}  {[round(x, 2) for x in ratios]}")
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            proc.wait(10)
        if upstream is not None:
            stop_all([upstream], upstream_tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
