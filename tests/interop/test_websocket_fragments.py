"""Sending fragmented WebSocket messages (RFC 6455 §5.4): ``send(iterable)`` streams one
message frame by frame with bounded memory, ``fragment_size`` cuts large sends. Frames are
checked as they are on the wire (raw sockets reading frame headers); reassembly by the
`websockets` library's echo server in its own process (conftest.websockets_peer)."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import tracemalloc
import zlib
from typing import Any, Iterator

import gevent
import pytest
from wsproto.utilities import generate_accept_token

from greenhttp.errors import UsageError
from greenhttp.websocket import WebSocket, accept, connect

from conftest import masked_frame, raw_websocket, read_frame, running, websockets_peer

MIB = 1024 * 1024
FIN, TEXT, BINARY, CONTINUATION, CLOSE, PING = True, 0x1, 0x2, 0x0, 0x8, 0x9


def frames_until_close(sock: socket.socket, buffered: bytes = b"") -> list[tuple[bool, int, bytes]]:
    """Every frame up to and including the server's Close, which is then answered."""
    frames = []
    while True:
        fin, opcode, payload, buffered = read_frame(sock, buffered)
        frames.append((fin, opcode, payload))
        if opcode == CLOSE:
            sock.sendall(masked_frame(0x88, payload[:2]))
            return frames


def serving(handler: Any, **settings: Any) -> Any:
    """A server whose app accepts the WebSocket (pings off) and runs ``handler(ws)``."""
    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ, ping_interval=None)
        handler(ws)
        ws.close()
        return []
    return running(app, **settings)


def frames_sent_by(handler: Any, **settings: Any) -> list[tuple[bool, int, bytes]]:
    """The frames a server running ``handler(ws)`` sends a raw client, up to its Close."""
    with serving(handler, **settings) as server:
        sock, rest = raw_websocket(server.address)
        try:
            return frames_until_close(sock, rest)
        finally:
            sock.close()


# -- send(iterable) to a foreign peer: reassembled, with bounded memory ---------------------

def test_20_mib_streamed_in_64_kib_parts_echoes_back_and_the_sender_holds_only_a_part():
    sent = hashlib.sha256()

    def parts() -> Iterator[bytes]:
        for _ in range(20 * 16):
            part = os.urandom(64 * 1024)
            sent.update(part)
            yield part

    with websockets_peer(1000, "") as address:
        ws = connect(f"ws://{address}/", proxy=False, compression=False, ping_interval=None,
                     max_message_size=32 * MIB)
        tracemalloc.start()
        try:
            ws.send(parts())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        echoed = ws.receive(timeout=30)
        ws.close()
    assert isinstance(echoed, bytes) and len(echoed) == 20 * MIB
    assert hashlib.sha256(echoed).digest() == sent.digest()
    # A part, its frame and wsproto's copies of it: a few hundred KiB, not 20 MiB.
    assert peak < 2 * MIB, f"sender peak {peak / MIB:.1f} MiB"


def test_streamed_text_with_permessage_deflate_is_reassembled_by_the_peer():
    words = [f"part {i} " * 500 for i in range(200)]
    with websockets_peer(1000, "") as address:
        ws = connect(f"ws://{address}/", proxy=False, ping_interval=None)
        assert ws.extensions and ws.extensions[0].startswith("permessage-deflate")
        ws.send(iter(words))
        ws.send(["one", "", "two"])
        ws.send([])
        assert ws.receive(timeout=10) == "".join(words)
        assert ws.receive(timeout=5) == "onetwo"
        assert ws.receive(timeout=5) == b""  # an empty iterable is still one (binary) message
        ws.close()


# -- the frames on the wire ------------------------------------------------------------------

@pytest.mark.parametrize("kind, opcode", [(bytes, BINARY), (str, TEXT)])
def test_each_part_is_a_frame_pings_interleave_and_other_messages_wait(kind, opcode):
    def encode(text: str) -> Any:
        return text.encode() if kind is bytes else text

    def handler(ws: WebSocket) -> None:
        other: list[Any] = []

        def parts() -> Iterator[Any]:
            yield encode("one")
            gevent.spawn(ws.ping, b"mid").join()  # control frames may go between fragments
            other.append(gevent.spawn(ws.send, encode("other")))
            gevent.sleep(0.1)  # the other message must wait for this one's last frame
            yield encode("two")

        ws.send(parts())
        other[0].join()

    frames = frames_sent_by(handler)
    assert frames[:-1] == [
        (not FIN, opcode, b"one"),
        (FIN, PING, b"mid"),
        (not FIN, CONTINUATION, b"two"),
        (FIN, CONTINUATION, b""),  # each part leaves at once, so the FIN comes in an empty frame
        (FIN, opcode, b"other"),
    ]


