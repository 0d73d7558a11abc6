"""Streaming stays first-class: request bodies reach content_types_accepted handlers chunk by
chunk (a 1 GiB PUT over a real socket in bounded memory), and response bodies — generators,
files, greenhttp.Stream — stream through the content codings."""

from __future__ import annotations

import gzip
import http.client
import resource as rlimit
import socket
import zlib
from typing import Any, Iterator

import gevent
import pytest
import webtest

import greenhttp
from greenhttp.resource import Application, Resource, available_encodings
from greenhttp.resource.encoding import STREAMING

from conftest import read_one_response, running

GIB = 1 << 30
CHUNK = 1 << 20


class Sink(Resource):
    """PUT creates; the handler counts the body as it arrives and keeps none of it."""

    seen: dict[str, int] = {}

    def allowed_methods(self) -> list[str]:
        return ["PUT"]

    def resource_exists(self) -> bool:
        return False

    def content_types_accepted(self) -> list[tuple[str, Any]]:
        return [("application/octet-stream", "from_octets")]

    def from_octets(self) -> bool:
        total = largest = chunks = 0
        for chunk in self.request.body:
            total += len(chunk)
            largest = max(largest, len(chunk))
            chunks += 1
        Sink.seen.update(total=total, largest=largest, chunks=chunks)
        return True


def rss_peak_mib() -> float:
    return rlimit.getrusage(rlimit.RUSAGE_SELF).ru_maxrss / 1024


def test_put_one_gib_streams_in_bounded_memory() -> None:
    block = b"\x5a" * CHUNK
    with running(Application([("/sink", Sink)])) as server:
        before = rss_peak_mib()
        with socket.create_connection(server.address[:2], timeout=60) as sock:
            sock.sendall(b"PUT /sink HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\n\r\n" % GIB)
            for _ in range(GIB // CHUNK):
                sock.sendall(block)
            status, headers, _ = read_one_response(sock, timeout=60)
        grown = rss_peak_mib() - before
    assert b"201" in status
    assert Sink.seen["total"] == GIB
    # The handler saw the body as many chunks, none bigger than a socket read, and the
    # process peak grew by far less than the body: nothing buffered it whole.
    assert Sink.seen["chunks"] > 1000 and Sink.seen["largest"] <= 256 * 1024
    assert grown < 64, f"peak RSS grew {grown:.0f} MiB for a 1024 MiB upload"


class Chunks(Resource):
    def encodings_provided(self) -> dict[str, str]:
        return available_encodings()

    def content_types_provided(self) -> list[tuple[str, Any]]:
        return [("text/plain", "to_text")]

    def to_text(self) -> Iterator[str]:
        return (f"line {i}\n" for i in range(20000))


EXPECTED = "".join(f"line {i}\n" for i in range(20000)).encode()
DECODERS = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_generator_streams_through_each_coding(coding: str) -> None:
    installed = {"br": "brotli", "zstd": "zstandard"}.get(coding)
    if installed is not None:
        try:
            module = __import__(installed)
        except ImportError:
            # Without the library the coding is simply not offered (never a 500).
            assert coding not in available_encodings() and f"encode_{coding}" not in STREAMING
            return
        DECODERS[coding] = (module.decompress if coding == "br"
                            else lambda data: module.ZstdDecompressor().decompressobj().decompress(data))
    with running(Application([("/lines", Chunks)])) as server:
        conn = http.client.HTTPConnection(*server.address[:2], timeout=10)
        conn.request("GET", "/lines", headers={"Accept-Encoding": coding})
        response = conn.getresponse()
        raw = response.read()
        conn.close()
    assert response.status == 200
    assert response.getheader("Content-Encoding") == coding
    assert response.getheader("Transfer-Encoding") == "chunked" and response.getheader("Content-Length") is None
    assert DECODERS[coding](raw) == EXPECTED
    assert len(raw) < len(EXPECTED) / 3


class Pushed(Resource):
    streams: list[greenhttp.Stream] = []

    def encodings_provided(self) -> dict[str, str]:
        return {"gzip": "encode_gzip", "identity": "encode_identity"}

    def content_types_provided(self) -> list[tuple[str, Any]]:
        return [("text/event-stream", "to_events")]

    def to_events(self) -> greenhttp.Stream:
        stream = greenhttp.Stream()
        Pushed.streams.append(stream)
        return stream


def test_stream_body_is_flushed_per_chunk_through_gzip() -> None:
    """A chunk pushed into a Stream reaches the client decodable before the stream ends."""
    with running(Application([("/events", Pushed)])) as server:
        with socket.create_connection(server.address[:2], timeout=10) as sock:
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
            while not Pushed.streams:
                gevent.sleep(0.01)
            stream = Pushed.streams[-1]
            stream.send(b"data: one\n\n")
            sock.settimeout(5)
            data = b""
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            text = b""
            while b"data: one" not in text:
                data = sock.recv(65536)
                assert data, "closed before the first event"
                body = data.split(b"\r\n\r\n", 1)[1] if b"HTTP/1.1" in data else data
                # strip chunk framing: size line, payload, CRLF
                while body:
                    size_line, _, rest = body.partition(b"\r\n")
                    size = int(size_line, 16)
                    text += decoder.decompress(rest[:size])
                    body = rest[size + 2:]
            assert not stream.closed  # the producer is still running: it was a flush, not the end
            stream.close()


def test_file_body_identity_and_gzip(tmp_path: Any) -> None:
    path = tmp_path / "data.bin"
    payload = bytes(range(256)) * 4096  # 1 MiB

    class File(Resource):
        def encodings_provided(self) -> dict[str, str]:
            return {"identity": "encode_identity", "gzip": "encode_gzip"}

        def content_types_provided(self) -> list[tuple[str, Any]]:
            return [("application/octet-stream", "to_file")]

        def to_file(self) -> Any:
            return open(path, "rb")

    path.write_bytes(payload)
    with running(Application([("/f", File)])) as server:
        conn = http.client.HTTPConnection(*server.address[:2], timeout=10)
        conn.request("GET", "/f", headers={"Accept-Encoding": "identity"})
        plain = conn.getresponse()
        assert plain.getheader("Content-Length") == str(len(payload))  # sendfile path: length from fstat
        assert plain.read() == payload
        conn.request("GET", "/f", headers={"Accept-Encoding": "gzip"})
        packed = conn.getresponse()
        assert packed.getheader("Content-Encoding") == "gzip"
        assert gzip.decompress(packed.read()) == payload
        conn.close()


def test_head_closes_a_generator_without_sending_it() -> None:
    closed = []

    class Gen(Resource):
        def content_types_provided(self) -> list[tuple[str, Any]]:
            return [("text/plain", "to_text")]

        def to_text(self) -> Iterator[bytes]:
            try:
                yield b"never sent"
            finally:
                closed.append(True)

    app = webtest.TestApp(Application([("/g", Gen)]))
    response = app.head("/g")
    assert response.body == b"" and response.headers["Content-Type"] == "text/plain"
    gen_response = app.get("/g")
    assert gen_response.body == b"never sent"
    assert closed == [True]  # the GET's generator ran to the end; the HEAD's never started
