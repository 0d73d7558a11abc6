"""Proxy support: forward proxying of http:// URLs and CONNECT tunnels for https://,
through a tiny proxy written here (greenhttp's own forward proxy is another issue),
to greenhttp's server and to a gevent TLS server with a trustme certificate."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import gevent
import gevent.server
import gevent.socket
import pytest
import trustme

import greenhttp
from conftest import TLSOrigin, tls_stream_server


def read_head(reader: Any) -> tuple[str, list[tuple[str, str]]] | None:
    line = reader.readline()
    if not line:
        return None
    headers = []
    while True:
        field = reader.readline()
        if field in (b"\r\n", b"\n", b""):
            break
        name, _, value = field.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return line.decode("latin-1").strip(), headers


def pipe(src: Any, dst: Any) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(2)
        except OSError:
            pass


class TinyProxy:
    """Forward proxy: absolute-form requests relayed (one per connection), CONNECT tunnels."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.tunnels = 0
        self.expected = None
        if credentials:
            self.expected = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self.handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def handle(self, sock: Any, address: Any) -> None:
        reader = sock.makefile("rb")
        head = read_head(reader)
        if head is None:
            return
        request_line, headers = head
        method, target, _ = request_line.split(" ", 2)
        auth = next((v for k, v in headers if k.lower() == "proxy-authorization"), None)
        self.seen.append((request_line, auth))
        if self.expected and auth != self.expected:
            sock.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = gevent.socket.create_connection((host, int(port)))
            self.tunnels += 1
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            back = gevent.spawn(pipe, upstream, sock)
            pipe(sock, upstream)
            back.join()
            upstream.close()
            return
        url = urlsplit(target)
        upstream = gevent.socket.create_connection((url.hostname, url.port or 80))
        length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
        body = reader.read(length) if length else b""
        path = url.path + ("?" + url.query if url.query else "")
        lines = [f"{method} {path} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in headers
                  if k.lower() not in ("proxy-authorization", "connection", "proxy-connection")]
        lines.append("Connection: close")
        upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        pipe(upstream, sock)
        upstream.close()

    def __enter__(self) -> "TinyProxy":
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop(timeout=1)


def where_app(environ, start_response):
    data = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ['QUERY_STRING']}".encode()
    start_response("200 OK", [("Content-Length", str(len(data)))])
    return [data]


def test_http_through_a_forward_proxy_with_credentials(serve, pool):
    with serve(where_app) as server, TinyProxy(("user", "secret")) as proxy:
        proxy_url = proxy.url.replace("http://", "http://user:secret@")
        response = greenhttp.get(server.url + "/a?b=1", proxy=proxy_url, pool=pool)
        assert response.content == b"GET /a?b=1"
        request_line, auth = proxy.seen[-1]
        assert request_line == f"GET {server.url}/a?b=1 HTTP/1.1"  # absolute-form
        assert auth == "Basic dXNlcjpzZWNyZXQ="
        refused = greenhttp.get(server.url + "/", proxy=proxy.url, pool=pool)
        assert refused.status == 407


def test_https_through_a_connect_tunnel_is_never_pooled(ca, ca_file, pool):
    with TLSOrigin(ca) as origin, TinyProxy(("u", "p")) as proxy:
        proxy_url = proxy.url.replace("http://", "http://u:p@")
        url = f"https://localhost:{origin.port}/secret?x=1"
        for _ in range(2):
            response = greenhttp.get(url, proxy=proxy_url, verify=ca_file, pool=pool)
            assert response.content == b"GET /secret?x=1 HTTP/1.1"  # origin-form inside the tunnel
        assert proxy.tunnels == 2 and proxy.seen[-1] == (f"CONNECT localhost:{origin.port} HTTP/1.1",
                                                         "Basic dTpw")
        assert pool.stats()["open"] == 0  # tunnels are closed after their exchange
        with pytest.raises(greenhttp.ProxyError, match="407"):
            greenhttp.get(url, proxy=proxy.url, verify=ca_file, pool=pool)
        assert pool.stats()["open"] == 0


