"""The reverse proxy and proxy_request in front of greenhttp's own server, over real sockets.

Streaming both ways (the upstream sees the first upload chunk before the client sent
the last; the client sees the first response chunk before the upstream finished),
checksummed large bodies, hop-by-hop fields, X-Forwarded-*/Via, keep-alive reuse in
pool stats, 502/503/504 with their log lines, and a client that leaves mid-transfer
(the upstream exchange is aborted and its pool slot freed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from typing import Any, Callable, Iterator

import gevent
import gevent.event
import gevent.server
import pytest

import greenhttp
from greenhttp.proxy import ForwardProxy, ReverseProxy, Route, parse_routes, strip_hop_by_hop

from conftest import read_one_response, read_response


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        gevent.sleep(0.01)


def pattern(size: int, seed: int = 0) -> Iterator[bytes]:
    """``size`` deterministic, non-repeating-looking bytes in 1 MiB pieces."""
    block = hashlib.sha256(b"seed %d" % seed).digest() * 32768  # 1 MiB
    sent = 0
    i = 0
    while sent < size:
        piece = block[i % 251:] + block[:i % 251]
        piece = piece[:size - sent]
        sent += len(piece)
        i += 1
        yield piece


def pattern_digest(size: int, seed: int = 0) -> str:
    digest = hashlib.sha256()
    for piece in pattern(size, seed):
        digest.update(piece)
    return digest.hexdigest()


class Upstream:
    """A greenhttp app with the behaviours the proxy tests need, and what it saw."""

    def __init__(self) -> None:
        self.first_chunk = gevent.event.Event()
        self.release = gevent.event.Event()
        self.finished = gevent.event.Event()
        self.closed = gevent.event.Event()
        self.upload_error: BaseException | None = None
        self.ports: list[str] = []

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        self.ports.append(environ["REMOTE_PORT"])
        body = environ["greenhttp.body"]
        if path == "/echo" or path.startswith("/v2") or path.startswith("/root"):
            digest = hashlib.sha256()
            for chunk in body:
                digest.update(chunk)
            headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            data = json.dumps({"method": environ["REQUEST_METHOD"], "uri": environ["REQUEST_URI"],
                               "headers": headers, "length": body.received,
                               "chunked": body.length is None and body.received > 0,
                               "sha256": digest.hexdigest()}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(data))),
                                      ("Connection", "X-Internal"), ("X-Internal", "secret"),
                                      ("Keep-Alive", "timeout=5"), ("Proxy-Authenticate", "Basic"),
                                      ("Upgrade", "h2c"), ("Trailer", "X-Sum"),
                                      ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                                      ("Via", "1.0 origin-cache")])
            return [data]
        if path == "/upload-probe":
            try:
                first = True
                digest = hashlib.sha256()
                for chunk in body:
                    if first:
                        self.first_chunk.set()
                        first = False
                    digest.update(chunk)
            except BaseException as exc:
                self.upload_error = exc
                raise
            data = f"{body.received} {digest.hexdigest()}".encode()
            start_response("200 OK", [("Content-Length", str(len(data)))])
            return [data]
        if path == "/big":
            size = int(environ["QUERY_STRING"])
            start_response("200 OK", [("Content-Length", str(size))])
            return pattern(size, 7)
        if path == "/big-chunked":
            size = int(environ["QUERY_STRING"])
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return pattern(size, 8)
        if path == "/stream":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return self._stream()
        if path == "/forever":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return self._forever()
        if path == "/slow":
            gevent.sleep(float(environ["QUERY_STRING"] or 2))
            start_response("200 OK", [("Content-Length", "4")])
            return [b"late"]
        if path == "/head":
            start_response("200 OK", [("Content-Length", "1234"), ("ETag", '"x"')])
            return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"x" * 1234]
        start_response("404 Not Found", [("Content-Length", "0")])
        return []

    def _stream(self) -> Iterator[bytes]:
        yield b"first chunk\n"
        self.release.wait(10)
        yield b"second chunk\n"
        self.finished.set()

    def _forever(self) -> Iterator[bytes]:
        try:
            while True:
                yield b"z" * 65536
                gevent.sleep(0.005)
        finally:
            self.closed.set()


@pytest.fixture
def upstream(serve) -> Iterator[tuple[Upstream, greenhttp.Server]]:
    app = Upstream()
    with serve(app) as server:
        yield app, server


@pytest.fixture
def cpool() -> Iterator[greenhttp.Pool]:
    """The test client's own pool, so that ``pool`` holds only the proxy's upstream connections."""
    with greenhttp.Pool() as pool:
        yield pool


@pytest.fixture
def proxy(serve, upstream, pool):
    app, server = upstream
    kept: list = []
    # Keeping every ProxyResponse alive (as an app might, in a log or a cache) proves
    # that slots are freed explicitly, not by the garbage collector dropping a Response.
    reverse = ReverseProxy({"/api": server.url + "/v2", "/": server.url}, pool=pool,
                           timeout=greenhttp.Timeout(5, read=1.0),
                           on_response=lambda response, environ: kept.append(response))
    with serve(reverse) as front:
        front.kept = kept
        yield front


# -- routes and headers ------------------------------------------------------------------


def test_routes_longest_prefix_and_nginx_path_rule():
    routes = parse_routes(["/=http://u:1", "/api=http://u:2/v2", "/api/raw=http://u:3",
                           ("/slash", "http://u:4/")])
    assert [r.prefix for r in routes][0] == "/api/raw"

    def target(path: str, query: str = "") -> str:
        route = next(r for r in routes if r.matches(path))
        return route.upstream_url(path, query)

    assert target("/api/users", "a=1") == "http://u:2/v2/users?a=1"
    assert target("/api") == "http://u:2/v2"
    assert target("/apix") == "http://u:1/apix"  # whole segments only
    assert target("/api/raw/x") == "http://u:3/api/raw/x"  # no path in the URL: kept
    assert target("/slash/a/b") == "http://u:4/a/b"
    assert target("/slash") == "http://u:4/"
    assert target("/") == "http://u:1/"
    with pytest.raises(ValueError, match="PREFIX=URL"):
        parse_routes(["/nope"])
    with pytest.raises(ValueError, match="given twice"):
        parse_routes(["/a=http://x", "/a/=http://y"])
    with pytest.raises(ValueError, match="http"):
        Route("/a", "ftp://x")


@pytest.mark.parametrize("raw", [
    [(b"Content-Type", b"text/plain"), (b"Content-Length", b"2"), (b"Connection", b"keep-alive"),
     (b"Keep-Alive", b"timeout=5"), (b"Proxy-Foo", b"x"), (b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2")],
    [(b"Connection", b"X-Private, close"), (b"X-Private", b"secret"), (b"Server", b"up")],
    [(b"Via", b"1.1 edge"), (b"Transfer-Encoding", b"chunked"), (b"Date", b"now")],
    [],
])
@pytest.mark.parametrize("via", ["greenhttp", None])
def test_raw_response_headers_is_response_headers_in_one_pass(raw, via):
    from greenhttp.headers import Headers
    from greenhttp.proxy.headers import raw_response_headers, response_headers

    expected = response_headers(Headers.from_raw(raw).items(), "1.1", via).items()
    assert raw_response_headers(raw, "1.1", via).items() == expected


def test_strip_hop_by_hop_removes_fields_named_by_connection():
    items = [("Connection", "keep-alive, X-Foo"), ("X-Foo", "1"), ("Keep-Alive", "5"), ("TE", "trailers"),
             ("Trailer", "X"), ("Transfer-Encoding", "chunked"), ("Upgrade", "h2c"),
             ("Proxy-Authorization", "x"), ("Proxy-Connection", "keep-alive"), ("Accept", "*/*")]
    assert strip_hop_by_hop(items) == [("Accept", "*/*")]


def test_the_proxy_adds_no_fields_of_a_user_agent(proxy, upstream):
    # A bare request goes upstream with Host and the proxy's own forwarding fields only:
    # no User-Agent, Accept or Accept-Encoding that the client did not send (nginx's
    # proxy_pass adds none either; greenhttp.get would add all three).
    with socket.create_connection(proxy.address) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: front.example\r\n\r\n")
        status, headers, body = read_one_response(sock)
    assert status == b"HTTP/1.1 200 OK"
    sent = json.loads(body)["headers"]
    assert set(sent) == {"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via"}
    assert sent["host"] == f"127.0.0.1:{upstream[1].address[1]}"


def test_request_and_response_fields_through_the_proxy(proxy, upstream):
    with socket.create_connection(proxy.address) as sock:
        sock.sendall(b"GET /echo?q=1 HTTP/1.1\r\nHost: front.example\r\n"
                     b"Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 300\r\n"
                     b"TE: trailers\r\nProxy-Authorization: Basic eDp5\r\nProxy: http://evil\r\n"
                     b"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n"
                     b"Via: 1.0 corp-proxy\r\nX-Kept: yes\r\nUser-Agent: probe/1\r\n\r\n")
        status, headers, body = read_one_response(sock)
    seen = json.loads(body)
    sent = seen["headers"]
    assert status == b"HTTP/1.1 200 OK"
    for name in ("x-secret", "keep-alive", "te", "proxy-authorization", "proxy", "connection"):
        assert name not in sent, name
    assert sent["x-kept"] == "yes" and sent["user-agent"] == "probe/1"
    assert sent["host"] == f"127.0.0.1:{upstream[1].address[1]}"  # the upstream's, not the client's
    assert sent["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert sent["x-forwarded-proto"] == "http"  # this hop's view, not the client's claim
    assert sent["x-forwarded-host"] == "front.example"
    assert sent["via"] == "1.0 corp-proxy, 1.1 greenhttp"
    assert seen["uri"] == "/echo?q=1"
    # (greenhttp's server never sends Connection or Keep-Alive from an app: see the raw test.)
    for name in ("proxy-authenticate", "upgrade", "trailer"):
        assert name not in headers, name
    assert headers["via"] == "1.0 origin-cache, 1.1 greenhttp"
    assert headers["content-length"] == str(len(body))


def test_response_fields_named_by_connection_are_removed(serve, pool):
    def answer(sock: Any) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: X-Internal, keep-alive\r\nX-Internal: secret\r\n"
                     b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Public: 1\r\n"
                     b"Content-Length: 2\r\n\r\nok")
        gevent.sleep(0.5)

    with RawUpstream(answer) as url, serve(ReverseProxy({"/": url}, pool=pool)) as front:
        with socket.create_connection(front.address) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = read_one_response(sock)
    assert body == b"ok" and headers["x-public"] == "1"
    for name in ("x-internal", "keep-alive", "proxy-connection"):
        assert name not in headers, name
    assert headers.get("connection") != "X-Internal, keep-alive"


def test_repeated_response_fields_and_head(proxy, pool, cpool):
    response = greenhttp.get(proxy.url + "/echo", pool=cpool)
    assert response.headers.get_all("set-cookie") == ["a=1", "b=2"]
    head = greenhttp.head(proxy.url + "/head", pool=cpool)
    assert head.status == 200 and head.headers["content-length"] == "1234" and head.content == b""
    assert greenhttp.get(proxy.url + "/head", pool=cpool).content == b"x" * 1234


def test_prefix_route_rewrites_the_path(proxy, pool, cpool):
    seen = greenhttp.get(proxy.url + "/api/items?x=%2F", pool=cpool).json()
    assert seen["uri"] == "/v2/items?x=%2F"


def test_preserve_host_and_no_forwarded_headers(serve, upstream, pool):
    app, server = upstream
    reverse = ReverseProxy(["/=" + server.url], pool=pool, preserve_host=True, forwarded=False, via=None)
    with serve(reverse) as front:
        seen = greenhttp.get(front.url + "/echo", headers={"Host": "site.example",
                                                           "X-Forwarded-For": "10.9.9.9"}, pool=pool)
        sent = seen.json()["headers"]
    assert sent["host"] == "site.example"
    assert sent["x-forwarded-for"] == "10.9.9.9" and "x-forwarded-host" not in sent and "via" not in sent
    assert seen.headers["via"] == "1.0 origin-cache"


def test_proxy_request_from_an_app_with_hooks(serve, upstream, pool, cpool):
    app, server = upstream

    def front(environ, start_response):
        if environ["PATH_INFO"] == "/direct":
            response = greenhttp.proxy_request(environ, server.url + "/echo", pool=pool,
                                               headers={"X-Added": "1", "User-Agent": None})
        else:
            response = environ["greenhttp.proxy"](environ, server.url + "/echo", pool=pool)
        response.headers["X-Front"] = "seen " + str(response.status)
        response.headers.remove("set-cookie")
        response.status, response.reason = 203, "Non-Authoritative Information"
        return response(environ, start_response)

    with serve(front) as front_server:
        direct = greenhttp.get(front_server.url + "/direct", pool=cpool)
        via_environ = greenhttp.get(front_server.url + "/environ", pool=cpool)
    assert direct.status == 203 and direct.headers["x-front"] == "seen 200"
    assert "set-cookie" not in direct.headers
    sent = direct.json()["headers"]
    assert sent["x-added"] == "1" and "user-agent" not in sent  # removed; a proxy adds none of its own
    assert via_environ.status == 203 and via_environ.json()["uri"] == "/echo"


def test_no_route_is_404(serve, upstream, pool, cpool):
    reverse = ReverseProxy({"/only": upstream[1].url}, pool=pool)
    with serve(reverse) as front:
        response = greenhttp.get(front.url + "/other", pool=cpool)
    assert response.status == 404 and b"no route" in response.content


# -- streaming, large bodies, keep-alive -----------------------------------------------------


def test_upload_streams_upstream_before_the_client_finishes(proxy, upstream):
    app, _ = upstream
    with socket.create_connection(proxy.address) as sock:
        sock.sendall(b"POST /upload-probe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        sock.sendall(b"8\r\nfirst!!\n\r\n")
        # The last chunk has not been sent: the upstream must already hold the first.
        assert app.first_chunk.wait(5), "the upstream did not see the first chunk before the last was sent"
        sock.sendall(b"5\r\nlast\n\r\n0\r\n\r\n")
        status, _, body = read_one_response(sock)
    expected = hashlib.sha256(b"first!!\nlast\n").hexdigest()
    assert status == b"HTTP/1.1 200 OK" and body == f"13 {expected}".encode()


@pytest.mark.parametrize("size, expect", [(1024, False), (2 * 1024 * 1024, True)])
def test_upload_framing_is_recomputed_for_the_upstream_hop(proxy, cpool, size, expect):
    # Content-Length and Expect are the hop's own (RFC 9110 §10.1.1): the proxy sends its
    # own Expect: 100-continue for a large body, as the client does for any request.
    data = b"".join(pattern(size, 3))
    response = greenhttp.put(proxy.url + "/echo", body=data, pool=cpool)
    seen = response.json()
    assert response.status == 200 and seen["length"] == size and not seen["chunked"]
    assert seen["sha256"] == hashlib.sha256(data).hexdigest()
    assert seen["headers"].get("expect") == ("100-continue" if expect else None)
    assert "content-length" not in seen["headers"]  # CONTENT_LENGTH in WSGI, not HTTP_*


def test_header_overrides_cannot_set_the_hops_framing(serve, upstream, pool, cpool):
    # headers= replaces end-to-end fields; Content-Length, Transfer-Encoding, Connection
    # and Expect are each hop's own: a second length beside the computed one would be a
    # smuggling vector (RFC 9112 §6.3, §11.2).
    _, server = upstream

    def front(environ, start_response):
        response = greenhttp.proxy_request(
            environ, server.url + "/echo", pool=pool,
            headers={"Content-Length": "999", "Transfer-Encoding": "chunked", "Connection": "close",
                     "Expect": "100-continue", "X-Extra": "1", "Host": "named.example"})
        return response(environ, start_response)

    with serve(front) as front_server:
        response = greenhttp.post(front_server.url + "/", body=b"twelve bytes", pool=cpool)
    seen = response.json()
    assert response.status == 200 and seen["length"] == 12 and not seen["chunked"]
    assert seen["sha256"] == hashlib.sha256(b"twelve bytes").hexdigest()
    sent = seen["headers"]
    for name in ("transfer-encoding", "connection", "expect"):
        assert name not in sent, name
    assert sent["x-extra"] == "1" and sent["host"] == "named.example"


def test_an_override_cannot_remove_host(serve, upstream, pool, cpool):
    # RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400; None replaces nothing here.
    _, server = upstream

    def front(environ, start_response):
        return greenhttp.proxy_request(environ, server.url + "/echo", pool=pool,
                                       headers={"Host": None})(environ, start_response)

    with serve(front) as front_server:
        response = greenhttp.get(front_server.url + "/", pool=cpool)
    assert response.status == 200
    assert response.json()["headers"]["host"] == f"127.0.0.1:{server.address[1]}"


def test_response_streams_back_before_the_upstream_finishes(proxy, upstream, pool, cpool):
    app, _ = upstream
    with greenhttp.get(proxy.url + "/stream", stream=True, pool=cpool) as response:
        chunks = iter(response.body)
        first = next(chunks)
        assert first == b"first chunk\n"
        assert not app.finished.is_set()  # the upstream is still in the middle of its body
        app.release.set()
        assert b"".join(chunks) == b"second chunk\n"
    assert app.finished.is_set()


def test_large_bodies_both_ways_with_checksums(proxy, pool, cpool):
    size = 48 * 1024 * 1024 + 123
    # Upload, chunked (a generator) and with Content-Length (a list of known size).
    up = greenhttp.post(proxy.url + "/upload-probe", body=pattern(size, 1), pool=cpool, timeout=30)
    assert up.content == f"{size} {pattern_digest(size, 1)}".encode()
    sized = list(pattern(5 * 1024 * 1024, 2))
    echo = greenhttp.put(proxy.url + "/echo", body=sized, pool=cpool, timeout=30).json()
    assert echo["length"] == 5 * 1024 * 1024 and not echo["chunked"]
    assert echo["sha256"] == pattern_digest(5 * 1024 * 1024, 2)
    # Download, with Content-Length and chunked.
    for path, seed in (("/big", 7), ("/big-chunked", 8)):
        digest = hashlib.sha256()
        with greenhttp.get(f"{proxy.url}{path}?{size}", stream=True, pool=cpool, timeout=30) as response:
            for chunk in response.body:
                digest.update(chunk)
        assert response.body.received == size and digest.hexdigest() == pattern_digest(size, seed), path


def test_keep_alive_reuse_to_the_upstream_in_pool_stats(proxy, upstream, pool):
    app, server = upstream
    app.ports.clear()
    for _ in range(20):
        assert greenhttp.get(proxy.url + "/echo", pool=greenhttp.Pool()).status == 200
    stats = pool.stats()
    assert stats["open"] == 1 and stats["idle"] == 1, stats
    assert stats["hosts"][f"http://127.0.0.1:{server.address[1]}"]["open"] == 1
    assert len(set(app.ports)) == 1  # twenty requests, one upstream connection


# -- failures -------------------------------------------------------------------------------


def test_upstream_down_is_502_with_a_log_line(serve, pool, caplog, cpool):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]  # bound, never listening: refused
        with serve(ReverseProxy({"/": f"http://127.0.0.1:{dead}"}, pool=pool)) as front:
            with caplog.at_level(logging.INFO, logger="greenhttp.proxy"):
                response = greenhttp.get(front.url + "/x", pool=cpool)
    assert response.status == 502 and response.headers["content-type"].startswith("text/plain")
    assert response.content.startswith(b"502 Bad Gateway: ") and len(response.content) < 200
    lines = [r for r in caplog.records if r.name == "greenhttp.proxy"]
    assert len(lines) == 1 and "502" in lines[0].getMessage() and "refused" in lines[0].getMessage()
    assert pool.stats()["open"] == 0


def test_upstream_too_slow_is_504(proxy, pool, caplog, cpool):
    with caplog.at_level(logging.INFO, logger="greenhttp.proxy"):
        started = time.monotonic()
        response = greenhttp.get(proxy.url + "/slow?3", pool=cpool)
    assert response.status == 504 and response.content.startswith(b"504 Gateway Timeout: ")
    assert time.monotonic() - started < 2.5  # the proxy's read timeout is 1 s
    lines = [r.getMessage() for r in caplog.records if r.name == "greenhttp.proxy"]
    assert len(lines) == 1 and "504" in lines[0] and "ReadTimeout" in lines[0]
    assert pool.stats()["in_use"] == 0


class RawUpstream:
    """A TCP server that answers every connection with ``script(sock)``."""

    def __init__(self, script: Callable[[Any], None]) -> None:
        def handle(sock: Any, address: Any) -> None:
            sock.recv(65536)
            script(sock)
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), handle)

    def __enter__(self) -> str:
        self.server.start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.stop(timeout=1)


def reset(sock: Any) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def test_upstream_reset_is_502(serve, pool, cpool):
    with RawUpstream(reset) as url, serve(ReverseProxy({"/": url}, pool=pool)) as front:
        response = greenhttp.get(front.url + "/", pool=cpool)
    assert response.status == 502
    assert pool.stats()["open"] == 0


def test_upstream_stalling_after_its_head_is_504(serve, pool, cpool):
    def head_then_stall(sock: Any) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        gevent.sleep(3)

    with RawUpstream(head_then_stall) as url, \
            serve(ReverseProxy({"/": url}, pool=pool, timeout=greenhttp.Timeout(5, read=0.5))) as front:
        response = greenhttp.get(front.url + "/", pool=cpool)
    assert response.status == 504 and response.content.startswith(b"504 Gateway Timeout")
    assert pool.stats()["open"] == 0


@pytest.mark.parametrize("framing", [b"Content-Length: 100000", b"Transfer-Encoding: chunked"])
def test_upstream_dying_mid_body_cuts_the_response_short(serve, pool, caplog, framing):
    def half_then_reset(sock: Any) -> None:
        chunked = framing.startswith(b"Transfer")
        sock.sendall(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\n"
                     + (b"400\r\n" + b"y" * 1024 + b"\r\n" if chunked else b"y" * 1024))
        gevent.sleep(0.2)
        reset(sock)

    with caplog.at_level(logging.INFO, logger="greenhttp.proxy"), RawUpstream(half_then_reset) as url, \
            serve(ReverseProxy({"/": url}, pool=pool)) as front:
        with socket.create_connection(front.address) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = read_response(sock, timeout=5)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    if framing.startswith(b"Transfer"):
        assert not body.endswith(b"0\r\n\r\n")  # no terminating chunk: visibly incomplete
    else:
        assert len(body) == 1024  # fewer than the promised 100000, then the connection closed
    lines = [r.getMessage() for r in caplog.records if r.name == "greenhttp.proxy"]
    assert len(lines) == 1 and "cut short" in lines[0]
    # An upstream's fault after the head is one proxy line, not a traceback from the server.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert pool.stats()["open"] == 0


def test_pool_exhausted_is_503(serve, upstream, caplog):
    app, server = upstream
    with greenhttp.Pool(max_per_host=1, checkout_timeout=0.2) as small:
        with serve(ReverseProxy({"/": server.url}, pool=small)) as front:
            holder = greenhttp.get(front.url + "/stream", stream=True, pool=greenhttp.Pool())
            assert next(iter(holder.body)) == b"first chunk\n"
            response = greenhttp.get(front.url + "/echo", pool=greenhttp.Pool())
            app.release.set()
            holder.close()
    assert response.status == 503


# -- the client going away -----------------------------------------------------------------------


def test_client_gone_mid_download_aborts_upstream_and_frees_the_slot(proxy, upstream, pool):
    app, _ = upstream
    with socket.create_connection(proxy.address) as sock:
        sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        received = 0
        while received < 256 * 1024:
            received += len(sock.recv(65536))
        assert pool.stats()["in_use"] == 1
    wait_for(lambda: pool.stats()["open"] == 0, what="the upstream connection to be closed")
    assert pool.stats()["in_use"] == 0
    assert app.closed.wait(5), "the upstream never saw the abort"
    assert len(proxy.kept) == 1 and not proxy.kept[0].upstream.body.complete


def test_client_gone_mid_upload_aborts_upstream_and_frees_the_slot(proxy, upstream, pool):
    app, _ = upstream
    with socket.create_connection(proxy.address) as sock:
        sock.sendall(b"POST /upload-probe HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        sock.sendall(b"u" * 1024 * 1024)
        assert app.first_chunk.wait(5)
        assert pool.stats()["in_use"] == 1
    wait_for(lambda: pool.stats()["open"] == 0, what="the upstream connection to be closed")
    wait_for(lambda: app.upload_error is not None, what="the upstream to see the upload end")
    assert isinstance(app.upload_error, greenhttp.ClientDisconnected)


def test_forward_proxy_is_not_a_reverse_proxy_by_accident():
    with pytest.raises(TypeError):
        ForwardProxy()  # type: ignore[call-arg] - the allow-list is required


def test_stalled_upload_is_the_servers_408_not_a_504(serve, upstream, pool, caplog):
    app, server = upstream
    with caplog.at_level(logging.INFO, logger="greenhttp.proxy"), \
            serve(ReverseProxy({"/": server.url}, pool=pool), body_timeout=0.3) as front:
        with socket.create_connection(front.address) as sock:
            sock.sendall(b"POST /upload-probe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"s" * 10)
            status, _, body = read_one_response(sock)
    assert status.startswith(b"HTTP/1.1 408"), (status, body)
    wait_for(lambda: pool.stats()["open"] == 0, what="the upstream connection to be closed")
    # The RequestTimeout passed through the upstream client as itself: the proxy logged
    # the client's failure, not an upstream one (no 504 line, no warning).
    lines = [r for r in caplog.records if r.name == "greenhttp.proxy"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO, [r.getMessage() for r in lines]
    assert "RequestTimeout" in lines[0].getMessage() and "504" not in lines[0].getMessage()


def test_stalled_upload_past_the_total_deadline_is_still_408_not_504(serve, upstream, pool, caplog):
    """Timeout(total=...) makes only the upstream's timeouts DeadlineExceeded: the inbound
    client's RequestTimeout (its upload stalled, body_timeout) stays the client's fault
    even when it fires after the proxy's total deadline has passed."""
    app, server = upstream
    proxy = ReverseProxy({"/": server.url}, pool=pool, timeout=greenhttp.Timeout(5, total=0.2))
    with caplog.at_level(logging.INFO, logger="greenhttp.proxy"), \
            serve(proxy, body_timeout=0.5) as front:
        with socket.create_connection(front.address) as sock:
            sock.sendall(b"POST /upload-probe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"s" * 10)
            status, _, body = read_one_response(sock)
    assert status.startswith(b"HTTP/1.1 408"), (status, body)
    lines = [r.getMessage() for r in caplog.records if r.name == "greenhttp.proxy"]
    assert len(lines) == 1 and "RequestTimeout" in lines[0] and "DeadlineExceeded" not in lines[0], lines


def test_upstream_closing_without_a_response_is_an_upstream_error_502(serve, pool, cpool):
    """The client's ConnectionLost for an upstream has the upstream's role
    (UpstreamDisconnected): the proxy answers it by that role alone."""
    with RawUpstream(lambda sock: sock.close()) as url:
        with pytest.raises(greenhttp.UpstreamDisconnected) as caught:
            greenhttp.get(url, pool=cpool, timeout=5)
        assert isinstance(caught.value, greenhttp.UpstreamError) and caught.value.status_hint == 502
        with serve(ReverseProxy({"/": url}, pool=pool)) as front:
            response = greenhttp.get(front.url + "/", pool=cpool, timeout=5)
    assert response.status == 502, response.content


@pytest.mark.parametrize("error, status", [
    (greenhttp.ConnectTimeout("x"), 504), (greenhttp.ReadTimeout("x"), 504),
    (greenhttp.DeadlineExceeded("x"), 504), (greenhttp.ConnectError("x"), 502),
    (greenhttp.IncompleteBody("x"), 502), (greenhttp.ResponseProtocolError("x"), 502),
    (greenhttp.UpstreamDisconnected("x"), 502), (greenhttp.PoolTimeout("x"), 503),
    (greenhttp.LocalProtocolError("x"), 500),
])
def test_proxy_answers_an_error_by_its_role(error, status):
    from greenhttp.proxy.request import ANSWERED, _failure

    assert isinstance(error, ANSWERED) and _failure(error)[0] == status


@pytest.mark.parametrize("error", [greenhttp.RequestTimeout("x"), greenhttp.BadRequest("x"),
                                   greenhttp.MalformedBody("x"), greenhttp.InvalidURL("x"),
                                   greenhttp.ClientDisconnected("x"), greenhttp.StreamClosed("x")])
def test_proxy_does_not_answer_the_inbound_clients_or_the_callers_errors(error):
    from greenhttp.proxy.request import ANSWERED

    assert not isinstance(error, ANSWERED)
