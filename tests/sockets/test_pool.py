"""Pool behaviour under concurrency, over real loopback sockets: limits, waiting, checkout
timeout, LIFO reuse, stale and expired connections, cancellation, unread bodies."""

from __future__ import annotations

import gc
import socket
import time

import gevent
import gevent.event
import pytest

import greenhttp


def port_app(environ, start_response):
    """Answers the client's port: which connection carried the request."""
    delay = float(environ["QUERY_STRING"] or 0)
    if delay:
        gevent.sleep(delay)
    data = environ["REMOTE_PORT"].encode()
    start_response("200 OK", [("Content-Length", str(len(data)))])
    return [data]


def big_app(environ, start_response):
    size = int(environ["QUERY_STRING"] or 0)
    start_response("200 OK", [("Content-Length", str(size))])
    return [b"x" * size]


def test_per_host_limit_waiting_and_stats(serve):
    active = {"now": 0, "max": 0, "ports": set()}
    release = gevent.event.Event()

    def app(environ, start_response):
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        active["ports"].add(environ["REMOTE_PORT"])
        release.wait(5)
        active["now"] -= 1
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    with serve(app) as server, greenhttp.Pool(max_per_host=2) as pool:
        jobs = [gevent.spawn(greenhttp.get, server.url, pool=pool) for _ in range(10)]
        deadline = time.monotonic() + 5
        # Under load the second connection may still be connecting; wait for the state.
        while ((pool.stats()["waiting"] < 8 or pool.stats()["in_use"] < 2 or active["now"] < 2)
               and time.monotonic() < deadline):
            gevent.sleep(0.01)
        stats = pool.stats()
        assert stats["open"] == 2 and stats["in_use"] == 2 and stats["waiting"] == 8
        host = stats["hosts"][server.url]
        assert host == {"open": 2, "idle": 0, "in_use": 2, "waiting": 8}
        release.set()
        gevent.joinall(jobs, timeout=10, raise_error=True)
        assert all(job.value.content == b"ok" for job in jobs)
        assert active["max"] == 2 and len(active["ports"]) == 2  # no growth beyond the limit
        assert pool.stats() == {"open": 2, "idle": 2, "in_use": 0, "waiting": 0,
                                "hosts": {server.url: {"open": 2, "idle": 2, "in_use": 0, "waiting": 0}}}


def test_checkout_timeout_is_a_clear_pool_timeout(serve):
    with serve(big_app) as server, greenhttp.Pool(max_per_host=1, checkout_timeout=0.2) as pool:
        held = greenhttp.get(server.url + "?5000000", stream=True, pool=pool)
        assert held.status == 200
        started = time.monotonic()
        with pytest.raises(greenhttp.PoolTimeout, match="1 open, limit 1 per host"):
            greenhttp.get(server.url, pool=pool)
        assert 0.15 < time.monotonic() - started < 1.0
        # a per-request pool timeout overrides the pool's own
        with pytest.raises(greenhttp.PoolTimeout):
            greenhttp.get(server.url, pool=pool, timeout=greenhttp.Timeout(5, pool=0.05))
        assert pool.stats()["waiting"] == 0
        held.close()
        assert greenhttp.get(server.url + "?3", pool=pool).content == b"xxx"


def test_lifo_reuse_keeps_the_warm_connection(serve):
    with serve(port_app) as server, greenhttp.Pool() as pool:
        # Two connections, returned in a known order: a first, then b.
        a = gevent.spawn(greenhttp.get, server.url + "?0.05", pool=pool)
        b = gevent.spawn(greenhttp.get, server.url + "?0.3", pool=pool)
        port_a, port_b = a.get(timeout=5).content, b.get(timeout=5).content
        assert port_a != port_b
        for _ in range(3):
            assert greenhttp.get(server.url, pool=pool).content == port_b
        assert pool.stats()["idle"] == 2


def test_stale_connection_closed_by_server_is_detected_before_reuse(serve):
    with serve(port_app, keepalive_timeout=0.2) as server, greenhttp.Pool() as pool:
        first = greenhttp.get(server.url, pool=pool).content
        gevent.sleep(0.5)  # the server closes the idle connection meanwhile
        second = greenhttp.get(server.url, pool=pool).content
        assert first != second
        assert pool.stats()["open"] == 1


def test_idle_timeout_expires_connections(serve):
    with serve(port_app) as server, greenhttp.Pool(idle_timeout=0.2) as pool:
        first = greenhttp.get(server.url, pool=pool).content
        assert greenhttp.get(server.url, pool=pool).content == first
        gevent.sleep(0.3)
        assert greenhttp.get(server.url, pool=pool).content != first
        assert pool.stats()["open"] == 1


