"""greenhttp.websocket against foreign peers: the `websockets` library's sync client and
server talk to greenhttp's server and client over real loopback sockets."""

from __future__ import annotations

import socket
import time
from typing import Any, Iterator

import gevent
import pytest
from websockets.exceptions import ConnectionClosed as WSClosed
from websockets.sync.client import connect as ws_connect

import greenhttp
from greenhttp.websocket import ConnectionClosed, WebSocket, accept, connect, endpoint
from greenhttp.websocket.client import HandshakeFailed

from conftest import read_one_response, running, websockets_peer


def ws_url(server: greenhttp.Server, path: str = "/ws") -> str:
    host, port = server.address
    return f"ws://{host}:{port}{path}"


@endpoint
def echo(ws: WebSocket) -> None:
    for message in ws:
        ws.send(message)


def plain_or_ws(environ: dict, start_response: Any) -> Any:
    if environ["PATH_INFO"] == "/ws":
        return echo(environ, start_response)
    body = b"plain " + environ.get("HTTP_UPGRADE", "-").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


# -- greenhttp server, `websockets` client ---------------------------------------------------

def test_websockets_client_echo_text_and_binary():
    with running(plain_or_ws) as server:
        with ws_connect(ws_url(server)) as client:
            client.send("héllo")
            assert client.recv(timeout=5) == "héllo"
            client.send(b"\x00\x01\xff")
            assert client.recv(timeout=5) == b"\x00\x01\xff"


def test_fragmented_message_is_reassembled():
    with running(plain_or_ws) as server:
        with ws_connect(ws_url(server), compression=None) as client:
            client.send(["frag", "ment", "ed"])  # websockets sends one frame per item
            assert client.recv(timeout=5) == "fragmented"
            client.send([b"a" * 70000, b"b" * 70000])
            assert client.recv(timeout=5) == b"a" * 70000 + b"b" * 70000


def test_permessage_deflate_negotiated_and_works():
    with running(plain_or_ws) as server:
        with ws_connect(ws_url(server), compression="deflate") as client:
            assert "permessage-deflate" in client.response.headers["Sec-WebSocket-Extensions"]
            payload = "x" * 200_000
            client.send(payload)
            assert client.recv(timeout=5) == payload
        with ws_connect(ws_url(server), compression=None) as client:
            assert "Sec-WebSocket-Extensions" not in client.response.headers
            client.send("plain")
            assert client.recv(timeout=5) == "plain"


def test_subprotocol_negotiation():
    @endpoint(subprotocols=["chat.v2", "chat.v1"])
    def app(ws: WebSocket) -> None:
        ws.send(ws.subprotocol or "none")

    with running(app) as server:
        with ws_connect(ws_url(server), subprotocols=["chat.v1", "other"]) as client:
            assert client.subprotocol == "chat.v1"
            assert client.recv(timeout=5) == "chat.v1"
        with ws_connect(ws_url(server), subprotocols=["other"]) as client:
            assert client.subprotocol is None
            assert client.recv(timeout=5) == "none"


def test_ping_from_client_gets_pong_and_server_close_code_reaches_client():
    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ)
        assert ws.receive() == "bye"
        ws.close(4001, "custom reason")
        return []

    with running(app) as server:
        with ws_connect(ws_url(server)) as client:
            pong = client.ping(b"are you there")
            assert pong.wait(5)
            client.send("bye")
            with pytest.raises(WSClosed) as info:
                client.recv(timeout=5)
            assert info.value.rcvd.code == 4001
            assert info.value.rcvd.reason == "custom reason"


def test_client_close_code_reaches_the_app_and_receive_returns_none():
    seen: list[Any] = []

    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ)
        seen.append(ws.receive())
        seen.append((ws.close_code, ws.close_reason, ws.closed))
        return []

    with running(app) as server:
        with ws_connect(ws_url(server)) as client:
            client.close(4321, "leaving")
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            gevent.sleep(0.01)
    assert seen == [None, (4321, "leaving", True)]


def test_message_over_the_limit_is_refused_with_1009():
    @endpoint(max_message_size=1024)
    def app(ws: WebSocket) -> None:
        for message in ws:
            ws.send(f"got {len(message)}")

    with running(app) as server:
        with ws_connect(ws_url(server), max_size=None) as client:
            client.send("a" * 1024)
            assert client.recv(timeout=5) == "got 1024"
            client.send("a" * 1025)
            with pytest.raises(WSClosed) as info:
                client.recv(timeout=5)
            assert info.value.rcvd.code == 1009


