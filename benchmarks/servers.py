#!/usr/bin/env python3
"""Side-by-side HTTP server benchmark: greenhttp against its peers.

Serves the same app (``benchmarks/apps.py``) with greenhttp, gevent.pywsgi,
uvicorn (httptools + uvloop) and gunicorn (``-k gevent -w 1``), then runs every
scenario against every server in alternating rounds and prints the median per
scenario and the paired per-round ratio greenhttp/peer. See benchmarks/README.md.

Not part of the test suite. Load goes to 127.0.0.1 only; every loop and every
child process is bounded in time, and all servers are killed (whole process
groups) on the way out. Stdlib only: the peers live in their own venv
(``--peers-bin``) and are run as commands.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import http.client
import json
import math
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WRK_DIR = HERE / "wrk"

HELLO = b"Hello, World!"
STREAM_SIZE = 10 * 1024 * 1024
UPLOAD_SIZE = 1024 * 1024
GIB = 1024 ** 3
MIB = 1024 ** 2

# Long enough that no server drops an idle connection while the idle test is
# still opening the rest (greenhttp and uvicorn default to 5 s, gunicorn to 2 s,
# pywsgi never times out); it changes nothing for the wrk scenarios.
KEEPALIVE_SECS = 600
STARTUP_SECS = 30.0          # a server that is not answering by then is reported and skipped
IDLE_OPEN_SECS = 120.0       # bound for opening all idle connections
IDLE_BATCH = 250             # below every server's listen backlog, so no SYN is dropped and retried
SETTLE_SECS = 1.0            # pause between runs so one run's teardown does not bleed into the next
FD_HEADROOM = 1024           # fds beyond --connections for wrk, logs, listeners, the servers' own

SERVER_NAMES = ("greenhttp", "pywsgi", "uvicorn", "gunicorn")
SCENARIO_NAMES = ("hello", "pipeline", "stream", "upload", "idle")


class BenchError(Exception):
    """One run (or one server) failed; reported in its row, the benchmark goes on."""


# --- servers -------------------------------------------------------------------


@dataclasses.dataclass
class ServerSpec:
    """How to run one server, or why it cannot be run here."""

    name: str
    argv: Callable[[int], list[str]] | None  # port -> command line
    version: str = ""
    skip_reason: str = ""
    cwd: Path = REPO


@dataclasses.dataclass
class RunningServer:
    spec: ServerSpec
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    dead: str = ""  # why it stopped answering, once it did

    @property
    def name(self) -> str:
        return self.spec.name


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _capture(argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
    """Run a short command; (exit status, stdout+stderr). Never raises for a missing program."""
    try:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, cwd=REPO)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace").strip()


def _python_has(python: Path, modules: str, version_expr: str) -> tuple[bool, str]:
    """Whether ``python`` imports ``modules``; second item: version_expr's value or the error."""
    if not _is_executable(python):
        return False, f"{python} not found"
    code = f"import {modules}; print({version_expr})"
    status, out = _capture([str(python), "-c", code])
    return status == 0, out.splitlines()[-1] if out else ""


def greenhttp_spec(exe: Path) -> ServerSpec:
    if not _is_executable(exe):
        return ServerSpec("greenhttp", None, skip_reason=f"{exe} not found (set --greenhttp-bin)")
    _, version = _capture([str(exe), "--version"])

    def argv(port: int) -> list[str]:
        return [str(exe), "benchmarks/apps.py:app", "-b", "127.0.0.1", "-p", str(port),
                "--no-access-log", "--keepalive-timeout", str(KEEPALIVE_SECS)]
    return ServerSpec("greenhttp", argv, version=version)