def test_tunnel_verifies_the_origin_certificate(ca, pool):
    with TLSOrigin(ca) as origin, TinyProxy() as proxy:
        with pytest.raises(greenhttp.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            greenhttp.get(f"https://localhost:{origin.port}/", proxy=proxy.url, pool=pool)


def test_direct_tls_to_a_gevent_server(ca, ca_file, pool):
    with TLSOrigin(ca) as origin:
        for _ in range(3):
            assert greenhttp.get(f"https://localhost:{origin.port}/x", verify=ca_file,
                                 pool=pool).content == b"GET /x HTTP/1.1"
        assert pool.stats()["open"] == 1


def test_environment_proxies_and_no_proxy(serve, pool, monkeypatch):
    with serve(where_app) as server, TinyProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("http_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert greenhttp.get(server.url + "/via", pool=pool).content == b"GET /via?"
        assert len(proxy.seen) == 1
        monkeypatch.setenv("NO_PROXY", "example.com, 127.0.0.1")
        assert greenhttp.get(server.url + "/direct", pool=pool).content == b"GET /direct?"
        assert len(proxy.seen) == 1
        monkeypatch.setenv("NO_PROXY", "")
        assert greenhttp.get(server.url + "/off", proxy=False, pool=pool).status == 200
        assert len(proxy.seen) == 1
        assert greenhttp.get(server.url + "/again", pool=pool).status == 200
        assert len(proxy.seen) == 2


def test_proxy_that_is_down_is_a_connect_error(pool):
    with TinyProxy() as proxy:
        url = proxy.url
    with pytest.raises(greenhttp.ConnectError):
        greenhttp.get("https://localhost:1/", proxy=url, pool=pool)
    with pytest.raises(greenhttp.ProxyError):
        greenhttp.get("http://localhost:1/", proxy="ftp://proxy.example:3128", pool=pool)


# -- issue 14: NO_PROXY CIDR and wildcards, https:// proxies, SOCKS -------------------------


@pytest.mark.parametrize("entries, exempt", [
    ("127.0.0.0/8", True), ("10.0.0.0/8", False), ("127.0.0.1/32", True), ("::1/128", False),
    ("*", True), (".0.0.1", False), ("127.0.0.1:1", False), ("example.com, 127.0.0.0/8:{port}", True),
])
def test_no_proxy_cidr_and_port_entries(serve, pool, monkeypatch, entries, exempt):
    with serve(where_app) as server, TinyProxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", entries.format(port=server.address[1]))
        assert greenhttp.get(server.url + "/x", pool=pool).status == 200
        assert len(proxy.seen) == (0 if exempt else 1)


def test_no_proxy_names_wildcards_and_ipv6(monkeypatch):
    from greenhttp.client.routing import _no_proxy

    monkeypatch.setenv("no_proxy", "*.example.com, .corp.test, plain.test, ::1/128, [fe80::1]:8080, 2001:db8::/32")
    assert _no_proxy("a.example.com", 80) and _no_proxy("example.com", 80)
    assert not _no_proxy("badexample.com", 80)
    assert _no_proxy("x.corp.test", 443) and _no_proxy("corp.test", 443) and _no_proxy("plain.test", 1)
    assert _no_proxy("::1", 80) and not _no_proxy("::2", 80)
    assert _no_proxy("fe80::1", 8080) and not _no_proxy("fe80::1", 80)
    assert _no_proxy("2001:db8::5", 443) and not _no_proxy("2001:db9::5", 443)
    assert not _no_proxy("localhost", 80)  # names are not resolved to match CIDR blocks


class TLSForwardProxy:
    """greenhttp's own ForwardProxy served over TLS (an ``https://`` proxy)."""

    def __init__(self, ca: trustme.CA, allow: list[str]) -> None:
        from greenhttp import ForwardProxy

        self.app = ForwardProxy(allow, auth=("u", "p"), pool=greenhttp.Pool())
        self.backend = greenhttp.Server(self.app, port=0, access_log=False)
        self.server = tls_stream_server(ca, self.backend._handle_connection)

    @property
    def url(self) -> str:
        return f"https://u:p@localhost:{self.server.server_port}"

    def __enter__(self) -> "TLSForwardProxy":
        self.backend.start()  # its plain listener goes unused: the TLS server feeds it connections
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop(timeout=1)
        self.backend.stop(timeout=1)
        self.app.pool.close()


def test_http_url_through_an_https_proxy_is_absolute_form_inside_tls(serve, ca, ca_file, pool):
    with serve(where_app) as origin, TLSForwardProxy(ca, [f"127.0.0.1:{origin.address[1]}"]) as proxy:
        for _ in range(2):
            r = greenhttp.get(origin.url + "/p?q=1", proxy=proxy.url, verify=ca_file, pool=pool)
            assert (r.status, r.content) == (200, b"GET /p?q=1")
        assert pool.stats()["open"] == 1  # one TLS connection to the proxy, reused
        with pytest.raises(greenhttp.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            greenhttp.get(origin.url + "/", proxy=proxy.url, pool=greenhttp.Pool())  # system CAs


def test_https_url_through_an_https_proxy_is_tls_in_tls(ca, ca_file, pool):
    with TLSOrigin(ca) as origin, TLSForwardProxy(ca, [f"localhost:{origin.port}"]) as proxy:
        url = f"https://localhost:{origin.port}/inner?x=1"
        for _ in range(2):
            r = greenhttp.get(url, proxy=proxy.url, verify=ca_file, pool=pool)
            assert r.content == b"GET /inner?x=1 HTTP/1.1"
        big = greenhttp.post(url, body=b"z" * 300000, proxy=proxy.url, verify=ca_file, pool=pool)
        assert big.content == b"POST /inner?x=1 HTTP/1.1"
        with pytest.raises(greenhttp.ProxyError, match="407"):
            greenhttp.get(url, proxy=proxy.url.replace("u:p@", ""), verify=ca_file, pool=pool)


def test_socks5_proxy_for_http_and_https(serve, ca, ca_file, pool):
    from socks_server import SocksServer

    with serve(where_app) as origin, TLSOrigin(ca) as tls, SocksServer(("user", "pw")) as socks:
        r = greenhttp.get(origin.url + "/s?1", proxy=socks.url("socks5"), pool=pool)
        assert r.content == b"GET /s?1" and socks.seen[-1] == ("127.0.0.1", origin.address[1], "ipv4")
        # socks5h: the proxy resolves the name; socks5: we do.
        https = f"https://localhost:{tls.port}/t"
        assert greenhttp.get(https, proxy=socks.url("socks5h"), verify=ca_file,
                             pool=pool).content == b"GET /t HTTP/1.1"
        assert socks.seen[-1] == ("localhost", tls.port, "domain")
        greenhttp.get(https, proxy=socks.url("socks5"), verify=ca_file, pool=pool)
        assert socks.seen[-1][2] in ("ipv4", "ipv6")
        # SOCKS connections are pooled like direct ones.
        connects = len(socks.seen)
        greenhttp.get(origin.url + "/again", proxy=socks.url("socks5"), pool=pool)
        assert len(socks.seen) == connects
        with pytest.raises(greenhttp.ProxyError, match="authentication"):
            greenhttp.get(origin.url + "/", proxy=socks.url().replace("user:pw", "user:no"),
                          pool=greenhttp.Pool())


def test_socks5_from_the_environment_and_a_refused_target(pool, monkeypatch):
    from socks_server import SocksServer

    with SocksServer() as socks:
        monkeypatch.setenv("all_proxy", socks.url("socks5h"))
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with pytest.raises(greenhttp.ProxyError, match="SOCKS"):
            greenhttp.get("http://localhost:1/", pool=pool)
        assert socks.seen == [("localhost", 1, "domain")]


def test_socks4_and_socks4a_proxies(serve, ca, ca_file, pool):
    # socks4: we resolve the name and send an IPv4 address; socks4a: the proxy resolves it.
    from socks_server import SocksServer

    with serve(where_app) as origin, TLSOrigin(ca) as tls, SocksServer(("user", "pw")) as socks:
        proxy4 = f"socks4://user@127.0.0.1:{socks.port}"
        r = greenhttp.get(f"http://localhost:{origin.address[1]}/four", proxy=proxy4, pool=pool)
        assert r.content == b"GET /four?"  # where_app: method, path and query
        assert socks.seen[-1] == ("127.0.0.1", origin.address[1], "socks4-ipv4")
        assert socks.users[-1] == "user"
        https = f"https://localhost:{tls.port}/t4a"
        assert greenhttp.get(https, proxy=f"socks4a://user@127.0.0.1:{socks.port}", verify=ca_file,
                             pool=pool).content == b"GET /t4a HTTP/1.1"
        assert socks.seen[-1] == ("localhost", tls.port, "socks4a-domain")
        # A rejected CONNECT (unknown user id) is the proxy's refusal, named as such.
        with pytest.raises(greenhttp.ProxyError, match="SOCKS"):
            greenhttp.get(origin.url + "/", proxy=f"socks4://intruder@127.0.0.1:{socks.port}",
                          pool=greenhttp.Pool())


def test_proxy_verify_checks_an_https_proxy_apart_from_the_origin(serve, ca, ca_file, pool, tmp_path):
    # A corporate proxy with its own private CA: proxy_verify= trusts it for the proxy
    # only (curl's --proxy-cacert); the origin is still checked with verify=.
    proxy_ca = trustme.CA()
    proxy_ca_file = str(tmp_path / "proxy-ca.pem")
    proxy_ca.cert_pem.write_to_path(proxy_ca_file)
    with TLSOrigin(ca) as tls, serve(where_app) as plain, \
            TLSForwardProxy(proxy_ca, [f"localhost:{tls.port}", f"127.0.0.1:{plain.address[1]}"]) as proxy:
        https = f"https://localhost:{tls.port}/through"
        # Tunnel to an https origin: each TLS layer with its own trust.
        r = greenhttp.get(https, proxy=proxy.url, verify=ca_file, proxy_verify=proxy_ca_file, pool=pool)
        assert r.content == b"GET /through HTTP/1.1"
        # Absolute-form to an http origin: the only TLS is the proxy's.
        r = greenhttp.get(plain.url + "/abs", proxy=proxy.url, verify=ca_file,
                          proxy_verify=proxy_ca_file, pool=pool)
        assert r.content == b"GET /abs?"
        # Without proxy_verify the proxy is checked with verify=, which does not know its CA.
        for url in (https, plain.url + "/abs"):
            with pytest.raises(greenhttp.UpstreamError):
                greenhttp.get(url, proxy=proxy.url, verify=ca_file, pool=greenhttp.Pool())
        # And a client-wide proxy_verify works like the call's.
        client = greenhttp.Client(verify=ca_file, proxy_verify=proxy_ca_file, pool=greenhttp.Pool())
        assert client.get(https, proxy=proxy.url).content == b"GET /through HTTP/1.1"