def test_max_total_evicts_idle_connections_of_other_hosts(serve):
    with serve(port_app) as one, serve(port_app) as two, greenhttp.Pool(max_total=1) as pool:
        greenhttp.get(one.url, pool=pool)
        greenhttp.get(two.url, pool=pool)
        stats = pool.stats()
        assert stats["open"] == 1 and list(stats["hosts"]) == [two.url]


def test_gevent_timeout_mid_request_frees_the_slot(serve):
    with serve(port_app) as server, greenhttp.Pool(max_per_host=1, checkout_timeout=1) as pool:
        with pytest.raises(gevent.Timeout):
            with gevent.Timeout(0.2):
                greenhttp.get(server.url + "?2", pool=pool)
        assert pool.stats()["open"] == 0  # the cut-off connection is closed, not reused
        assert greenhttp.get(server.url, pool=pool).status == 200


def test_killed_greenlets_free_slots_and_waits(serve):
    with serve(port_app) as server, greenhttp.Pool(max_per_host=1) as pool:
        running = gevent.spawn(greenhttp.get, server.url + "?2", pool=pool)
        waiting = gevent.spawn(greenhttp.get, server.url, pool=pool)
        gevent.sleep(0.2)
        assert pool.stats()["in_use"] == 1 and pool.stats()["waiting"] == 1
        gevent.killall([waiting, running], timeout=5)
        assert pool.stats() == {"open": 0, "idle": 0, "in_use": 0, "waiting": 0, "hosts": {}}
        assert greenhttp.get(server.url, pool=pool).status == 200


def test_gevent_timeout_while_streaming_the_body_frees_the_slot(serve):
    def trickle(environ, start_response):
        start_response("200 OK", [("Content-Length", "1000")])

        def body():
            for _ in range(1000):
                gevent.sleep(0.01)
                yield b"x"
        return body()

    with serve(trickle) as server, greenhttp.Pool(max_per_host=1) as pool:
        response = greenhttp.get(server.url, stream=True, pool=pool)
        with pytest.raises(gevent.Timeout):
            with gevent.Timeout(0.1):
                response.body.read()
        assert pool.stats()["open"] == 0


def test_unread_streamed_bodies(serve):
    with serve(big_app) as server, greenhttp.Pool() as pool:
        # a small rest is drained and the connection kept
        with greenhttp.get(server.url + "?100000", stream=True, pool=pool) as response:
            assert response.body.read(10) == b"x" * 10
        assert pool.stats() == {"open": 1, "idle": 1, "in_use": 0, "waiting": 0,
                                "hosts": {server.url: {"open": 1, "idle": 1, "in_use": 0, "waiting": 0}}}
        # a large rest is not worth reading: the connection is closed
        response = greenhttp.get(server.url + "?20000000", stream=True, pool=pool)
        response.close()
        assert pool.stats()["open"] == 0
        # a response dropped unread, never closed, does not hold its slot
        response = greenhttp.get(server.url + "?20000000", stream=True, pool=pool)
        assert pool.stats()["in_use"] == 1
        del response
        gc.collect()
        assert pool.stats()["in_use"] == 0


def test_connect_failures_release_their_slot():
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{refused.getsockname()[1]}/"
    refused.close()
    with greenhttp.Pool(max_per_host=1, checkout_timeout=0.1) as pool:
        for _ in range(3):
            with pytest.raises(greenhttp.ConnectError):
                greenhttp.get(url, pool=pool)
        assert pool.stats()["open"] == 0


def test_many_greenlets_share_a_small_pool(serve):
    with serve(port_app) as server, greenhttp.Pool(max_per_host=4) as pool:
        results = greenhttp.fetch_all([server.url] * 200, concurrency=50, pool=pool)
        assert all(isinstance(r, greenhttp.Response) and r.status == 200 for r in results)
        assert len({r.content for r in results}) <= 4
        stats = pool.stats()
        assert stats["open"] <= 4 and stats["in_use"] == 0 and stats["waiting"] == 0


def test_default_pool_is_shared(serve):
    with serve(port_app) as server:
        first = greenhttp.get(server.url).content
        assert greenhttp.Client().get(server.url).content == first
        assert server.url in greenhttp.default_pool().stats()["hosts"]


def test_abort_closes_an_endless_stream_at_once_and_frees_the_slot(serve):
    import gevent

    def endless(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def forever():
            while True:
                yield b"tick\n"
                gevent.sleep(0.01)
        return forever()

    pool = greenhttp.Pool(max_per_host=1)
    with serve(endless) as server:
        response = greenhttp.get(server.url, stream=True, pool=pool)
        assert next(iter(response.body)).startswith(b"tick")
        started = time.monotonic()
        response.abort()
        assert time.monotonic() - started < 0.5
        assert pool.stats()["in_use"] == 0 and pool.stats()["open"] == 0
        # The single slot is free again: a second request does not hit PoolTimeout.
        second = greenhttp.get(server.url, stream=True, pool=pool, timeout=greenhttp.Timeout(2))
        assert second.status == 200
        second.abort()