def pywsgi_spec(peers_python: Path, nodelay: bool) -> ServerSpec:
    # Prefer the peers' venv; the greenhttp venv has gevent too, so fall back to it
    # rather than skip (the version printed says which gevent it was).
    for python in (peers_python, Path(sys.executable)):
        ok, version = _python_has(python, "gevent", "gevent.__version__")
        if ok:
            extra = ["--nodelay"] if nodelay else []

            def argv(port: int, python: Path = python, extra: list[str] = extra) -> list[str]:
                return [str(python), str(HERE / "pywsgi_server.py"), str(port), *extra]
            return ServerSpec("pywsgi", argv, version=f"gevent {version} ({python})"
                              + (", TCP_NODELAY" if nodelay else ", as shipped (no TCP_NODELAY)"))
    return ServerSpec("pywsgi", None, skip_reason=f"no python with gevent ({peers_python})")


def uvicorn_spec(peers_bin: Path) -> ServerSpec:
    exe = peers_bin / "uvicorn"
    if not _is_executable(exe):
        return ServerSpec("uvicorn", None, skip_reason=f"{exe} not installed")
    ok, detail = _python_has(peers_bin / "python", "uvicorn, httptools, uvloop",
                             "uvicorn.__version__, httptools.__version__, uvloop.__version__")
    if not ok:
        return ServerSpec("uvicorn", None, skip_reason=f"needs httptools and uvloop: {detail}")

    def argv(port: int) -> list[str]:
        return [str(exe), "apps:asgi_app", "--app-dir", str(HERE),
                "--host", "127.0.0.1", "--port", str(port),
                "--http", "httptools", "--loop", "uvloop",
                "--no-access-log", "--log-level", "warning",
                "--timeout-keep-alive", str(KEEPALIVE_SECS), "--backlog", "2048"]
    return ServerSpec("uvicorn", argv, version=f"uvicorn, httptools, uvloop = {detail}")


def gunicorn_spec(peers_bin: Path, connections: int) -> ServerSpec:
    exe = peers_bin / "gunicorn"
    if not _is_executable(exe):
        return ServerSpec("gunicorn", None, skip_reason=f"{exe} not installed")
    # Import the gevent worker itself: it has dependencies of its own (packaging).
    ok, detail = _python_has(peers_bin / "python", "gunicorn, gevent, gunicorn.workers.ggevent",
                             "gunicorn.__version__, gevent.__version__")
    if not ok:
        return ServerSpec("gunicorn", None, skip_reason=f"gunicorn -k gevent needs gevent: {detail}")

    def argv(port: int) -> list[str]:
        # --worker-connections: the gevent worker caps concurrent connections at
        # 1000 by default, which would turn the idle test into a queueing test.
        return [str(exe), "-k", "gevent", "-w", "1", "--chdir", str(HERE),
                "-b", f"127.0.0.1:{port}", "--keep-alive", str(KEEPALIVE_SECS),
                "--worker-connections", str(connections + FD_HEADROOM),
                "--log-level", "warning", "apps:app"]
    return ServerSpec("gunicorn", argv, version=f"gunicorn, gevent = {detail}")


def resolve_greenhttp(value: str | None) -> Path:
    """--greenhttp-bin may name the executable or the venv's bin directory."""
    if not value:
        # No resolve(): a venv's python is a symlink, its directory is the venv's bin.
        return Path(sys.executable).parent / "greenhttp"
    path = Path(value)
    return path / "greenhttp" if path.is_dir() else path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def cpu_affinity(cpus: set[int] | None) -> Iterator[None]:
    """Run the body (and whatever it spawns, which inherits the mask) on ``cpus``."""
    if not cpus:
        yield
        return
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join("    | " + line for line in text.splitlines()[-lines:])


