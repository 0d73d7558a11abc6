"""Idle keep-alive connections park without a greenlet (greenhttp/server/parking.py)."""

import socket
import time

import gevent

import greenhttp

from conftest import read_one_response, read_response, running


def echo_path(environ, start_response):
    body = environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def request(sock: socket.socket, path: str) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status, _, body = read_one_response(sock)
    assert status == b"HTTP/1.1 200 OK"
    return body


def wait_until(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        gevent.sleep(0.02)


# head_timeout 0.4 s: the reaper sweeps every 0.1 s (a quarter of the shortest timeout).
FAST = {"head_timeout": 0.4, "keepalive_timeout": 5.0}


def test_idle_connection_parks_and_serves_on_when_bytes_arrive():
    with running(echo_path, **FAST) as server:
        with socket.create_connection(server.address) as sock:
            assert request(sock, "/one") == b"/one"
            (conn,) = server.connections
            wait_until(lambda: conn.parked)
            assert conn.greenlet is None  # no greenlet while parked: that is the point
            assert request(sock, "/two") == b"/two"
            assert not conn.parked and conn.requests_served == 2
            wait_until(lambda: conn.parked)  # parks again once idle
            sock.sendall(b"GET /three HTTP/1.1\r\nHost: x\r\n\r\nGET /four HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_one_response(sock)[2] == b"/three"
            assert read_one_response(sock)[2] == b"/four"


def test_parked_connection_is_closed_at_its_keepalive_timeout():
    with running(echo_path, head_timeout=0.4, keepalive_timeout=0.8) as server:
        with socket.create_connection(server.address) as sock:
            request(sock, "/a")
            (conn,) = server.connections
            wait_until(lambda: conn.parked)
            started = time.monotonic()
            assert read_response(sock, timeout=3) == b""  # EOF from the server
            assert time.monotonic() - started < 2.0
            wait_until(lambda: not server.connections)
            assert server.stats()["requests"] == 1


def test_client_closing_a_parked_connection_ends_it():
    with running(echo_path, **FAST) as server:
        sock = socket.create_connection(server.address)
        request(sock, "/a")
        (conn,) = server.connections
        wait_until(lambda: conn.parked)
        sock.close()
        wait_until(lambda: not server.connections)
        assert server.requests_total == 1


def test_stop_closes_parked_connections_at_once():
    server = greenhttp.Server(echo_path, port=0, access_log=False, **FAST).start()
    try:
        with socket.create_connection(server.address) as sock:
            request(sock, "/a")
            (conn,) = server.connections
            wait_until(lambda: conn.parked)
            started = time.monotonic()
            server.stop(timeout=5)
            assert time.monotonic() - started < 1.0
            assert read_response(sock, timeout=2) == b""
            assert not server.connections and not conn.parked
    finally:
        server.stop(timeout=1)


def test_a_busy_keepalive_connection_is_not_parked_between_quick_requests():
    with running(echo_path, **FAST) as server:
        with socket.create_connection(server.address) as sock:
            request(sock, "/first")
            (conn,) = server.connections
            greenlet = conn.greenlet
            deadline = time.monotonic() + 0.6  # several sweeps
            while time.monotonic() < deadline:
                request(sock, "/again")
            assert conn.greenlet is greenlet and not conn.parked


def test_a_parked_connection_drops_its_protocol_and_gets_a_fresh_one():
    with running(echo_path, **FAST) as server:
        with socket.create_connection(server.address) as sock:
            request(sock, "/a")
            (conn,) = server.connections
            serving = conn.protocol
            wait_until(lambda: conn.parked)
            parked = conn.protocol
            assert parked is not serving
            assert request(sock, "/b") == b"/b"
            assert conn.protocol is not parked and conn.protocol is not serving


def _seconds_until_a_burst_is_parked(requests_after: float) -> float:
    """Open a burst of PARK_SOON + 20 connections mid-tick (the reaper's slow tick is 1 s
    with these timeouts), send each a request ``requests_after`` seconds later, and
    return how long after the last answer every connection was parked."""
    from greenhttp.server.reaper import PARK_SOON

    with running(echo_path, keepalive_timeout=300.0) as server:  # tick: 1 s
        gevent.sleep(1.1)  # past the first slow sweep: the burst lands mid-tick
        socks = [socket.create_connection(server.address) for _ in range(PARK_SOON + 20)]
        try:
            gevent.sleep(requests_after)
            for sock in socks:
                sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            for sock in socks:
                assert read_one_response(sock)[2] == b"/x"
            answered = time.monotonic()
            wait_until(lambda: all(conn.parked for conn in server.connections), timeout=2.0)
            return time.monotonic() - answered
        finally:
            for sock in socks:
                sock.close()


def test_a_burst_of_idle_connections_is_parked_well_before_the_slow_tick():
    """While 100+ connections wait unparked, the reaper sweeps as soon as they have
    waited PARK_AFTER (reaper.PARK_SOON), not at its 1 s tick."""
    assert _seconds_until_a_burst_is_parked(0.0) < 0.5  # PARK_AFTER 0.1 + a 50 ms sweep, loaded


def test_a_burst_whose_requests_come_late_is_still_parked_before_the_slow_tick():
    """The burst wakes the reaper at its connects; its first requests come 0.3 s later,
    after the reaper's second look. It keeps looking while the burst waits for them
    (before: back to the 1 s tick, and the burst held its greenlets that long)."""
    assert _seconds_until_a_burst_is_parked(0.3) < 0.5