def test_a_producer_fed_by_another_sender_does_not_deadlock():
    """The iterable waits for a greenlet that itself sends on the WebSocket (a producer
    fed by a broadcaster): that send is handed to the streaming sender instead of waiting
    for the stream's end, which would never come. It goes out right after the stream."""
    done: list[str] = []

    def handler(ws: WebSocket) -> None:
        def broadcaster() -> None:
            ws.send("news")  # returns while the stream below is still going out
            ws.send(b"more")
            done.append("sent")

        def parts() -> Iterator[bytes]:
            yield b"head"
            gevent.spawn(broadcaster).join(timeout=5)  # before: blocked forever in send
            yield b"tail:" + ",".join(done).encode()

        ws.send(parts())
        ws.send(b"after")

    frames = frames_sent_by(handler)
    assert frames[:-1] == [
        (not FIN, BINARY, b"head"),
        (not FIN, CONTINUATION, b"tail:sent"),
        (FIN, CONTINUATION, b""),
        (FIN, TEXT, b"news"),  # held messages keep their order, before any later send
        (FIN, BINARY, b"more"),
        (FIN, BINARY, b"after"),
    ]


def test_what_other_senders_hand_over_during_a_stream_is_bounded():
    """Past HELD_LIMIT bytes held, another sender waits for the stream's end as before."""
    from greenhttp.websocket.sending import HELD_LIMIT

    returned: list[int] = []

    def handler(ws: WebSocket) -> None:
        def sender() -> None:
            for size in (HELD_LIMIT // 2, HELD_LIMIT // 2, 1):
                ws.send(b"x" * size)
                returned.append(size)

        def parts() -> Iterator[bytes]:
            yield b"a"
            other = gevent.spawn(sender)
            gevent.sleep(0.2)
            yield b"held:%d" % len(returned)  # the first two were taken, the third waits
            other.join(timeout=0)

        ws.send(parts())
        gevent.sleep(0.2)
        returned.append(-1)

    frames = frames_sent_by(handler)
    assert frames[1] == (not FIN, CONTINUATION, b"held:2")
    assert [len(payload) for fin, opcode, payload in frames[3:6]] == [HELD_LIMIT // 2, HELD_LIMIT // 2, 1]
    assert returned == [HELD_LIMIT // 2, HELD_LIMIT // 2, 1, -1]


@pytest.mark.parametrize("failure, error", [("raise", RuntimeError), ("mixed", TypeError),
                                            ("nested send", UsageError)])
def test_a_failing_iterable_closes_with_1011_and_raises(failure, error):
    seen: list[Any] = []

    def handler(ws: WebSocket) -> None:
        def parts() -> Iterator[Any]:
            yield b"a"
            yield b"b"
            if failure == "raise":
                raise RuntimeError("producer broke")
            if failure == "mixed":
                yield "text"
            ws.send(b"nested")

        try:
            ws.send(parts())
        except Exception as exc:  # noqa: BLE001 - the test records what escaped
            seen.append((type(exc), ws.close_code, ws.closed))

    frames = frames_sent_by(handler)
    assert frames[:2] == [(not FIN, BINARY, b"a"), (not FIN, CONTINUATION, b"b")]
    assert frames[2][1] == CLOSE and struct.unpack("!H", frames[2][2][:2])[0] == 1011
    assert len(frames) == 3
    assert seen == [(error, 1011, True)]


def test_an_iterable_failing_before_its_first_part_leaves_the_connection_usable():
    seen: list[Any] = []

    def handler(ws: WebSocket) -> None:
        def parts() -> Iterator[bytes]:
            raise RuntimeError("nothing to send")
            yield b""  # pragma: no cover - makes this a generator

        for bad in (parts(), {"a": 1}, 42, [1, 2]):
            try:
                ws.send(bad)  # type: ignore[arg-type]
            except (RuntimeError, TypeError) as exc:
                seen.append(type(exc))
        ws.send(b"still open")

    frames = frames_sent_by(handler)
    assert seen == [RuntimeError, TypeError, TypeError, TypeError]
    assert frames[0] == (FIN, BINARY, b"still open")
    assert struct.unpack("!H", frames[1][2][:2])[0] == 1000


# -- fragment_size ---------------------------------------------------------------------------

def test_fragment_size_setting_cuts_sends_into_frames_of_at_most_that_size():
    text = "héllo wörld €uro 𝄞"  # 1- to 4-byte code points

    def handler(ws: WebSocket) -> None:
        assert ws.fragment_size == 4
        ws.send(b"0123456789")
        ws.send(text)
        ws.send([b"abcdefghij", b"k"])  # parts larger than it are cut too
        ws.send(b"0123")

    frames = frames_sent_by(handler, websocket_fragment_size=4)
    assert frames[:3] == [(not FIN, BINARY, b"0123"), (not FIN, CONTINUATION, b"4567"),
                          (FIN, CONTINUATION, b"89")]
    end = next(i for i, frame in enumerate(frames) if i >= 3 and frame[0])
    text_frames = frames[3:end + 1]
    assert [f[1] for f in text_frames] == [TEXT] + [CONTINUATION] * (len(text_frames) - 1)
    assert [f[0] for f in text_frames] == [False] * (len(text_frames) - 1) + [True]
    assert all(1 <= len(f[2]) <= 4 for f in text_frames)
    assert all(f[2].decode("utf-8") for f in text_frames)  # cut between code points
    assert b"".join(f[2] for f in text_frames).decode("utf-8") == text
    assert frames[end + 1:end + 6] == [
        (not FIN, BINARY, b"abcd"), (not FIN, CONTINUATION, b"efgh"), (not FIN, CONTINUATION, b"ij"),
        (not FIN, CONTINUATION, b"k"), (FIN, CONTINUATION, b"")]
    assert frames[end + 6] == (FIN, BINARY, b"0123")
    assert frames[end + 7][1] == CLOSE


def test_client_fragment_size_cuts_masked_frames_and_the_peer_reassembles():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    frames: list[tuple[bool, int, bytes]] = []

    def raw_server() -> None:
        conn, _ = listener.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + generate_accept_token(key) + b"\r\n\r\n")
        buffered = b""
        while True:
            fin, opcode, payload, buffered = read_frame(conn, buffered)
            frames.append((fin, opcode, payload))
            if opcode == CLOSE:
                conn.sendall(b"\x88\x02" + payload[:2])
                conn.close()
                return

    server = gevent.spawn(raw_server)
    payload = bytes(range(256)) * 10
    ws = connect(f"ws://127.0.0.1:{listener.getsockname()[1]}/", proxy=False, compression=False,
                 ping_interval=None, fragment_size=1000)
    ws.send(payload)
    ws.close()
    server.join(timeout=5)
    listener.close()
    assert [(fin, opcode, len(data)) for fin, opcode, data in frames[:3]] == [
        (not FIN, BINARY, 1000), (not FIN, CONTINUATION, 1000), (FIN, CONTINUATION, 560)]
    assert b"".join(data for _, _, data in frames[:3]) == payload
    assert frames[3][1] == CLOSE

    with websockets_peer(1000, "") as address:
        ws = connect(f"ws://{address}/", proxy=False, ping_interval=None, fragment_size=1000)
        ws.send(payload)
        ws.send(payload.decode("latin-1"))
        assert ws.receive(timeout=5) == payload
        assert ws.receive(timeout=5) == payload.decode("latin-1")
        ws.close()


@pytest.mark.parametrize("window", [15, 9])
def test_fragment_size_bounds_the_compressed_frames_on_the_wire(window):
    """Under permessage-deflate ``fragment_size`` bounds each frame's payload as sent,
    incompressible data included (before: wsproto flushed zlib only at a message's last
    frame, which could then carry far more), and the frames still inflate to the data."""
    random = os.urandom(50_000)
    text = "compressible text, " * 3000
    parts = [os.urandom(10_000), os.urandom(3_000)]

    def app(environ: dict, start_response: Any) -> Any:
        ws = accept(environ, ping_interval=None, fragment_size=1024)
        assert ws.extensions and ws.extensions[0].startswith("permessage-deflate")
        ws.send(random)
        ws.send(text)
        ws.send(iter(parts))
        ws.close()
        return []

    offer = b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=%d\r\n" % window
    with running(app) as server:
        sock, rest = raw_websocket(server.address, extra=offer)
        try:
            frames = frames_until_close(sock, rest)
        finally:
            sock.close()
    data_frames = frames[:-1]
    assert max(len(payload) for _, _, payload in data_frames) <= 1024
    messages: list[list[bytes]] = [[]]
    for fin, _, payload in data_frames:
        messages[-1].append(payload)
        if fin:
            messages.append([])
    inflater = zlib.decompressobj(-window)  # context taken over from message to message
    inflated = [inflater.decompress(b"".join(payloads) + b"\x00\x00\xff\xff") for payloads in messages[:-1]]
    assert inflated == [random, text.encode(), b"".join(parts)]
    assert len(data_frames) > 50 + 13 + 2  # cut: about one frame per 888 bytes of input


def test_a_client_cutting_compressed_messages_is_reassembled_by_the_peer():
    data = os.urandom(200_000)
    with websockets_peer(1000, "") as address:
        ws = connect(f"ws://{address}/", proxy=False, ping_interval=None, fragment_size=4096)
        assert ws.extensions and ws.extensions[0].startswith("permessage-deflate")
        ws.send(data)
        ws.send(iter([b"a" * 100_000, data[:1000]]))
        assert ws.receive(timeout=10) == data
        assert ws.receive(timeout=10) == b"a" * 100_000 + data[:1000]
        ws.close()