def start_server(spec: ServerSpec, log_dir: Path, cpus: set[int] | None) -> RunningServer:
    assert spec.argv is not None
    port = free_port()
    log_path = log_dir / f"{spec.name}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log, cpu_affinity(cpus):
        # Own session = own process group, so stop_server can kill gunicorn's
        # worker (or anything else a server forks) along with it.
        proc = subprocess.Popen(spec.argv(port), cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = RunningServer(spec, proc, port, log_path)
    try:
        wait_ready(server)
        smoke_test(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def wait_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_SECS
    last_error = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(f"exited with status {server.proc.returncode} at startup:\n"
                             + log_tail(server.log_path))
        try:
            status, body = http_request(server.port, "GET", "/", timeout=1.0)
            if status == 200 and body == HELLO:
                return
            last_error = f"GET / answered {status} {body[:60]!r}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise BenchError(f"not ready after {STARTUP_SECS:.0f}s ({last_error}):\n" + log_tail(server.log_path))


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    except http.client.HTTPException as exc:
        raise OSError(f"{method} {path}: {exc!r}") from exc
    finally:
        conn.close()


def smoke_test(server: RunningServer) -> None:
    """Every endpoint answers what the scenarios count on, before anything is timed."""
    try:
        _check_endpoints(server)
    except OSError as exc:
        raise BenchError(f"smoke test: {exc}\n" + log_tail(server.log_path)) from exc


def _check_endpoints(server: RunningServer) -> None:
    status, body = http_request(server.port, "GET", "/stream", timeout=30.0)
    if status != 200 or len(body) != STREAM_SIZE:
        raise BenchError(f"GET /stream gave {status} with {len(body)} bytes")
    status, body = http_request(server.port, "POST", "/upload", b"x" * UPLOAD_SIZE, timeout=30.0)
    if status != 200 or body != str(UPLOAD_SIZE).encode():
        raise BenchError(f"POST /upload gave {status} {body[:60]!r}")


def stop_server(server: RunningServer) -> None:
    """SIGTERM the server's process group, SIGKILL whatever is left after 5 s."""
    pgid = server.proc.pid
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        try:
            server.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # The leader is gone; a forked child (gunicorn's worker) may not be.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        return


# --- measuring -----------------------------------------------------------------


@dataclasses.dataclass
class Measurement:
    value: float               # NaN when the run failed
    detail: str = ""
    problem: str = ""           # errors seen; the value is still shown but flagged

    @property
    def ok(self) -> bool:
        return not math.isnan(self.value)


@dataclasses.dataclass
class Scenario:
    name: str
    unit: str
    higher_is_better: bool
    what: str
    run: Callable[[RunningServer, "Options"], Measurement]


@dataclasses.dataclass
class Options:
    secs: int
    connections: int
    client_cpus: set[int] | None


@dataclasses.dataclass
class WrkResult:
    requests: int
    bytes_read: int
    seconds: float
    errors: dict[str, int]

    def problem(self) -> str:
        return ", ".join(f"{count} {kind} errors" for kind, count in self.errors.items() if count)


WRK_LINE = re.compile(r"^GREENHTTP_BENCH (.*)$", re.MULTILINE)


def run_wrk(server: RunningServer, path: str, script: str, connections: int,
            opts: Options) -> WrkResult:
    url = f"http://127.0.0.1:{server.port}{path}"
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{opts.secs}s", "--timeout", "10s",
            "-s", str(WRK_DIR / script), url]
    with cpu_affinity(opts.client_cpus):
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=opts.secs + 60)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"wrk did not finish within {opts.secs + 60}s") from exc
    out = done.stdout.decode(errors="replace")
    match = WRK_LINE.search(out)
    if done.returncode != 0 or not match:
        raise BenchError(f"wrk failed ({done.returncode}): {(out + done.stderr.decode(errors='replace')).strip()[-300:]}")
    fields = {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}
    errors = {k: fields[k] for k in ("connect", "read", "write", "status", "timeout")}
    return WrkResult(fields["requests"], fields["bytes"], fields["duration_us"] / 1e6, errors)


def _wrk_measurement(result: WrkResult, value: float) -> Measurement:
    if result.requests == 0:
        return Measurement(math.nan, "no request completed", result.problem() or "no request completed")
    detail = f"{result.requests} responses, {result.bytes_read / MIB:,.1f} MiB read in {result.seconds:.2f}s"
    return Measurement(value, detail, result.problem())


