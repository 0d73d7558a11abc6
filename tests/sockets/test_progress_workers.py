"""Upload progress across processes, with the real ``greenhttp`` command: an upload on one
connection, polls on fresh connections until another worker (or another server) answers,
and that answer must show the upload's progress. The master's shared store (``-w 2``),
Redis (``--progress-store redis://...`` against a real redis-server), and two servers
sharing one Redis as two machines behind a load balancer would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
import time

from cli_runner import CLI, Running, start, write_app
from conftest import read_one_response

from redis_runner import redis_url  # noqa: F401  (a fixture)

# The example's middleware around a handler that reads the body as it arrives; every
# response says which worker process answered it.
APP = textwrap.dedent('''
    import os
    from greenhttp.progress import ProgressMiddleware

    def consume(environ, start_response):
        size = sum(len(chunk) for chunk in environ["greenhttp.body"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(size).encode()]

    tracked = ProgressMiddleware(consume)

    def app(environ, start_response):
        def with_pid(status, headers, exc_info=None):
            return start_response(status, headers + [("X-Worker-Pid", str(os.getpid()))], exc_info)
        return tracked(environ, with_pid)
''')

PIECE, TOTAL = 1000, 4000


def address(url: str) -> tuple[str, int]:
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    return host, int(port)


def poll(url: str, ident: str) -> tuple[int, int, dict]:
    """One poll on a fresh connection: (worker pid, status, report)."""
    with socket.create_connection(address(url), timeout=5) as sock:
        sock.sendall(f"GET /progress?X-Progress-ID={ident} HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n".encode())
        head, headers, body = read_one_response(sock)
    return int(headers["x-worker-pid"]), int(head.split()[1]), json.loads(body)


def polls_until_pids(url: str, ident: str, want: int, check, timeout: float = 20.0) -> dict[int, dict]:
    """Poll until ``want`` different processes answered with a report passing ``check``."""
    seen: dict[int, dict] = {}
    answers = []
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        pid, status, report = poll(url, ident)
        answers.append((pid, status, report.get("state"), report.get("received")))
        if status == 200 and check(report):
            seen[pid] = report
        else:
            time.sleep(0.02)
    assert len(seen) >= want, f"answers: {answers[-10:]}"
    return seen


def upload_seen_elsewhere(upload_url: str, poll_urls: list[str], ident: str, want: int) -> None:
    """A paced upload to ``upload_url``; polls on ``poll_urls`` until ``want`` processes
    report it mid-way, then at its end."""
    with socket.create_connection(address(upload_url), timeout=10) as sock:
        sock.sendall(f"POST /upload?X-Progress-ID={ident} HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Length: {TOTAL}\r\n\r\n".encode() + b"a" * PIECE)
        time.sleep(0.2)  # past the middleware's update_interval: the next piece is written
        sock.sendall(b"b" * PIECE)
        seen: dict[int, dict] = {}
        for url in poll_urls:
            seen.update(polls_until_pids(
                url, ident, want if len(poll_urls) == 1 else 1,
                lambda r: r["state"] == "uploading" and r["received"] == 2 * PIECE))
        assert len(seen) >= want
        assert all(r["total"] == TOTAL for r in seen.values()), seen
        sock.sendall(b"c" * (TOTAL - 2 * PIECE))
        head, headers, body = read_one_response(sock)
    assert head.startswith(b"HTTP/1.1 200") and body == str(TOTAL).encode()
    uploader = int(headers["x-worker-pid"])
    # The same server: the uploading worker is among those that answered, and so is another.
    # Other servers: only they answered (those polls never reach the uploading one).
    assert (uploader in seen) == (upload_url in poll_urls), (uploader, seen.keys())
    done: dict[int, dict] = {}
    for url in poll_urls:
        done.update(polls_until_pids(url, ident, want if len(poll_urls) == 1 else 1,
                                     lambda r: r["state"] == "done"))
    assert all(r["received"] == TOTAL and r["status"] == 200 for r in done.values()), done


def unix_socket_paths(pid: int) -> list[str]:
    """Paths of the unix sockets process ``pid`` holds (its fds matched to /proc/net/unix)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/net/unix") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return [row[7] for row in rows if len(row) > 7 and row[6] in inodes]


def stop(server: Running) -> None:
    code, err = server.stop()
    assert code == 0, err


def test_workers_share_progress_through_the_master(tmp_path):
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "-w", "2", "--no-access-log")
    try:
        workers = server.wait_workers(2)
        [store_socket] = [p for p in unix_socket_paths(server.proc.pid) if "greenhttp-progress-" in p]
        upload_seen_elsewhere(server.url, [server.url], "w2up", want=2)
        pid, status, report = poll(server.url, "never")
        assert status == 404 and report["state"] == "unknown" and pid in workers
    finally:
        stop(server)
    # The master removed its socket and private directory on the way out.
    assert not os.path.exists(os.path.dirname(store_socket))


def test_workers_share_progress_through_redis(tmp_path, redis_url):  # noqa: F811
    import redis

    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "-w", "2", "--no-access-log",
                   "--progress-store", redis_url)
    try:
        server.wait_workers(2)
        # With a Redis store the master holds none of its own.
        assert not [p for p in unix_socket_paths(server.proc.pid) if "greenhttp-progress-" in p]
        upload_seen_elsewhere(server.url, [server.url], "r2up", want=2)
    finally:
        stop(server)
    client = redis.Redis.from_url(redis_url)
    assert 0 < client.ttl("greenhttp:progress:r2up") <= 60  # finished: the short TTL
    client.close()


def test_two_servers_share_progress_through_redis(tmp_path, redis_url):  # noqa: F811
    # Two machines behind a load balancer: the upload reaches one, the poll the other.
    app = write_app(tmp_path, APP)
    env = dict(os.environ, GREENHTTP_PROGRESS_STORE=redis_url)  # the setting's variable
    first = start(app, "-b", "127.0.0.1:0", "-w", "1", "--no-access-log", env=env)
    second = start(app, "-b", "127.0.0.1:0", "-w", "1", "--no-access-log", env=env)
    try:
        upload_seen_elsewhere(first.url, [second.url], "lb1", want=1)
    finally:
        stop(first)
        stop(second)


def test_bad_progress_store_setting_is_one_line(tmp_path):
    result = subprocess.run(CLI + [write_app(tmp_path, APP), "--progress-store", "memcached://x"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "--progress-store" in result.stderr
    assert "redis://" in result.stderr


def test_one_worker_keeps_progress_in_its_own_memory(tmp_path):
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "-w", "1", "--no-access-log")
    try:
        server.wait_workers(1)
        assert not [p for p in unix_socket_paths(server.proc.pid) if "greenhttp-progress-" in p]
        upload_seen_elsewhere(server.url, [server.url], "w1up", want=1)
    finally:
        stop(server)


def test_ttin_past_one_worker_shares_progress_through_the_master(tmp_path):
    # One worker keeps progress in its own memory (no store in the master); TTIN to two
    # makes the master start its store and replace the first worker, so that an upload
    # on either worker is visible from both.
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "-w", "1", "--no-access-log")
    try:
        [first] = server.wait_workers(1)
        assert not [p for p in unix_socket_paths(server.proc.pid) if "greenhttp-progress-" in p]
        os.kill(server.proc.pid, signal.SIGTTIN)
        both = server.wait_workers(2, exclude={first})
        assert first not in both
        assert [p for p in unix_socket_paths(server.proc.pid) if "greenhttp-progress-" in p]
        upload_seen_elsewhere(server.url, [server.url], "ttinup", want=2)
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert "replacing the running worker(s)" in err
