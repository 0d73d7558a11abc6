"""The reverse proxy in front of a server not written here: nginx (Debian's nginx-light).

nginx runs in the foreground from a generated config in a temp dir on an ephemeral
loopback port: static files for large downloads, WebDAV PUT for large uploads (read
back and checksummed), gzip for chunked responses, ``limit_rate`` for a response that
trickles, and ``$connection`` to see keep-alive reuse from nginx's side.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import time
from pathlib import Path
from typing import Iterator

import gevent
import pytest

import greenhttp
from greenhttp.proxy import ReverseProxy
from nginx_runner import free_port, nginx_config, running_nginx

SERVERS = """
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location = /conn {{
            add_header X-Conn $connection always;
            add_header X-Seen-Host $http_host always;
            add_header X-Seen-Forwarded $http_x_forwarded_for always;
            add_header X-Seen-Via $http_via always;
            return 200 "ok";
        }}
        location /dav/ {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
        }}
        location /gz/ {{
            gzip on;
            gzip_min_length 0;
            gzip_proxied any;  # nginx skips requests with a Via header (ours) by default
            gzip_types text/plain;
        }}
        location /trickle/ {{
            limit_rate_after 32k;
            limit_rate 64k;
        }}
    }}
"""


def write_pattern(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(0, size, 1 << 20):
            piece = (hashlib.sha256(b"%d" % i).digest() * 32768)[:size - i]
            f.write(piece)
            digest.update(piece)
    return digest.hexdigest()


class Nginx:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.www = tmp / "www"
        self.large_digest = ""


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    tmp = tmp_path_factory.mktemp("nginx-proxy")
    server = Nginx(tmp)
    for sub in ("gz", "dav", "trickle"):
        (server.www / sub).mkdir(parents=True)
    server.large_digest = write_pattern(server.www / "large.bin", 40 * 1024 * 1024 + 17)
    (server.www / "gz" / "text.txt").write_bytes(b"".join(b"line %d of the text\n" % i for i in range(20000)))
    (server.www / "trickle" / "slow.bin").write_bytes(b"t" * (160 * 1024))
    config = nginx_config(tmp, SERVERS.format(tmp=tmp, port=server.port), worker_connections=256)
    with running_nginx(tmp, config, [server.port]):
        yield server


@pytest.fixture
def front(serve, nginx, pool) -> Iterator[greenhttp.Server]:
    proxy = ReverseProxy({"/": nginx.url}, pool=pool, timeout=greenhttp.Timeout(5, read=5))
    with serve(proxy) as server:
        yield server


def client() -> greenhttp.Pool:
    return greenhttp.Pool()


def test_keep_alive_reuse_seen_by_nginx_and_in_pool_stats(front, nginx, pool):
    seen = set()
    with client() as own:
        for _ in range(10):
            response = greenhttp.get(front.url + "/conn", pool=own)
            assert response.status == 200 and response.content == b"ok"
            seen.add(response.headers["x-conn"])
    assert len(seen) == 1  # nginx served all ten on one connection
    assert pool.stats()["hosts"][nginx.url]["open"] == 1
    assert response.headers["x-seen-host"] == f"127.0.0.1:{nginx.port}"
    assert response.headers["x-seen-forwarded"] == "127.0.0.1"
    assert response.headers["x-seen-via"] == "1.1 greenhttp"


def test_large_download_with_checksum(front, nginx, pool):
    digest = hashlib.sha256()
    with client() as own, greenhttp.get(front.url + "/large.bin", stream=True, pool=own) as response:
        assert response.headers["content-length"] == str(40 * 1024 * 1024 + 17)
        for chunk in response.body:
            digest.update(chunk)
    assert digest.hexdigest() == nginx.large_digest
    assert pool.stats()["in_use"] == 0


@pytest.mark.parametrize("chunked", [True, False])
def test_large_upload_with_checksum(front, nginx, chunked):
    size = 24 * 1024 * 1024 + 3
    pieces = [(hashlib.sha256(b"up%d" % i).digest() * 32768)[:size - i] for i in range(0, size, 1 << 20)]
    expected = hashlib.sha256(b"".join(pieces)).hexdigest()
    name = f"/dav/upload-{'chunked' if chunked else 'sized'}.bin"
    with client() as own:
        body = iter(pieces) if chunked else pieces  # a generator goes chunked, a list with a length
        put = greenhttp.put(front.url + name, body=body, pool=own, timeout=30)
        assert put.status in (201, 204), put.content
        back = greenhttp.get(front.url + name, pool=own, timeout=30)
    assert hashlib.sha256(back.content).hexdigest() == expected
    assert hashlib.sha256((nginx.www / name.lstrip("/")).read_bytes()).hexdigest() == expected


def test_gzip_chunked_response_passes_through(front, nginx):
    with client() as own:
        # decode_content=False: the bytes as the proxy passed them, gzip and all.
        response = greenhttp.get(front.url + "/gz/text.txt", headers={"Accept-Encoding": "gzip"}, pool=own,
                                 decode_content=False)
    assert response.headers["content-encoding"] == "gzip"
    # Re-framed by our server (chunked, or Content-Length when it arrived whole with its
    # head): nginx's own Transfer-Encoding is never copied beside ours.
    framing = response.headers.get_all("transfer-encoding")
    assert framing == ["chunked"] or (framing == [] and response.headers["content-length"] == str(len(response.content)))
    assert gzip.decompress(response.content) == (nginx.www / "gz" / "text.txt").read_bytes()


def test_trickling_response_arrives_through_the_proxy_before_nginx_finishes(front):
    started = time.monotonic()
    with client() as own, greenhttp.get(front.url + "/trickle/slow.bin", stream=True, pool=own) as response:
        chunks = iter(response.body)
        first = next(chunks)
        first_at = time.monotonic() - started
        rest = b"".join(chunks)
    total = time.monotonic() - started
    assert first and len(first) + len(rest) == 160 * 1024
    assert first_at < 0.5 and total > 1.2, (first_at, total)  # nginx takes ~2 s for the rest


def test_client_gone_mid_stream_frees_the_upstream_slot(front, pool):
    with socket.create_connection(front.address) as sock:
        sock.sendall(b"GET /trickle/slow.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536)
        gevent.sleep(0.2)
        assert pool.stats()["in_use"] == 1
    # The proxy notices on its next write (nginx sends every ~0.1 s at 64 KiB/s).
    deadline = time.monotonic() + 5
    while pool.stats()["open"] != 0:
        assert time.monotonic() < deadline, pool.stats()
        gevent.sleep(0.02)
    assert pool.stats()["in_use"] == 0
