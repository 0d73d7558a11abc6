"""Reverse-proxy benchmark: greenhttp's ``greenhttp proxy`` against nginx ``proxy_pass``,
both in front of the same upstream nginx, measured with wrk in one run.

    python benchmarks/proxy.py                 # 5 s per run, 1 round
    python benchmarks/proxy.py --secs 10 --rounds 3

Scenarios: ``small`` (GET of a 13-byte static file, wrk -c50) and ``10mib`` (GET of a
10 MiB static file, wrk -c4). Each proxy is one process (nginx: one worker) keeping
keep-alive connections to the upstream (nginx: ``keepalive 64`` with HTTP/1.1), no
access logs. With ``taskset`` available the proxy under test runs on CPU 1, the
upstream nginx and wrk on CPU 0, so each proxy has one core to itself.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = ROOT / "benchmarks" / "wrk" / "hello.lua"

def nginx_conf(tmp: object, name: str, user: str, http_body: str, worker_connections: int = 1024) -> str:
    """One nginx config for a benchmark: in the foreground, one worker, every file under
    ``tmp`` and named after ``name`` (several nginx may share ``tmp``), no access log, and
    keep-alive long enough that wrk never reconnects; ``http_body`` adds the servers.
    Shared by proxy.py, static.py, client.py and cpu_ab.py."""
    return f"""{user}
daemon off;
worker_processes 1;
pid {tmp}/{name}.pid;
error_log {tmp}/{name}-error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/{name}-body;
    proxy_temp_path {tmp}/{name}-proxy;
    fastcgi_temp_path {tmp}/{name}-fastcgi;
    uwsgi_temp_path {tmp}/{name}-uwsgi;
    scgi_temp_path {tmp}/{name}-scgi;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
{http_body}
}}
"""


def files_conf(tmp: object, port: int, user: str, name: str = "upstream") -> str:
    """nginx serving the files of ``tmp``/www: the proxy's upstream, static.py's peer."""
    return nginx_conf(tmp, name, user, f"""
    sendfile on;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
    }}""")


def proxy_conf(tmp: object, port: int, user: str, upstream_port: int, buffering: str) -> str:
    """nginx proxy_pass to the upstream, with a keep-alive pool of 64 connections."""
    return nginx_conf(tmp, "proxy", user, f"""
    upstream backend {{
        server 127.0.0.1:{upstream_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            {buffering}
        }}
    }}""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{what} did not start")
            time.sleep(0.05)


def pinned(cpu: int, argv: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu), *argv]
    return argv


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        sys.exit("nginx is needed: apt-get update -qq && apt-get install -y -qq nginx-light")
    return found


