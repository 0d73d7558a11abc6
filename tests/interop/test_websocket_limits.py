"""Limits that need a crafted peer: a permessage-deflate bomb, keepalive while the app
only sends, and two greenlets receiving on one WebSocket."""

from __future__ import annotations

import socket
import struct
import time
import tracemalloc
import zlib
from typing import Any

import gevent
import pytest
from websockets.exceptions import ConnectionClosed as WSClosed
from websockets.sync.client import connect as ws_connect

from greenhttp.errors import UsageError
from greenhttp.websocket import ConnectionClosed, WebSocket, accept, endpoint
from greenhttp.websocket import ConcurrentReceive

from conftest import masked_frame, raw_websocket, read_frame, running


def read_close(sock: socket.socket, buffered: bytes = b"") -> int:
    """Read server frames until a Close; return its status code."""
    data = buffered
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, opcode, payload, data = read_frame(sock, data)
        if opcode == 0x8:
            return int(struct.unpack("!H", payload[:2])[0])
    raise AssertionError("no Close frame")


# -- permessage-deflate bomb -------------------------------------------------------------------

def test_deflate_bomb_is_refused_with_1009_without_inflating_it():
    """200 MiB of zeros deflate to ~200 KiB: one frame. With a 1 MiB limit the server must
    answer 1009 while never holding much more than 1 MiB of inflated data (wsproto alone
    inflates each 64 KiB read whole: ~64 MiB at once)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1 << 20)
    body = b"".join(compressor.compress(chunk) for _ in range(200))
    body += compressor.flush(zlib.Z_SYNC_FLUSH)
    body = body[:-4]  # RFC 7692 §7.2.1: the sender strips the trailing 00 00 ff ff
    frame = masked_frame(0x80 | 0x40 | 0x2, body)  # FIN, RSV1 (compressed), binary
    seen: list[Any] = []

    @endpoint(max_message_size=1 << 20)
    def app(ws: WebSocket) -> None:
        for message in ws:
            seen.append(len(message))
        seen.append(ws.close_code)

    with running(app) as server:
        sock, rest = raw_websocket(server.address, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
        tracemalloc.start()
        try:
            sock.sendall(frame)
            code = read_close(sock, rest)
            sock.sendall(masked_frame(0x88, struct.pack("!H", 1000)))  # answer the Close
            deadline = time.monotonic() + 5
            while not seen and time.monotonic() < deadline:
                gevent.sleep(0.02)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            sock.close()
    assert code == 1009
    assert seen == [1009]
    assert peak < 8 * (1 << 20), f"peak {peak / (1 << 20):.1f} MiB traced for a 1 MiB limit"


def test_compressed_messages_up_to_the_limit_still_arrive():
    @endpoint(max_message_size=1 << 20)
    def app(ws: WebSocket) -> None:
        for message in ws:
            ws.send(f"got {len(message)}")

    with running(app) as server:
        host, port = server.address
        with ws_connect(f"ws://{host}:{port}/", compression="deflate", max_size=None) as client:
            for size in (1, 70_000, 1 << 20):
                client.send(b"\0" * size)
                assert client.recv(timeout=5) == f"got {size}"
            client.send("é" * (1 << 19))  # 1 MiB of UTF-8, 512 Ki characters
            assert client.recv(timeout=5) == f"got {1 << 19}"
            client.send(b"\0" * ((1 << 20) + 1))
            with pytest.raises(WSClosed) as info:
                client.recv(timeout=5)
            assert info.value.rcvd.code == 1009


# -- keepalive while the app only sends ----------------------------------------------------------

def ticker(seen: list[Any], **options: Any) -> Any:
    """An app that never calls receive(): it sends a tick every 50 ms until a send fails."""
    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ, **options)
        started = time.monotonic()
        try:
            while time.monotonic() - started < 10:
                ws.send("tick")
                gevent.sleep(0.05)
        except ConnectionClosed:
            pass
        seen.append((ws.close_code, round(time.monotonic() - started, 1)))
        return []
    return app


def test_send_only_app_notices_a_silent_peer_by_ping_timeout():
    seen: list[Any] = []
    with running(ticker(seen, ping_interval=0.2, ping_timeout=0.3)) as server:
        sock, _ = raw_websocket(server.address)  # reads nothing, answers no Ping
        deadline = time.monotonic() + 8
        while not seen and time.monotonic() < deadline:
            gevent.sleep(0.05)
        sock.close()
    assert seen and seen[0][0] == 1011, seen
    assert seen[0][1] < 2, seen  # 0.2 s + 0.3 s, not the 30 s send timeout nor never


def test_send_only_app_keeps_a_live_peer_that_answers_pings():
    seen: list[Any] = []
    with running(ticker(seen, ping_interval=0.2, ping_timeout=0.3)) as server:
        host, port = server.address
        with ws_connect(f"ws://{host}:{port}/", ping_interval=None) as client:
            # `websockets` answers the server's Pings in its background reader; ten ping
            # rounds pass while the app only sends.
            count = 0
            started = time.monotonic()
            while time.monotonic() - started < 2.5:
                assert client.recv(timeout=5) == "tick"
                count += 1
            assert not seen
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            gevent.sleep(0.05)
    assert count > 20
    assert seen and seen[0][0] != 1011, seen


def test_close_from_another_greenlet_completes_while_the_app_only_waits():
    """Shutdown's 1001 comes from another greenlet; the app waits on something else. The
    peer's Close answer is read by the keepalive, so the connection ends at once."""
    seen: list[Any] = []

    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ, ping_interval=20)
        gevent.spawn_later(0.1, ws.close, 4005, "from elsewhere")
        started = time.monotonic()
        while not ws.closed and time.monotonic() - started < 8:
            gevent.sleep(0.02)
        seen.append((ws.close_code, time.monotonic() - started))
        return []

    with running(app) as server:
        host, port = server.address
        with ws_connect(f"ws://{host}:{port}/") as client:
            with pytest.raises(WSClosed) as info:
                client.recv(timeout=5)
            assert info.value.rcvd.code == 4005
        deadline = time.monotonic() + 8
        while not seen and time.monotonic() < deadline:
            gevent.sleep(0.05)
    assert seen and seen[0][0] == 4005 and seen[0][1] < 1.5, seen


# -- one receiver at a time --------------------------------------------------------------------

def test_second_greenlet_receiving_gets_a_usage_error_and_the_first_is_unharmed():
    seen: list[Any] = []

    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ)
        first = gevent.spawn(ws.receive)
        gevent.sleep(0.05)  # `first` now waits in receive()
        try:
            ws.receive()
        except ConcurrentReceive as exc:
            seen.append(exc)
        ws.send("go")
        seen.append(first.get(timeout=5))
        ws.send(ws.receive(timeout=5) or "none")  # one receiver at a time is fine again
        return []

    with running(app) as server:
        host, port = server.address
        with ws_connect(f"ws://{host}:{port}/") as client:
            assert client.recv(timeout=5) == "go"
            client.send("first")
            client.send("second")
            assert client.recv(timeout=5) == "second"
    assert isinstance(seen[0], UsageError) and "another greenlet" in str(seen[0])
    assert seen[1] == "first"
