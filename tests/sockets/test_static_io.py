"""How greenhttp.static sends files: sendfile(2) with offset and count on plain TCP,
read/send under TLS, every descriptor closed (also when the client leaves mid-file)."""

import email.parser
import gzip
import os
import socket
import struct
import subprocess
import time

import pytest
import requests

import greenhttp
from conftest import tls_stream_server
from greenhttp.server.wsgi import WSGIHandler
from greenhttp.static import Files

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "data.bin").write_bytes(DATA)
    (tmp_path / "small.txt").write_bytes(b"small\n")
    (tmp_path / "small.txt.gz").write_bytes(gzip.compress(b"small\n"))
    (tmp_path / "d").mkdir()
    return tmp_path


@pytest.fixture
def sendfile_calls(monkeypatch):
    calls = []
    real = os.sendfile

    def spy(out_fd, in_fd, offset, count):
        calls.append((offset, count))
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", spy)
    return calls


def test_whole_file_and_range_use_sendfile(serve, root, sendfile_calls):
    with serve(Files(str(root))) as server:
        whole = requests.get(server.url + "/data.bin")
        first = len(sendfile_calls)
        part = requests.get(server.url + "/data.bin", headers={"Range": "bytes=1000000-1999999"})
    assert whole.content == DATA and part.content == DATA[1000000:2000000]
    assert first >= 1 and sendfile_calls[0] == (0, len(DATA))
    assert sendfile_calls[first] == (1000000, 1000000)  # one range: offset + count


def _multipart_parts(response) -> list[bytes]:
    parser = email.parser.BytesParser()
    message = parser.parsebytes(b"Content-Type: " + response.headers["Content-Type"].encode()
                                + b"\r\n\r\n" + response.content)
    return [part.get_payload(decode=True) for part in message.get_payload()]


def test_multipart_ranges_use_sendfile_per_part(serve, root, sendfile_calls):
    ranges = "bytes=100-99999,2000000-2099999,-50000"
    with serve(Files(str(root))) as server:
        r = requests.get(server.url + "/data.bin", headers={"Range": ranges})
        small = requests.get(server.url + "/data.bin", headers={"Range": "bytes=0-9,1000-1009"})
    assert r.status_code == 206 and r.headers["Content-Type"].startswith("multipart/byteranges")
    assert _multipart_parts(r) == [DATA[100:100000], DATA[2000000:2100000], DATA[-50000:]]
    assert int(r.headers["Content-Length"]) == len(r.content)
    size = len(DATA)
    assert sendfile_calls == [(100, 99900), (2000000, 100000), (size - 50000, 50000)]
    # a multipart answer of a few KiB is read and sent in one piece, like a small file
    assert small.status_code == 206 and _multipart_parts(small) == [DATA[0:10], DATA[1000:1010]]


def _files_open(path) -> int:
    target = str(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(target):
                count += 1
        except OSError:
            pass
    return count


def test_no_descriptor_left_open(serve, root):
    with serve(Files(str(root), listings=True)) as server:
        url = server.url
        etag = requests.head(url + "/data.bin").headers["ETag"]
        for headers in ({}, {"If-None-Match": etag}, {"If-Match": '"x"'}, {"Range": "bytes=0-0,-1"},
                        {"Range": "bytes=999999999-"}, {"Range": "bytes=5-9"}):
            requests.get(url + "/data.bin", headers=headers)
            requests.head(url + "/data.bin", headers=headers)
        assert requests.get(url + "/small.txt", headers={"Accept-Encoding": "gzip"}).content == b"small\n"
        for path in ("/", "/d", "/d/", "/nope", "/data.bin/"):
            requests.get(url + path)
        requests.post(url + "/data.bin", data=b"x")
        assert _files_open(root) == 0


def test_client_gone_mid_file_frees_everything(serve, root, tmp_path_factory):
    big = tmp_path_factory.mktemp("gone") / "huge.bin"
    with open(big, "wb") as f:
        f.truncate(256 * 1024 * 1024)  # sparse: 256 MiB the server cannot finish sending
    with serve(Files(str(big.parent))) as server:
        sock = socket.create_connection(server.address)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
        deadline = time.monotonic() + 5
        while _files_open(big) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _files_open(big) == 1  # mid-file: the server holds it open
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
        deadline = time.monotonic() + 5
        while _files_open(big) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _files_open(big) == 0
        assert requests.get(server.url + "/huge.bin", headers={"Range": "bytes=0-3"}).content == b"\0" * 4


def test_tls_falls_back_to_read_send(root, ca, ca_file, sendfile_calls):
    files = Files(str(root))
    server = greenhttp.Server(files, port=0, access_log=False,
                              handler=WSGIHandler(files, "localhost", 0, url_scheme="https"))
    tls = tls_stream_server(ca, server._handle_connection)
    tls.start()
    try:
        port = tls.server_port
        base = ["curl", "-sS", "--cacert", ca_file, "--resolve", f"localhost:{port}:127.0.0.1"]
        url = f"https://localhost:{port}/data.bin"
        whole = subprocess.run(base + [url], capture_output=True, timeout=30)
        part = subprocess.run(base + ["-r", "100-199999", url], capture_output=True, timeout=30)
        multi = subprocess.run(base + ["-i", "-r", "100-99999,2000000-2099999", url],
                               capture_output=True, timeout=30)
    finally:
        tls.stop(timeout=1)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout == DATA
    assert part.stdout == DATA[100:200000]
    assert multi.stdout.startswith(b"HTTP/1.1 206") and b"multipart/byteranges" in multi.stdout
    assert DATA[100:100000] in multi.stdout and DATA[2000000:2100000] in multi.stdout
    assert sendfile_calls == []  # sendfile(2) would have put plaintext on the TLS connection