def run_wrk(url: str, connections: int, secs: float, header: str | None = None) -> dict[str, float]:
    """One wrk run (on CPU 0): req/s, MiB/s and the errors wrk counted. Shared with static.py."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{secs:g}s", "--timeout", "10s", "-s", str(WRK_SCRIPT)]
    if header:
        argv += ["-H", header]
    result = subprocess.run(pinned(0, argv + [url]), capture_output=True, text=True, timeout=secs + 60)
    match = re.search(r"GREENHTTP_BENCH (.*)", result.stdout)
    if not match:
        sys.exit(f"wrk failed: {result.stdout}\n{result.stderr}")
    fields = {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}
    seconds = fields["duration_us"] / 1e6
    errors = sum(fields[k] for k in ("connect", "read", "write", "status", "timeout"))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    return {"rps": fields["requests"] / seconds, "mib_s": fields["bytes"] / seconds / 2**20,
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secs", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, order alternating (default 1)")
    parser.add_argument("--nginx-buffering", choices=("on", "off"), default="on",
                        help="nginx proxy_buffering (default on, nginx's default)")
    parser.add_argument("--port", type=int, help="first of the three ports used (default: free ones)")
    opts = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y -qq wrk")
    binary = nginx_binary()
    tmp = Path(tempfile.mkdtemp(prefix="greenhttp-proxy-bench-"))
    (tmp / "www").mkdir()
    (tmp / "www" / "small").write_bytes(b"Hello, World!")
    with open(tmp / "www" / "10m", "wb") as f:
        f.write(os.urandom(10 * 1024 * 1024))
    user = "user root;" if os.geteuid() == 0 else ""
    upstream_port, nginx_port, green_port = ((opts.port, opts.port + 1, opts.port + 2) if opts.port
                                             else (free_port(), free_port(), free_port()))
    (tmp / "upstream.conf").write_text(files_conf(tmp, upstream_port, user))
    buffering = "proxy_buffering off;" if opts.nginx_buffering == "off" else ""
    (tmp / "proxy.conf").write_text(proxy_conf(tmp, nginx_port, user, upstream_port, buffering))
    processes: list[subprocess.Popen] = []
    try:
        upstream = subprocess.Popen(pinned(0, [binary, "-p", str(tmp), "-c", str(tmp / "upstream.conf"),
                                               "-e", str(tmp / "upstream-error.log")]))
        processes.append(upstream)
        wait_port(upstream_port, upstream, "upstream nginx")
        nginx = subprocess.Popen(pinned(1, [binary, "-p", str(tmp), "-c", str(tmp / "proxy.conf"),
                                            "-e", str(tmp / "proxy-error.log")]))
        processes.append(nginx)
        wait_port(nginx_port, nginx, "nginx proxy")
        green_cmd = [sys.executable, "-m", "greenhttp", "proxy", f"/=http://127.0.0.1:{upstream_port}",
                     "-p", str(green_port), "--no-access-log", "--keepalive-timeout", "600"]
        green = subprocess.Popen(pinned(1, green_cmd), cwd=ROOT, stdout=subprocess.DEVNULL)
        processes.append(green)
        wait_port(green_port, green, "greenhttp proxy")
        proxies = {"greenhttp": green_port, "nginx": nginx_port}
        print(f"# greenhttp: {' '.join(green_cmd[1:])}")
        print(f"# nginx {subprocess.run([binary, '-v'], capture_output=True, text=True).stderr.strip()}: "
              f"proxy_pass, keepalive 64, HTTP/1.1, proxy_buffering {opts.nginx_buffering}")
        print(f"# wrk -t1, {opts.secs:g} s per run, {opts.rounds} round(s); taskset: "
              f"{'yes' if shutil.which('taskset') else 'no'}")
        scenarios = {"small": ("/small", 50, "rps"), "10mib": ("/10m", 4, "mib_s")}
        for port in proxies.values():  # warm up: connections to the upstream, caches
            run_wrk(f"http://127.0.0.1:{port}/small", 50, 1)
        results: dict[tuple[str, str], list[float]] = {}
        for round_ in range(opts.rounds):
            order = list(proxies) if round_ % 2 == 0 else list(reversed(proxies))
            for scenario, (path, connections, unit) in scenarios.items():
                for name in order:
                    measured = run_wrk(f"http://127.0.0.1:{proxies[name]}{path}", connections, opts.secs)
                    value = measured[unit]
                    results.setdefault((scenario, name), []).append(value)
                    flag = f" ({measured['errors']} errors)" if measured["errors"] else ""
                    print(f"round {round_ + 1} {scenario:6} {name:10} {value:10.1f} "
                          f"{'req/s' if unit == 'rps' else 'MiB/s'}{flag}", flush=True)
                    time.sleep(0.5)
        print_ratio_table(results, [(name, c, unit) for name, (_, c, unit) in scenarios.items()])
    finally:
        stop_all(processes, tmp)
    return 0


def print_ratio_table(results: dict[tuple[str, str], list[float]],
                      scenarios: list[tuple[str, int, str]]) -> None:
    """The Markdown table of medians, greenhttp against nginx. Shared with static.py."""
    print()
    print("| scenario | greenhttp | nginx | greenhttp / nginx |")
    print("| --- | ---: | ---: | ---: |")
    for scenario, connections, unit in scenarios:
        green_value = statistics.median(results[(scenario, "greenhttp")])
        nginx_value = statistics.median(results[(scenario, "nginx")])
        label = "req/s" if unit == "rps" else "MiB/s"
        print(f"| {scenario} (wrk -c{connections}, {label}) | {green_value:.0f} | {nginx_value:.0f} "
              f"| {green_value / nginx_value:.2f}x |")


def stop_all(processes: list[subprocess.Popen], tmp: Path | str) -> None:
    """Terminate the servers (last started first), then remove their directory."""
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