def measure_hello(server: RunningServer, opts: Options) -> Measurement:
    result = run_wrk(server, "/", "hello.lua", 50, opts)
    return _wrk_measurement(result, result.requests / result.seconds)


def measure_pipeline(server: RunningServer, opts: Options) -> Measurement:
    result = run_wrk(server, "/", "pipeline.lua", 50, opts)
    return _wrk_measurement(result, result.requests / result.seconds)


def measure_stream(server: RunningServer, opts: Options) -> Measurement:
    # Bytes read, not requests x 10 MiB: a response still in flight when wrk
    # stops is a sizeable share of a few seconds at 4 connections.
    result = run_wrk(server, "/stream", "stream.lua", 4, opts)
    return _wrk_measurement(result, result.bytes_read / result.seconds / GIB)


def measure_upload(server: RunningServer, opts: Options) -> Measurement:
    # wrk cannot report bytes written, so only whole (answered) uploads count.
    result = run_wrk(server, "/upload", "upload.lua", 4, opts)
    return _wrk_measurement(result, result.requests * UPLOAD_SIZE / result.seconds / GIB)


# --- the idle-connections scenario ---------------------------------------------


def process_tree(root: int) -> list[int]:
    """root and all its descendants, from /proc/*/stat parent links."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # Field 4 is the parent pid; the command name before it may hold spaces and ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def vm_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_rss_mib(server: RunningServer) -> float:
    """VmRSS summed over the server's process tree (gunicorn: master + worker)."""
    return sum(vm_rss_kib(pid) for pid in process_tree(server.proc.pid)) / 1024


