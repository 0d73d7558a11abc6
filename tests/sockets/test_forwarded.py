"""Proxy headers are trusted from --forwarded-allow-ips peers only; --root-path; SERVER_SOFTWARE."""

from __future__ import annotations

import json
import socket
import textwrap

from cli_runner import start, write_app
from conftest import raw_exchange

APP = textwrap.dedent('''
    import json
    def app(environ, start_response):
        keys = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "SCRIPT_NAME", "PATH_INFO",
                "SERVER_SOFTWARE", "HTTP_X_FORWARDED_FOR")
        start_response("200 OK", [])
        return [json.dumps({k: environ.get(k) for k in keys}).encode()]
''')

HEADERS = "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: example.com\r\n"


def ask(url: str, path: str = "/", headers: str = HEADERS) -> dict:
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    data = raw_exchange((host, int(port)), f"GET {path} HTTP/1.1\r\nHost: internal\r\n{headers}Connection: close\r\n\r\n".encode())
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def test_trusted_local_proxy_and_root_path(tmp_path):
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "--root-path", "/api")
    try:
        env = ask(server.url, "/api/items")
        assert env["REMOTE_ADDR"] == "203.0.113.7" and env["wsgi.url_scheme"] == "https"
        assert env["HTTP_HOST"] == "example.com"
        assert env["SCRIPT_NAME"] == "/api" and env["PATH_INFO"] == "/items"
        assert env["SERVER_SOFTWARE"].startswith("greenhttp/")
        env = ask(server.url, headers='Forwarded: for="[2001:db8::1]:4711";proto=https;host=a.example, for=10.0.0.1\r\n')
        assert env["REMOTE_ADDR"] == "2001:db8::1" and env["HTTP_HOST"] == "a.example"
    finally:
        server.stop()


def test_untrusted_peer_headers_are_ignored(tmp_path):
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "--forwarded-allow-ips", "10.1.2.3")
    try:
        env = ask(server.url)
        assert env["REMOTE_ADDR"] == "127.0.0.1" and env["wsgi.url_scheme"] == "http"
        assert env["HTTP_HOST"] == "internal" and env["HTTP_X_FORWARDED_FOR"] is None
    finally:
        server.stop()


def test_unix_socket_peers_are_trusted(tmp_path):
    path = str(tmp_path / "s.sock")
    server = start(write_app(tmp_path, APP), "-b", f"unix:{path}", "--forwarded-allow-ips", "10.1.2.3")
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(path)
            sock.sendall(f"GET / HTTP/1.1\r\nHost: x\r\n{HEADERS}Connection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        env = json.loads(data.split(b"\r\n\r\n", 1)[1])
        assert env["REMOTE_ADDR"] == "203.0.113.7" and env["wsgi.url_scheme"] == "https"
    finally:
        server.stop()


def test_verdicts_per_peer_stay_right_and_bounded():
    # The middleware remembers each peer's verdict (parsing addresses per request was a
    # tenth of a small request's CPU); the memory must neither mix peers up nor grow
    # without limit when many distinct clients come.
    from greenhttp.server import forwarded
    from greenhttp.server.forwarded import ProxyHeaders

    seen: list[str] = []
    middleware = ProxyHeaders(lambda environ, start: seen.append(environ["REMOTE_ADDR"]) or [],
                              "10.0.0.0/8")
    for round_ in range(2):
        for last in range(1, 255):
            for peer in (f"10.1.2.{last}", f"192.168.2.{last}"):
                middleware({"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, None)
    # Trusted peers were replaced by the forwarded client; the others kept their own address.
    assert seen.count("1.2.3.4") == 2 * 254
    assert sorted(set(seen) - {"1.2.3.4"}) == sorted(f"192.168.2.{n}" for n in range(1, 255))
    for n in range(3 * forwarded._VERDICTS_KEPT):
        middleware.trusted(f"172.16.{n // 256}.{n % 256}")
    assert len(middleware._verdicts) <= forwarded._VERDICTS_KEPT
    assert middleware.trusted("10.9.9.9") and not middleware.trusted("172.16.0.1")
