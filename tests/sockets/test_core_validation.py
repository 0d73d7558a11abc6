"""The protocol core is the only validator of what a server sends: a ``Server(handler=...)``,
which bypasses the WSGI adapter, cannot put an injected field on the wire either."""

import pytest

from conftest import raw_exchange, running

REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def _handler_server(status, reason, headers):
    def handler(conn, request, body):
        conn.start_response(status, reason, headers)
        conn.write(b"never")
        conn.finish()
        return True

    return running(lambda environ, start_response: [], handler=handler)


@pytest.mark.parametrize("status, reason, headers", [
    (200, "OK", [("X-A", "1\r\nSet-Cookie: x")]),
    (200, "OK", [("X-A", "1\nSet-Cookie: x")]),
    (200, "OK", [("X-A", "1\x00")]),
    (200, "OK", [("Set-Cookie: x\r\nX-A", "1")]),
    (200, "OK", [("X-A", "€")]),  # not Latin-1: cannot be encoded at all
    (200, "OK\r\nSet-Cookie: x", []),
    (2000, "OK", []),
    (200, "OK", [("Content-Length", "+5")]),
])
def test_handler_cannot_inject_and_gets_500(status, reason, headers):
    with _handler_server(status, reason, headers) as server:
        reply = raw_exchange(server.address, REQUEST)
        assert reply.startswith(b"HTTP/1.1 500 "), reply
        assert b"Set-Cookie" not in reply and b"never" not in reply and b"X-A" not in reply
        assert b"Connection: close" in reply
        # The server keeps serving.
        assert raw_exchange(server.address, REQUEST).startswith(b"HTTP/1.1 500 ")


def test_handler_valid_head_goes_out_unchanged():
    headers = [("X-A", "1\ttab and obs-text \xe9")]
    with _handler_server(200, "OK", headers + [("Content-Length", "5")]) as server:
        reply = raw_exchange(server.address, REQUEST)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"X-A: 1\ttab and obs-text \xe9\r\n" in reply and reply.endswith(b"never")
