"""Issue 14: the Retry policy over real sockets (greenhttp's server, and a raw one that hangs up)."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate
from typing import Any

import gevent
import gevent.server
import pytest

import greenhttp
from greenhttp.client.retry import parse_retry_after


def counting_app(fail: int, status: str = "503 Service Unavailable",
                 headers: list[tuple[str, str]] | None = None) -> Any:
    """Answers ``status`` (with ``headers``) to the first ``fail`` requests, then 200."""
    seen: list[tuple[str, bytes]] = []

    def app(environ: dict, start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read()
        seen.append((environ["REQUEST_METHOD"], body))
        if len(seen) <= fail:
            start_response(status, [("Content-Length", "4"), *(headers or [])])
            return [b"fail"]
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    app.seen = seen  # type: ignore[attr-defined]
    return app


def test_status_forcelist_is_retried_until_success(serve, pool):
    app = counting_app(2, "500 Internal Server Error")
    with serve(app) as server:
        r = greenhttp.get(server.url, pool=pool, retries=greenhttp.Retry(3, status_forcelist=[500]))
    assert (r.status, r.content, len(app.seen)) == (200, b"ok", 3)


def test_status_retries_run_out_raise_or_return(serve, pool):
    app = counting_app(10, "500 Internal Server Error")
    with serve(app) as server:
        with pytest.raises(greenhttp.HTTPStatusError) as info:
            greenhttp.get(server.url, pool=pool, retries=greenhttp.Retry(2, status_forcelist=[500]))
        assert info.value.response.status == 500 and len(app.seen) == 3
        r = greenhttp.get(server.url, pool=pool,
                          retries=greenhttp.Retry(1, status_forcelist=[500], raise_on_status=False))
        assert r.status == 500 and len(app.seen) == 5


def test_no_retries_without_a_policy(serve, pool):
    app = counting_app(1, "503 Service Unavailable", [("Retry-After", "0")])
    with serve(app) as server:
        assert greenhttp.get(server.url, pool=pool).status == 503
    assert len(app.seen) == 1


def test_retry_after_seconds_is_honoured_on_503(serve, pool):
    app = counting_app(1, "503 Service Unavailable", [("Retry-After", "1")])
    with serve(app) as server:
        started = time.monotonic()
        r = greenhttp.get(server.url, pool=pool, retries=2)  # no forcelist: Retry-After alone
        waited = time.monotonic() - started
    assert r.status == 200 and len(app.seen) == 2
    assert waited >= 0.95


def test_retry_after_http_date_on_429_and_413(serve, pool):
    past = formatdate(time.time() - 60, usegmt=True)
    for status in ("429 Too Many Requests", "413 Content Too Large"):
        app = counting_app(1, status, [("Retry-After", past)])
        with serve(app) as server:
            r = greenhttp.put(server.url, body=b"x", pool=pool, retries=1)
        assert r.status == 200 and app.seen == [("PUT", b"x"), ("PUT", b"x")]
    assert 29 < parse_retry_after(formatdate(time.time() + 30, usegmt=True)) <= 30  # type: ignore[operator]
    assert parse_retry_after("7") == 7.0 and parse_retry_after("soon") is None


def test_post_is_not_retried_by_default_but_can_be(serve, pool):
    app = counting_app(1, "503 Service Unavailable", [("Retry-After", "0")])
    policy = greenhttp.Retry(2, status_forcelist=[503], raise_on_status=False)
    with serve(app) as server:
        assert greenhttp.post(server.url, body=b"abc", pool=pool, retries=policy).status == 503
        assert len(app.seen) == 1
        # An Idempotency-Key makes a POST safe to repeat; the body is sent again whole.
        r = greenhttp.post(server.url, body=b"abc", headers={"Idempotency-Key": "k1"}, pool=pool,
                           retries=policy)
        assert r.status == 200 and app.seen[1:] == [("POST", b"abc")]


def test_a_body_that_cannot_be_replayed_is_never_retried(serve, pool):
    app = counting_app(1, "503 Service Unavailable")
    policy = greenhttp.Retry(3, status_forcelist=[503], allowed_methods=None, raise_on_status=False)
    with serve(app) as server:
        r = greenhttp.put(server.url, body=(b for b in [b"a", b"b"]), pool=pool, retries=policy)
    assert r.status == 503 and app.seen == [("PUT", b"ab")]


def test_client_default_policy_and_call_override(serve, pool):
    app = counting_app(1, "502 Bad Gateway")
    with serve(app) as server:
        client = greenhttp.Client(pool=pool, retries=greenhttp.Retry(1, status_forcelist=[502]))
        assert client.get(server.url).status == 200 and len(app.seen) == 2
        app.seen.clear()
        assert client.get(server.url, retries=None).status == 502 and len(app.seen) == 1


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_connect_errors_are_retried_with_backoff_for_any_method(pool):
    url = f"http://127.0.0.1:{_closed_port()}/"
    policy = greenhttp.Retry(connect=2, total=None, backoff_factor=0.1)
    started = time.monotonic()
    with pytest.raises(greenhttp.ConnectError):
        greenhttp.post(url, body=b"x", pool=pool, retries=policy)
    # three attempts; the waits before retries 1 and 2 are 0.1 and 0.2 s
    assert time.monotonic() - started >= 0.29


def test_a_connect_error_then_a_server(serve, pool):
    port = _closed_port()
    app = counting_app(0)

    context = serve(app, port=port)
    later = gevent.spawn_later(0.15, context.__enter__)
    try:
        r = greenhttp.get(f"http://127.0.0.1:{port}/", pool=pool,
                          retries=greenhttp.Retry(5, backoff_factor=0.1))
        assert r.status == 200 and len(app.seen) == 1
    finally:
        later.join()
        context.__exit__(None, None, None)


def hangup_server(hangups: int) -> Any:
    """A raw server that reads a request and closes without answering, ``hangups`` times."""
    count = {"n": 0}

    def handle(sock: socket.socket, address: Any) -> None:
        sock.recv(65536)
        count["n"] += 1
        if count["n"] <= hangups:
            sock.close()
            return
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        sock.close()

    server = gevent.server.StreamServer(("127.0.0.1", 0), handle)
    server.start()
    server.count = count  # type: ignore[attr-defined]
    return server


def test_read_errors_on_fresh_connections_are_retried_for_idempotent_methods_only(pool):
    server = hangup_server(2)
    url = f"http://127.0.0.1:{server.server_port}/"
    try:
        with pytest.raises(greenhttp.ConnectionLost):
            greenhttp.get(url, pool=pool)  # no policy: the stale-connection rule does not apply
        assert greenhttp.get(url, pool=pool, retries=2).content == b"ok"
        assert server.count["n"] == 3
        server.count["n"] = 0
        with pytest.raises(greenhttp.ConnectionLost):
            greenhttp.post(url, body=b"x", pool=pool, retries=5)
        assert server.count["n"] == 1
        server.count["n"] = 0
        with pytest.raises(greenhttp.ConnectionLost):  # read=1: one retry, then the error
            greenhttp.get(url, pool=pool, retries=greenhttp.Retry(5, read=1))
    finally:
        server.stop()


def test_retry_is_immutable_and_counts():
    policy = greenhttp.Retry(3, read=1, backoff_factor=0.5, backoff_max=1.5, backoff_jitter=0.25)
    with pytest.raises(AttributeError):
        policy.total = 5  # type: ignore[misc]
    first = policy.increment("GET", "http://x/", error=greenhttp.ConnectionLost("x"))
    assert (policy.total, policy.read, policy.history) == (3, 1, ())
    assert (first.total, first.read, len(first.history)) == (2, 0, 1)
    assert 0.5 <= first.backoff() <= 0.75
    second = first.increment("GET", "http://x/", status=503)
    assert not second.is_exhausted() and 1.0 <= second.backoff() <= 1.25
    assert second.increment("GET", "http://x/", status=503).increment(
        "GET", "http://x/", status=503).backoff() == 1.5  # capped by backoff_max
    assert first.increment("GET", "http://x/", error=greenhttp.ReadTimeout("t")).is_exhausted()
    assert not greenhttp.Retry(2).retries_error("GET", greenhttp.DeadlineExceeded("d"))
    with pytest.raises(greenhttp.UsageError):
        greenhttp.get("http://127.0.0.1:1/", max_retries=3)
