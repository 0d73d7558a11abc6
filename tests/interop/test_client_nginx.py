"""The client against a server not written here: nginx (Debian's nginx-light).

nginx runs in the foreground from a generated config in a temp dir, on ephemeral
loopback ports: plain HTTP (keep-alive, gzip-chunked responses, large files,
uploads) and TLS with a trustme CA (verification, SNI, client certificates).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from pathlib import Path
from typing import Iterator

import pytest
import trustme

import greenhttp
from nginx_runner import free_port, nginx_config, running_nginx

SERVERS = """
    server {{
        listen 127.0.0.1:{port};
        keepalive_timeout 60s;
        sendfile on;
        root {tmp}/www;
        location = /conn {{
            add_header X-Conn $connection always;
            add_header X-Conn-Requests $connection_requests always;
            return 200 "ok";
        }}
        location /gz/ {{
            gzip on;
            gzip_min_length 0;
            gzip_types text/plain;
        }}
        location = /upload {{
            client_max_body_size 100m;
            client_body_buffer_size 16m;
            add_header X-Length $content_length always;
            return 200 "got it";
        }}
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {tmp}/server.pem;
        ssl_certificate_key {tmp}/server.pem;
        ssl_client_certificate {tmp}/ca.pem;
        ssl_verify_client optional;
        location / {{
            add_header X-Client-Verify $ssl_client_verify always;
            add_header X-SNI $ssl_server_name always;
            add_header X-Conn $connection always;
            return 200 "tls ok";
        }}
    }}
"""


class Nginx:
    def __init__(self, tmp: Path, ca: trustme.CA) -> None:
        self.tmp = tmp
        self.ca = ca
        self.port = free_port()
        self.tls_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tls_url = f"https://localhost:{self.tls_port}"
        self.ca_file = str(tmp / "ca.pem")
        self.www = tmp / "www"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    tmp = tmp_path_factory.mktemp("nginx")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(tmp / "server.pem"))
    ca.issue_cert("client.example").private_key_and_cert_chain_pem.write_to_path(str(tmp / "client.pem"))
    server = Nginx(tmp, ca)
    (tmp / "www" / "gz").mkdir(parents=True)
    (tmp / "www" / "gz" / "text.txt").write_bytes(b"".join(b"line %d of the text\n" % i for i in range(20000)))
    with open(tmp / "www" / "large.bin", "wb") as f:
        block = os.urandom(1024 * 1024)
        for i in range(64):
            f.write(block[i:] + block[:i])
    config = nginx_config(tmp, SERVERS.format(tmp=tmp, port=server.port, tls_port=server.tls_port))
    with running_nginx(tmp, config, [server.port, server.tls_port]):
        yield server


def test_keep_alive_reuse(nginx, pool):
    conns = set()
    for i in range(1, 21):
        response = greenhttp.get(nginx.url + "/conn", pool=pool)
        assert response.content == b"ok"
        conns.add(response.headers["x-conn"])
        assert response.headers["x-conn-requests"] == str(i)
    assert len(conns) == 1 and pool.stats()["open"] == 1


def test_chunked_gzip_response(nginx, pool):
    original = (nginx.www / "gz" / "text.txt").read_bytes()
    # The default Accept-Encoding gets nginx's "gzip on"; the body is decoded as it streams.
    with greenhttp.get(nginx.url + "/gz/text.txt", pool=pool, stream=True) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["content-encoding"] == "gzip"
        assert b"".join(response.iter_bytes()) == original
    raw = greenhttp.get(nginx.url + "/gz/text.txt", headers={"Accept-Encoding": "gzip"}, pool=pool,
                        decode_content=False)
    assert gzip.decompress(raw.content) == original
    # and the connection survived the chunked body
    assert greenhttp.get(nginx.url + "/conn", pool=pool).status == 200
    assert pool.stats()["open"] == 1


def test_large_file_streamed(nginx, pool):
    expected = hashlib.sha256((nginx.www / "large.bin").read_bytes()).hexdigest()
    digest = hashlib.sha256()
    largest = 0
    with greenhttp.get(nginx.url + "/large.bin", stream=True, pool=pool) as response:
        assert response.body.length == 64 * 1024 * 1024
        for chunk in response.body:
            largest = max(largest, len(chunk))
            digest.update(chunk)
    assert digest.hexdigest() == expected
    assert largest <= 1024 * 1024  # chunks as read, never the whole body
    head = greenhttp.head(nginx.url + "/large.bin", pool=pool)
    assert head.headers["content-length"] == str(64 * 1024 * 1024) and head.content == b""
    assert pool.stats()["open"] == 1


def test_not_found(nginx, pool):
    response = greenhttp.get(nginx.url + "/missing", pool=pool)
    assert response.status == 404 and b"nginx" in response.content
    with pytest.raises(greenhttp.HTTPStatusError):
        response.raise_for_status()


def test_uploads(nginx, pool):
    data = os.urandom(3 * 1024 * 1024)
    started = time.monotonic()
    response = greenhttp.post(nginx.url + "/upload", body=data, pool=pool)  # Expect: 100-continue
    assert response.content == b"got it" and response.headers["x-length"] == str(len(data))
    assert time.monotonic() - started < 0.9
    chunked = greenhttp.post(nginx.url + "/upload", body=(data[i:i + 65536] for i in range(0, len(data), 65536)),
                             pool=pool)
    assert chunked.content == b"got it"


def test_tls_verified_with_sni(nginx, pool):
    response = greenhttp.get(nginx.tls_url + "/", verify=nginx.ca_file, pool=pool)
    assert response.content == b"tls ok"
    assert response.headers["x-sni"] == "localhost"
    assert response.headers["x-client-verify"] == "NONE"
    again = greenhttp.get(nginx.tls_url + "/", verify=nginx.ca_file, pool=pool)
    assert again.headers["x-conn"] == response.headers["x-conn"]  # TLS connections are pooled too


def test_tls_verification_is_on_by_default(nginx, pool):
    with pytest.raises(greenhttp.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        greenhttp.get(nginx.tls_url + "/", pool=pool)
    # the certificate is for "localhost", not for the IP address
    with pytest.raises(greenhttp.ConnectError, match="CERTIFICATE_VERIFY_FAILED|mismatch"):
        greenhttp.get(f"https://127.0.0.1:{nginx.tls_port}/", verify=nginx.ca_file, pool=pool)
    assert pool.stats()["open"] == 0


def test_tls_verify_false_is_an_explicit_choice(nginx, pool):
    assert greenhttp.get(nginx.tls_url + "/", verify=False, pool=pool).content == b"tls ok"


def test_tls_client_certificate(nginx, pool):
    response = greenhttp.get(nginx.tls_url + "/", verify=nginx.ca_file, cert=str(nginx.tmp / "client.pem"),
                             pool=pool)
    assert response.headers["x-client-verify"] == "SUCCESS"


def test_plain_http_to_a_tls_port_fails_cleanly(nginx, pool):
    response = greenhttp.get(f"http://127.0.0.1:{nginx.tls_port}/", pool=pool)
    assert response.status == 400  # nginx: "The plain HTTP request was sent to HTTPS port"
    with pytest.raises(greenhttp.ConnectError):
        greenhttp.get(f"https://localhost:{nginx.port}/", verify=nginx.ca_file, pool=pool)
