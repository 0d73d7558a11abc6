"""Flask-Sock (simple-websocket) and Flask-SocketIO/python-socketio with async_mode="gevent",
unchanged, under `greenhttp` (the CLI, monkey-patched like a deployment)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import threading
from typing import Iterator

import pytest
import socketio
from websockets.exceptions import ConnectionClosed as WSClosed
from websockets.sync.client import connect as ws_connect

import greenhttp

ROOT = pathlib.Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def cli_app(spec: str, **env: str) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "greenhttp", f"tests/ws_apps.py:{spec}", "-p", "0",
                             "--no-access-log"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **env})
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), f"no URL on stdout; stderr: {proc.stderr.read()}"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        # A compat failure shows up server-side as a traceback (e.g. simple-websocket's
        # "Cannot obtain socket from WSGI environment").
        assert "Traceback" not in stderr, stderr


def test_flask_sock_echo_and_close_code():
    with cli_app("flask_sock_app") as url:
        assert greenhttp.get(url + "/").text == "plain flask"
        with ws_connect(url.replace("http://", "ws://") + "/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
            ws.send(b"\x01\x02")
            assert ws.recv(timeout=5) == b"\x01\x02"
            ws.send("close")
            with pytest.raises(WSClosed) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd.code == 4000
        # The connection after a taken-over one is unaffected.
        assert greenhttp.get(url + "/").text == "plain flask"


@pytest.mark.parametrize("gevent_websocket", [True, False], ids=["wsgi.websocket", "simple-websocket"])
def test_socketio_websocket_transport_end_to_end(gevent_websocket):
    env = {} if gevent_websocket else {"GREENHTTP_TEST_NO_GEVENTWEBSOCKET": "1"}
    with cli_app("socketio_app", **env) as url:
        client = socketio.Client(reconnection=False)
        got = threading.Event()
        answers: list[dict] = []

        @client.on("echoed")
        def on_echoed(data: dict) -> None:
            answers.append(data)
            got.set()

        # websocket only: no long-polling fallback can hide a broken upgrade.
        client.connect(url, transports=["websocket"], wait_timeout=10)
        try:
            assert client.transport() == "websocket"
            client.emit("echo", "ping over socket.io")
            assert got.wait(10)
            assert answers == [{"data": "ping over socket.io", "transport": "websocket"}]
        finally:
            client.disconnect()


def _status_kib(pid: int, field: str) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


@contextlib.contextmanager
def cli_proc(spec: str, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "greenhttp", f"tests/ws_apps.py:{spec}", "-p", "0",
                             "--no-access-log", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://")
        yield proc, url.replace("http://", "ws://")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_100_mib_message_is_refused_with_1009_in_bounded_memory():
    """A 100 MiB message, streamed by the client in 1 MiB frames, against a 16 MiB limit
    (the CLI flag): the server closes with 1009 and its peak RSS grows far less than 100 MiB."""
    with cli_proc("greenhttp_echo", "--websocket-max-message-size", str(16 * 1024 * 1024)) as (proc, url):
        with ws_connect(url + "/", max_size=None, compression=None) as ws:
            ws.send("small")
            assert ws.recv(timeout=5) == "got 5"
            baseline = _status_kib(proc.pid, "VmHWM")
            chunk = b"\x00" * (1 << 20)
            with pytest.raises(WSClosed) as info:
                ws.send(chunk for _ in range(100))
                ws.recv(timeout=10)
            code = (info.value.rcvd or info.value.sent).code if (info.value.rcvd or info.value.sent) else None
        assert code == 1009
        grown_mib = (_status_kib(proc.pid, "VmHWM") - baseline) / 1024
        assert grown_mib < 40, f"peak RSS grew {grown_mib:.0f} MiB for a 16 MiB limit"


def test_100_mib_message_under_a_raised_limit_arrives_whole():
    with cli_proc("greenhttp_echo", "--websocket-max-message-size", str(128 * 1024 * 1024)) as (proc, url):
        with ws_connect(url + "/", max_size=None, compression=None) as ws:
            ws.send(b"\x01" * (1 << 20) for _ in range(100))
            assert ws.recv(timeout=30) == f"got {100 << 20}"


def test_flask_sock_connection_gets_1001_on_shutdown():
    """SIGTERM: greenhttp stops gracefully; Flask-Sock's simple-websocket keeps its own
    wsproto state, so greenhttp writes the Close 1001 itself and the connection ends with
    the closing handshake, long before the 10 s grace."""
    import time

    with cli_proc("flask_sock_app") as (proc, url):
        with ws_connect(url + "/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
            started = time.monotonic()
            proc.terminate()
            with pytest.raises(WSClosed) as info:
                ws.recv(timeout=8)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
            assert info.value.rcvd.reason == "server shutting down"
        assert proc.wait(timeout=15) is not None
        assert time.monotonic() - started < 5, "the server waited out its grace period"
