"""Issue 14: compress="gzip" sends the request body gzip-coded, streamed when it streams."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest

import greenhttp


def decoding_app(environ: dict, start_response: Any) -> list[bytes]:
    """Reads the body as it arrives and reports what it was sent, decoded."""
    coding = environ.get("HTTP_CONTENT_ENCODING", "")
    decoder = zlib.decompressobj(31 if coding == "gzip" else 15)
    raw = decoded = 0
    digest = zlib.crc32(b"")
    while piece := environ["wsgi.input"].read(65536):
        raw += len(piece)
        data = decoder.decompress(piece)
        decoded += len(data)
        digest = zlib.crc32(data, digest)
    answer = {"coding": coding, "raw": raw, "decoded": decoded, "crc": digest,
              "length": environ.get("CONTENT_LENGTH"), "type": environ.get("CONTENT_TYPE"),
              "chunked": "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "")}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]


DATA = b"".join(b"line %d of a compressible body\n" % i for i in range(200000))


def test_bytes_body_is_compressed_with_a_content_length(serve, pool):
    with serve(decoding_app) as server:
        r = greenhttp.post(server.url, body=DATA, compress="gzip", pool=pool).json()
    assert r["coding"] == "gzip" and r["decoded"] == len(DATA) and r["crc"] == zlib.crc32(DATA)
    assert r["raw"] < len(DATA) // 5 and r["length"] == str(r["raw"]) and not r["chunked"]
    assert gzip.decompress(gzip.compress(b"")) == b""  # sanity of the coding under test


def test_streamed_body_is_compressed_as_it_streams(serve, pool):
    produced: list[int] = []

    def chunks() -> Any:
        for offset in range(0, len(DATA), 100000):
            produced.append(offset)
            yield DATA[offset:offset + 100000]

    with serve(decoding_app) as server:
        r = greenhttp.put(server.url, body=chunks(), compress="gzip", pool=pool).json()
    assert r["chunked"] and r["length"] is None and r["decoded"] == len(DATA)
    assert r["crc"] == zlib.crc32(DATA) and len(produced) == -(-len(DATA) // 100000)


def test_json_and_file_bodies_deflate_and_replay_on_redirect(serve, pool, tmp_path):
    path = tmp_path / "body.txt"
    path.write_bytes(DATA)

    def app(environ: dict, start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/moved":
            environ["wsgi.input"].read()
            start_response("307 Temporary Redirect", [("Location", "/"), ("Content-Length", "0")])
            return [b""]
        return decoding_app(environ, start_response)

    with serve(app) as server:
        r = greenhttp.post(server.url, json={"a": "b" * 1000}, compress="deflate", pool=pool).json()
        assert r["coding"] == "deflate" and r["type"] == "application/json" and r["decoded"] == len(json.dumps({"a": "b" * 1000}, separators=(",", ":")))
        with open(path, "rb") as f:  # a file: compressed as read, sent again after the 307
            r = greenhttp.put(server.url + "/moved", body=f, compress="gzip", pool=pool).json()
        assert r["decoded"] == len(DATA) and r["crc"] == zlib.crc32(DATA) and r["chunked"]
    with pytest.raises(greenhttp.UsageError, match="compress="):
        greenhttp.post(server.url, body=b"x", compress="lzma", pool=pool)