def test_graceful_stop_closes_websockets_with_1001():
    server = greenhttp.Server(plain_or_ws, port=0, access_log=False)
    server.start()
    client = ws_connect(ws_url(server), legacy=True)
    client.send("x")
    assert client.recv(timeout=5) == "x"
    started = time.monotonic()
    stopper = gevent.spawn(server.stop, 10.0)
    with pytest.raises(WSClosed) as info:
        client.recv(timeout=5)
    assert info.value.rcvd.code == 1001
    stopper.join(5)
    client.close()
    assert stopper.dead
    # Well inside the 10 s grace: the close handshake ended the connection, not the kill.
    assert time.monotonic() - started < 3


def test_vanished_client_is_noticed_by_ping_timeout():
    seen: list[Any] = []

    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ, ping_interval=0.2, ping_timeout=0.3)
        seen.append(ws.receive())
        seen.append(ws.close_code)
        return []

    with running(app) as server:
        sock = socket.create_connection(server.address)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        # The client now never answers (a dead peer that sent no FIN).
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        sock.close()
    assert seen == [None, 1011]


def test_peer_that_disconnects_without_close_frame_is_1006():
    seen: list[Any] = []

    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ)
        seen.append(ws.receive())
        seen.append(ws.close_code)
        return []

    with running(app) as server:
        sock = socket.create_connection(server.address)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 101 ")
        sock.close()
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            gevent.sleep(0.02)
    assert seen == [None, 1006]


def _masked_text(text: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    return bytes([0x81, 0x80 | len(text)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text))


def test_frames_sent_in_the_same_packet_as_the_head_are_not_lost():
    with running(plain_or_ws) as server:
        sock = socket.create_connection(server.address)
        sock.settimeout(5)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                     + _masked_text(b"early"))
        data = b""
        while b"early" not in data:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
        head, _, frames = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455 §1.3's example
        assert frames == b"\x81\x05early"
        sock.close()


def handshake(address: Any, extra: bytes) -> tuple[bytes, dict[str, str], bytes]:
    sock = socket.create_connection(address)
    sock.settimeout(5)
    try:
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
        return read_one_response(sock)
    finally:
        sock.close()


def test_unsupported_version_is_426_with_supported_version():
    with running(plain_or_ws) as server:
        head, headers, _ = handshake(server.address, b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                     b"Sec-WebSocket-Version: 8\r\n")
        assert head.startswith(b"HTTP/1.1 426 ")
        assert headers["sec-websocket-version"] == "13"


def test_bad_key_is_400_and_plain_get_to_endpoint_is_426():
    with running(plain_or_ws) as server:
        head, _, _ = handshake(server.address, b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                               b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n")
        assert head.startswith(b"HTTP/1.1 400 ")
        head, headers, _ = handshake(server.address, b"")
        assert head.startswith(b"HTTP/1.1 426 ")
        assert headers["upgrade"] == "websocket"


def test_websocket_request_to_a_plain_app_is_plain_http_and_keeps_alive():
    with running(plain_or_ws) as server:
        sock = socket.create_connection(server.address)
        sock.settimeout(5)
        request = (b"GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        sock.sendall(request)
        head, _, body = read_one_response(sock)
        assert head.startswith(b"HTTP/1.1 200 ") and body == b"plain websocket"
        sock.sendall(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = read_one_response(sock)
        assert head.startswith(b"HTTP/1.1 200 ") and body == b"plain -"
        sock.close()


# -- greenhttp client ------------------------------------------------------------------------

@pytest.fixture
def websockets_server() -> Iterator[str]:
    """A `websockets` sync server in its own process (conftest.websockets_peer)."""
    with websockets_peer(4002, "as asked") as address:
        yield f"ws://{address}/path?q=1"


def test_greenhttp_client_against_websockets_server(websockets_server):
    ws = connect(websockets_server, proxy=False)
    ws.send("hi")
    assert ws.receive(timeout=5) == "hi"
    ws.send(b"\x00" * 300_000)
    assert ws.receive(timeout=5) == b"\x00" * 300_000
    assert ws.extensions and ws.extensions[0].startswith("permessage-deflate")
    ws.ping(b"p")
    ws.send("close-please")
    assert ws.receive(timeout=5) is None
    assert (ws.close_code, ws.close_reason) == (4002, "as asked")
    with pytest.raises(ConnectionClosed):
        ws.send("after close")


def test_greenhttp_client_against_greenhttp_server_close_from_client():
    seen: list[Any] = []

    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ)
        for message in ws:
            ws.send(message.upper())
        seen.append(ws.close_code)
        return []

    with running(app) as server:
        ws = connect(ws_url(server), proxy=False, compression=False)
        ws.send("abc")
        assert ws.receive(timeout=5) == "ABC"
        ws.close(1000, "done")
        assert ws.closed and ws.close_code == 1000
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            gevent.sleep(0.02)
    assert seen == [1000]


def test_client_handshake_refused_raises_with_status():
    with running(plain_or_ws) as server:
        with pytest.raises(HandshakeFailed) as info:
            connect(ws_url(server, "/other"), proxy=False)
        assert info.value.status == 200