def _response_state(buf: bytearray) -> bool | None:
    """None while the response is incomplete; then whether it was a keep-alive 200."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    length = int(headers.get("content-length", "0"))
    if len(buf) < end + 4 + length:
        return None
    return lines[0].split()[1:2] == ["200"] and headers.get("connection") != "close"


def open_batch(port: int, count: int, deadline: float) -> tuple[list[socket.socket], int]:
    """Open ``count`` connections at once, one GET on each, read each response.

    Non-blocking with a selector, so a batch costs one round of SYNs and one
    round trip rather than ``count`` of them. Returns (established sockets, failures).
    """
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    done: list[socket.socket] = []
    failed = 0

    def fail(sock: socket.socket) -> None:
        nonlocal failed
        failed += 1
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(sock)
        sock.close()

    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
            fail(sock)
            continue
        sel.register(sock, selectors.EVENT_WRITE, bytearray())
    while sel.get_map() and time.monotonic() < deadline:
        for key, mask in sel.select(timeout=min(1.0, max(0.0, deadline - time.monotonic()))):
            conn, buf = key.fileobj, key.data
            assert isinstance(conn, socket.socket)
            try:
                if mask & selectors.EVENT_WRITE:
                    if conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        fail(conn)
                        continue
                    conn.send(request)  # ~40 bytes: an empty send buffer takes it whole
                    sel.modify(conn, selectors.EVENT_READ, buf)
                    continue
                chunk = conn.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                fail(conn)
                continue
            if not chunk:
                fail(conn)
                continue
            buf += chunk  # in place: key.data is this same bytearray
            state = _response_state(buf)
            if state is None:
                continue
            if state:
                sel.unregister(conn)
                done.append(conn)
            else:
                fail(conn)
    for key in list(sel.get_map().values()):  # deadline passed: count the stragglers
        assert isinstance(key.fileobj, socket.socket)
        fail(key.fileobj)
    sel.close()
    return done, failed


def count_closed(socks: list[socket.socket]) -> int:
    """How many of these idle keep-alive sockets the server has closed meanwhile.

    An idle connection has nothing to read; readable means EOF or a reset.
    """
    sel = selectors.DefaultSelector()
    try:
        for sock in socks:
            sel.register(sock, selectors.EVENT_READ)
        return len(sel.select(timeout=0))
    finally:
        sel.close()


def measure_idle(server: RunningServer, opts: Options) -> Measurement:
    before = server_rss_mib(server)
    socks: list[socket.socket] = []
    failed = 0
    started = time.monotonic()
    deadline = started + IDLE_OPEN_SECS
    try:
        with cpu_affinity(opts.client_cpus):
            while len(socks) + failed < opts.connections and time.monotonic() < deadline:
                batch = min(IDLE_BATCH, opts.connections - len(socks) - failed)
                opened, lost = open_batch(server.port, batch, deadline)
                socks.extend(opened)
                failed += lost
            open_secs = time.monotonic() - started
            time.sleep(SETTLE_SECS)  # let the server finish with the last batch before sampling
            rss = server_rss_mib(server)
            closed = count_closed(socks)
    finally:
        for sock in socks:
            sock.close()
    held = len(socks) - closed
    detail = (f"{held} held (opened in {open_secs:.1f}s), {before:.1f} MiB before, "
              f"+{(rss - before) * 1024 / max(held, 1):.1f} KiB/conn")
    problem = ""
    if held < opts.connections:
        problem = f"only {held} of {opts.connections} connections held ({failed} failed, {closed} closed by server)"
    return Measurement(rss, detail, problem)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("hello", "req/s", True, "keep-alive GET / (13 bytes), wrk -t1 -c50", measure_hello),
    Scenario("pipeline", "req/s", True, "16 pipelined GET / per write, wrk -t1 -c50", measure_pipeline),
    Scenario("stream", "GiB/s", True, "GET /stream (10 MiB), wrk -t1 -c4", measure_stream),
    Scenario("upload", "GiB/s", True, "POST 1 MiB to /upload, wrk -t1 -c4", measure_upload),
    Scenario("idle", "MiB", False, "server RSS holding N idle keep-alive connections", measure_idle),
)}


# --- the run ---------------------------------------------------------------------


def raise_fd_limit(connections: int) -> int:
    """Raise RLIMIT_NOFILE for us and (inherited) for the servers we spawn; return it."""
    needed = connections + FD_HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        with contextlib.suppress(ValueError, OSError):  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            soft, hard = needed, needed
    target = needed if hard == resource.RLIM_INFINITY else min(max(soft, needed), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    return max(soft, target)


def cpu_plan(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(server cpus, client cpus): servers on the last CPU, wrk and the idle client on the rest.

    Every server here is one event loop on one core (gunicorn: one worker), so
    pinning keeps the scheduler from moving it onto wrk's core mid-run.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return {cpus[-1]}, set(cpus[:-1])


def rotate(items: list[RunningServer], by: int) -> list[RunningServer]:
    if not items:
        return items
    by %= len(items)
    return items[by:] + items[:by]


def run_rounds(servers: list[RunningServer], scenarios: list[Scenario], rounds: int,
               opts: Options) -> dict[str, dict[str, list[Measurement | None]]]:
    """Every round runs each scenario against each server in turn.

    The server order rotates per round so no server is always the one that
    runs right after (say) the machine's busiest moment.
    """
    results: dict[str, dict[str, list[Measurement | None]]] = {
        s.name: {srv.name: [None] * rounds for srv in servers} for s in scenarios}
    for rnd in range(rounds):
        for scenario in scenarios:
            for server in rotate(servers, rnd):
                measurement = run_one(server, scenario, opts)
                results[scenario.name][server.name][rnd] = measurement
                print_progress(rnd, rounds, scenario, server, measurement)
                time.sleep(SETTLE_SECS)
    return results


def run_one(server: RunningServer, scenario: Scenario, opts: Options) -> Measurement | None:
    if server.dead:
        return None
    if server.proc.poll() is not None:
        server.dead = f"exited with status {server.proc.returncode}"
        print(f"  !! {server.name} {server.dead}:\n{log_tail(server.log_path)}", flush=True)
        return None
    try:
        return scenario.run(server, opts)
    except BenchError as exc:
        return Measurement(math.nan, problem=str(exc))


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "failed"
    if unit == "req/s":
        return f"{value:,.0f}"
    if unit == "GiB/s":
        return f"{value:.2f}"
    return f"{value:.1f}"


def print_progress(rnd: int, rounds: int, scenario: Scenario, server: RunningServer,
                   m: Measurement | None) -> None:
    if m is None:
        text = "skipped (server down)"
    else:
        text = f"{fmt(m.value, scenario.unit):>10} {scenario.unit:<6} {m.detail}"
        if m.problem:
            text += f"  !! {m.problem}"
    print(f"round {rnd + 1}/{rounds}  {scenario.name:<9} {server.name:<10} {text}", flush=True)


def median_of(values: list[Measurement | None]) -> float:
    good = [m.value for m in values if m is not None and m.ok]
    return statistics.median(good) if good else math.nan


def paired_ratios(mine: list[Measurement | None], peer: list[Measurement | None]) -> list[float]:
    return [a.value / b.value for a, b in zip(mine, peer)
            if a is not None and b is not None and a.ok and b.ok and b.value]


def print_summary(results: dict[str, dict[str, list[Measurement | None]]],
                  scenarios: list[Scenario], names: list[str], rounds: int) -> None:
    width = 12
    print(f"\nMedian of {rounds} round(s):")
    print(f"{'scenario':<10}{'unit':<7}" + "".join(f"{n:>{width}}" for n in names) + "  better")
    for s in scenarios:
        row = results[s.name]
        cells = []
        for n in names:
            cell = fmt(median_of(row[n]), s.unit)
            if any(m is not None and m.problem for m in row[n]):
                cell += "!"  # some round saw errors: see its progress line
            cells.append(f"{cell:>{width}}")
        print(f"{s.name:<10}{s.unit:<7}" + "".join(cells) + ("  higher" if s.higher_is_better else "  lower"))

    peers = [n for n in names if n != "greenhttp"]
    if "greenhttp" not in names or not peers:
        return
    print("\ngreenhttp/peer, median of the per-round ratios (per-round values in brackets):")
    print(f"{'scenario':<10}" + "".join(f"{n:>28}" for n in peers))
    for s in scenarios:
        row = results[s.name]
        cells = []
        for peer in peers:
            ratios = paired_ratios(row["greenhttp"], row[peer])
            text = (f"{statistics.median(ratios):.2f} [" + " ".join(f"{r:.2f}" for r in ratios) + "]"
                    if ratios else "n/a")
            cells.append(f"{text:>28}")
        print(f"{s.name:<10}" + "".join(cells))
    print("(ratio > 1 means greenhttp is higher: better for req/s and GiB/s, worse for MiB)")


def print_header(specs: list[ServerSpec], opts: Options, args: argparse.Namespace,
                 server_cpus: set[int] | None, nofile: int) -> None:
    _, wrk_version = _capture(["wrk", "--version"])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Linux {platform.release()}, "
          f"python {platform.python_version()}")
    print(f"wrk: {wrk_version.splitlines()[0] if wrk_version else '?'}")
    pin = f"servers on cpu {sorted(server_cpus)}, clients on cpu {sorted(opts.client_cpus or ())}" \
        if server_cpus else "no cpu pinning"
    print(f"rounds={args.rounds} secs={opts.secs} connections={opts.connections} "
          f"RLIMIT_NOFILE={nofile}; {pin}")
    for spec in specs:
        state = spec.version if spec.argv else f"SKIPPED: {spec.skip_reason}"
        print(f"  {spec.name:<10} {state}")
    print(flush=True)


def warm_up(server: RunningServer, secs: int, opts: Options) -> None:
    """A short unrecorded hello run: imports, caches and the allocator settle first."""
    if secs > 0:
        run_wrk(server, "/", "hello.lua", 50, dataclasses.replace(opts, secs=secs))


def parse_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in items if t not in allowed]
    if unknown or not items:
        raise SystemExit(f"--{what}: unknown {unknown or text!r}; choose from {','.join(allowed)}")
    return [a for a in allowed if a in items]  # fixed order, so tables line up run to run


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--secs", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--scenarios", default=",".join(SCENARIO_NAMES), help="comma-separated subset")
    parser.add_argument("--servers", default=",".join(SERVER_NAMES), help="comma-separated subset")
    parser.add_argument("--connections", type=int, default=10_000, help="idle keep-alive connections to hold")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unrecorded hello load per server (0: none)")
    parser.add_argument("--greenhttp-bin", default=os.environ.get("GREENHTTP_BIN"),
                        help="greenhttp executable or its venv's bin dir (default: env GREENHTTP_BIN, "
                             "else the greenhttp next to this python)")
    parser.add_argument("--peers-bin", default=os.environ.get("PEERS_BIN", "/tmp/peers/bin"),
                        help="bin dir of the venv with gevent, gunicorn, uvicorn, httptools, uvloop "
                             "(env PEERS_BIN)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and clients to separate cpus")
    parser.add_argument("--pywsgi-nodelay", action="store_true",
                        help="set TCP_NODELAY in pywsgi (as shipped it does not, and stalls on delayed ACKs)")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 100 or not 1 <= args.secs <= 600 or not 1 <= args.connections <= 100_000:
        parser.error("--rounds 1..100, --secs 1..600, --connections 1..100000")
    return args


def build_specs(names: list[str], args: argparse.Namespace) -> list[ServerSpec]:
    peers_bin = Path(args.peers_bin)
    makers: dict[str, Callable[[], ServerSpec]] = {
        "greenhttp": lambda: greenhttp_spec(resolve_greenhttp(args.greenhttp_bin)),
        "pywsgi": lambda: pywsgi_spec(peers_bin / "python", args.pywsgi_nodelay),
        "uvicorn": lambda: uvicorn_spec(peers_bin),
        "gunicorn": lambda: gunicorn_spec(peers_bin, args.connections),
    }
    return [makers[name]() for name in names]


def write_json(path: Path, results: dict[str, dict[str, list[Measurement | None]]]) -> None:
    data = {scenario: {server: [dataclasses.asdict(m) if m else None for m in ms]
                       for server, ms in row.items()} for scenario, row in results.items()}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")  # unwinds through the finally that kills servers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    signal.signal(signal.SIGTERM, _terminate)
    scenarios = [SCENARIOS[n] for n in parse_list(args.scenarios, SCENARIO_NAMES, "scenarios")]
    nofile = raise_fd_limit(args.connections)  # before any server is spawned: they inherit it
    if SCENARIOS["idle"] in scenarios and nofile < args.connections + 64:
        raise SystemExit(f"RLIMIT_NOFILE is {nofile}: too low for --connections {args.connections}")
    server_cpus, client_cpus = cpu_plan(not args.no_pin)
    opts = Options(args.secs, args.connections, client_cpus)
    specs = build_specs(parse_list(args.servers, SERVER_NAMES, "servers"), args)
    print_header(specs, opts, args, server_cpus, nofile)

    log_dir = Path(tempfile.mkdtemp(prefix="greenhttp-bench-"))
    servers: list[RunningServer] = []
    try:
        for spec in specs:
            if spec.argv is None:
                continue
            try:
                server = start_server(spec, log_dir, server_cpus)
                warm_up(server, args.warmup, opts)
            except BenchError as exc:
                print(f"  !! {spec.name} skipped: {exc}", flush=True)
                continue
            servers.append(server)
            print(f"started {spec.name} (pid {server.proc.pid}, port {server.port})", flush=True)
        if not servers:
            print("no server could be started")
            return 1
        with cpu_affinity(client_cpus):  # our own parsing and bookkeeping stay off the server's cpu
            results = run_rounds(servers, scenarios, args.rounds, opts)
    finally:
        for server in servers:
            stop_server(server)
    print_summary(results, scenarios, [s.name for s in servers], args.rounds)
    if args.json:
        write_json(args.json, results)
    print(f"\nserver logs: {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
