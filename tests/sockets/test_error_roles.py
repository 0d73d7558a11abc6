"""Whose fault was it: the server answers 4xx only for what its own inbound client did
wrong. Errors of greenhttp's client about an upstream, escaping an app, are a 500 (the
proxy API turns them into 502/504); each case over real sockets."""

from __future__ import annotations

import logging
import socket

import gevent
import pytest

import greenhttp
from conftest import raw_exchange


def _stalling_upstream() -> tuple[socket.socket, tuple[str, int]]:
    """A listener that accepts and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept_forever() -> None:
        while True:
            conn, _ = listener.accept()
            held.append(conn)

    gevent.spawn(accept_forever)
    return listener, listener.getsockname()


def _truncating_upstream() -> tuple[socket.socket, tuple[str, int]]:
    """Promises 100 body bytes, sends 5, closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve_forever() -> None:
        while True:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
            conn.close()

    gevent.spawn(serve_forever)
    return listener, listener.getsockname()


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _app_calling(url: str, **kwargs):
    def app(environ, start_response):
        r = greenhttp.get(url, **kwargs)  # the error escapes the app on purpose
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [r.content]
    return app


def test_an_upstream_read_timeout_escaping_the_app_is_500_not_408(serve, caplog):
    listener, (host, port) = _stalling_upstream()
    with listener, serve(_app_calling(f"http://{host}:{port}/", timeout=0.3)) as server:
        with caplog.at_level(logging.ERROR, logger="greenhttp.error"):
            reply = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert _status(reply) == 500, reply
    assert b"Traceback" not in reply and b"ReadTimeout" not in reply
    assert "ReadTimeout" in caplog.text  # the traceback is in the log only


def test_a_truncated_upstream_body_escaping_the_app_is_500_not_400(serve, caplog):
    listener, (host, port) = _truncating_upstream()
    with listener, serve(_app_calling(f"http://{host}:{port}/")) as server:
        with caplog.at_level(logging.ERROR, logger="greenhttp.error"):
            reply = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert _status(reply) == 500, reply
    assert "IncompleteBody" in caplog.text


def test_an_app_raising_bad_request_still_answers_400(serve):
    def app(environ, start_response):
        raise greenhttp.BadRequest("the 'id' parameter is missing")

    with serve(app) as server:
        reply = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert _status(reply) == 400 and b"the 'id' parameter is missing" in reply


def test_a_local_protocol_error_in_the_app_is_500(serve):
    def app(environ, start_response):
        start_response("200 OK", [("X-A", "1\r\nSet-Cookie: x")])
        return [b"never"]

    with serve(app) as server:
        reply = raw_exchange(server.address, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert _status(reply) == 500 and b"Set-Cookie" not in reply


@pytest.mark.parametrize("cls, role", [
    (greenhttp.BadRequest, greenhttp.RequestError), (greenhttp.RequestTimeout, greenhttp.RequestError),
    (greenhttp.ClientDisconnected, greenhttp.RequestError), (greenhttp.MalformedBody, greenhttp.RequestError),
    (greenhttp.ReadTimeout, greenhttp.UpstreamError), (greenhttp.IncompleteBody, greenhttp.UpstreamError),
    (greenhttp.ConnectError, greenhttp.UpstreamError), (greenhttp.ResponseProtocolError, greenhttp.UpstreamError),
    (greenhttp.UpstreamDisconnected, greenhttp.UpstreamError), (greenhttp.DeadlineExceeded, greenhttp.UpstreamError),
    (greenhttp.InvalidURL, greenhttp.UsageError), (greenhttp.CLIError, greenhttp.UsageError),
])
def test_every_error_has_exactly_one_role(cls, role):
    roles = [r for r in (greenhttp.RequestError, greenhttp.UpstreamError, greenhttp.UsageError)
             if issubclass(cls, r)]
    assert roles == [role]
