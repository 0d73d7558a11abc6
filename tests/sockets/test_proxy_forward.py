"""The forward proxy: absolute-form requests and CONNECT tunnels, the allow-list and
basic Proxy-Authorization, used by curl's -x (http, and https through a tunnel to a
local TLS server with a trustme certificate) and by greenhttp's own client proxy=."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
from typing import Any, Iterator

import gevent.server
import pytest

import greenhttp
from conftest import TLSOrigin, big_digest
from greenhttp.proxy import AllowList, ForwardProxy

from conftest import read_one_response


def curl(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("curl")
    if binary is None:
        pytest.fail("curl is not installed (apt-get install -y curl; tests/run.sh does this)")
    return subprocess.run([binary, "-sS", "--max-time", "10", *args], capture_output=True, timeout=20)


def echo_app(environ, start_response):
    body = environ["greenhttp.body"].read()
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    data = json.dumps({"method": environ["REQUEST_METHOD"], "uri": environ["REQUEST_URI"],
                       "headers": headers, "body": body.decode("latin-1")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


@pytest.fixture
def origin(serve) -> Iterator[greenhttp.Server]:
    with serve(echo_app) as server:
        yield server


def test_allow_list_entries():
    allow = AllowList(["example.com:443", "*.internal:*", "[::1]:8443", "127.0.0.1:8080"])
    assert allow("example.com", 443) and allow("EXAMPLE.com.", 443)
    assert not allow("example.com", 80) and not allow("evil.example.com", 443)
    assert allow("db.internal", 5432) and allow("a.b.internal", 1) and not allow("internal", 1)
    assert allow("::1", 8443) and not allow("::1", 443)
    assert allow("127.0.0.1", 8080) and not allow("localhost", 8080)  # names are not resolved
    assert AllowList(["*:*"])("anything", 9)
    for bad in ("example.com", "example.com:http", "example.com:0", ":80"):
        with pytest.raises(ValueError):
            AllowList([bad])


def test_curl_through_the_forward_proxy_for_http(serve, origin, pool):
    host, port = origin.address
    proxy = ForwardProxy([f"127.0.0.1:{port}"], pool=pool)
    with serve(proxy) as front:
        result = curl("-x", front.url, "-d", "hello", f"http://127.0.0.1:{port}/path?q=1")
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout)
        assert seen["method"] == "POST" and seen["uri"] == "/path?q=1" and seen["body"] == "hello"
        headers = seen["headers"]
        assert headers["host"] == f"127.0.0.1:{port}" and headers["via"] == "1.1 greenhttp"
        assert "proxy-connection" not in headers and "x-forwarded-for" not in headers
        assert headers["user-agent"].startswith("curl/")
        # A second request reuses the proxy's upstream connection.
        assert curl("-x", front.url, f"http://127.0.0.1:{port}/again").returncode == 0
        assert pool.stats()["open"] == 1
        refused = curl("-x", front.url, "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:1/")
        assert refused.stdout == b"403"


def test_proxy_authorization_basic(serve, origin, pool):
    port = origin.address[1]
    proxy = ForwardProxy([f"127.0.0.1:{port}"], auth=("user", "s3cret"), pool=pool)
    with serve(proxy) as front:
        denied = curl("-x", front.url, "-i", f"http://127.0.0.1:{port}/")
        head = denied.stdout.split(b"\r\n\r\n")[0].decode()
        assert head.startswith("HTTP/1.1 407 Proxy Authentication Required")
        assert 'Proxy-Authenticate: Basic realm="greenhttp proxy"' in head
        wrong = curl("-x", front.url, "-U", "user:nope", "-o", "/dev/null", "-w", "%{http_code}",
                     f"http://127.0.0.1:{port}/")
        assert wrong.stdout == b"407"
        ok = curl("-x", front.url, "-U", "user:s3cret", f"http://127.0.0.1:{port}/x")
        assert ok.returncode == 0 and json.loads(ok.stdout)["uri"] == "/x"
        assert "proxy-authorization" not in json.loads(ok.stdout)["headers"]  # never forwarded
        # greenhttp's client, credentials in the proxy URL
        proxied = front.url.replace("http://", "http://user:s3cret@")
        response = greenhttp.get(f"http://127.0.0.1:{port}/client", proxy=proxied, pool=greenhttp.Pool())
        assert response.json()["uri"] == "/client"
        assert greenhttp.get(f"http://127.0.0.1:{port}/", proxy=front.url, pool=greenhttp.Pool()).status == 407


def test_curl_https_through_a_connect_tunnel(serve, ca, ca_file, pool):
    with TLSOrigin(ca) as tls:
        proxy = ForwardProxy([f"localhost:{tls.port}"], auth=("u", "p"), pool=pool)
        with serve(proxy, access_log=True) as front:
            result = curl("-x", front.url, "-U", "u:p", "--cacert", ca_file,
                          f"https://localhost:{tls.port}/secret?x=1")
            assert result.returncode == 0, result.stderr
            assert result.stdout == b"GET /secret?x=1 HTTP/1.1"  # origin-form, end to end encrypted
            denied = curl("-x", front.url, "--cacert", ca_file, f"https://localhost:{tls.port}/")
            assert denied.returncode != 0 and b"407" in denied.stderr
            other = curl("-x", front.url, "-U", "u:p", "-k", f"https://127.0.0.1:{tls.port}/")
            assert other.returncode != 0 and b"403" in other.stderr  # not on the allow-list
    assert pool.stats()["open"] == 0  # tunnels never use the pool


def test_greenhttp_client_https_through_the_tunnel_with_a_large_body(serve, ca, ca_file):
    with TLSOrigin(ca) as tls:
        with serve(ForwardProxy([f"localhost:{tls.port}"])) as front:
            size = 16 * 1024 * 1024 + 5
            with greenhttp.Pool() as client_pool:
                response = greenhttp.get(f"https://localhost:{tls.port}/big?{size}", proxy=front.url,
                                         verify=ca_file, pool=client_pool, stream=True)
                digest = hashlib.sha256()
                for chunk in response.body:
                    digest.update(chunk)
                assert response.body.received == size and digest.hexdigest() == big_digest(size)
                small = greenhttp.get(f"https://localhost:{tls.port}/y", proxy=front.url,
                                      verify=ca_file, pool=client_pool)
                assert small.content == b"GET /y HTTP/1.1"


def test_connect_failures(serve, pool):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
        proxy = ForwardProxy([f"127.0.0.1:{dead}", "127.0.0.1:*"], pool=pool)
        with serve(proxy) as front:
            with socket.create_connection(front.address) as sock:
                sock.sendall(f"CONNECT 127.0.0.1:{dead} HTTP/1.1\r\nHost: 127.0.0.1:{dead}\r\n\r\n".encode())
                status, headers, body = read_one_response(sock)
            assert status.startswith(b"HTTP/1.1 502") and body.startswith(b"502 Bad Gateway")
            with socket.create_connection(front.address) as sock:
                sock.sendall(b"CONNECT nohost HTTP/1.1\r\nHost: nohost\r\n\r\n")
                status, _, _ = read_one_response(sock)
            assert status.startswith(b"HTTP/1.1 400")
            with socket.create_connection(front.address) as sock:
                sock.sendall(b"CONNECT 10.0.0.1:443 HTTP/1.1\r\nHost: 10.0.0.1:443\r\n\r\n")
                status, _, _ = read_one_response(sock)
            assert status.startswith(b"HTTP/1.1 403")  # refused before any connection is tried


def test_tunnel_carries_bytes_sent_with_the_connect_head(serve):
    """A client may send its first bytes (a TLS ClientHello) right behind the CONNECT head."""

    def echo(sock: Any, address: Any) -> None:
        while data := sock.recv(65536):
            sock.sendall(data.upper())

    server = gevent.server.StreamServer(("127.0.0.1", 0), echo)
    server.start()
    try:
        port = server.server_port
        with serve(ForwardProxy([f"127.0.0.1:{port}"])) as front:
            with socket.create_connection(front.address) as sock:
                sock.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\nearly bytes".encode())
                sock.settimeout(5)
                data = b""
                while not data.endswith(b"EARLY BYTES"):
                    data += sock.recv(65536)
                assert data == b"HTTP/1.1 200 Connection Established\r\n\r\nEARLY BYTES"
                sock.sendall(b"more")
                assert sock.recv(100) == b"MORE"
                sock.shutdown(socket.SHUT_WR)
                assert sock.recv(100) == b""  # the half-close went through and came back
    finally:
        server.stop(timeout=1)


def test_origin_form_requests_go_to_the_fallback_app_or_get_400(serve, origin):
    with serve(ForwardProxy(["*:*"])) as front:
        response = greenhttp.get(front.url + "/local", proxy=False, pool=greenhttp.Pool())
        assert response.status == 400 and b"forward proxy" in response.content
    with serve(ForwardProxy(["*:*"], app=echo_app)) as front:
        response = greenhttp.get(front.url + "/local", proxy=False, pool=greenhttp.Pool())
        assert response.status == 200 and response.json()["uri"] == "/local"


def test_absolute_form_https_upstream_uses_the_proxys_tls_settings(serve, ca, ca_file):
    # GET https://... in absolute form: the proxy opens the TLS connection itself, so
    # its verify/cert settings (the CLI's --upstream-*) decide whom it trusts.
    with TLSOrigin(ca) as tls:
        target = f"https://localhost:{tls.port}/secure?1"
        request = f"GET {target} HTTP/1.1\r\nHost: localhost:{tls.port}\r\nConnection: close\r\n\r\n"
        trusting = ForwardProxy([f"localhost:{tls.port}"], verify=ca_file, pool=greenhttp.Pool())
        with serve(trusting) as proxy:
            with socket.create_connection(proxy.address, timeout=5) as sock:
                sock.sendall(request.encode())
                status, _, body = read_one_response(sock)
        assert status.startswith(b"HTTP/1.1 200"), status
        assert body == b"GET /secure?1 HTTP/1.1"
        # The system store does not know the test CA: the upstream is refused (502), not trusted.
        default = ForwardProxy([f"localhost:{tls.port}"], pool=greenhttp.Pool())
        with serve(default) as proxy:
            with socket.create_connection(proxy.address, timeout=5) as sock:
                sock.sendall(request.encode())
                status, _, _ = read_one_response(sock)
        assert status.startswith(b"HTTP/1.1 502"), status
