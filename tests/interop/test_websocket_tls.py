"""wss:// and proxies for greenhttp's WebSocket client: greenhttp's server behind TLS
(a trustme CA, checked through verify=), and greenhttp's ForwardProxy CONNECT tunnel for
ws:// and wss://."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

import greenhttp
from greenhttp.errors import ConnectError, ProxyError
from greenhttp.proxy import ForwardProxy
from greenhttp.server.wsgi import WSGIHandler
from greenhttp.websocket import WebSocket, connect, endpoint

from conftest import running, tls_stream_server


@endpoint
def shout(ws: WebSocket) -> None:
    scheme = ws.environ["wsgi.url_scheme"] if ws.environ else "?"
    for message in ws:
        ws.send(f"{scheme}:{message.upper() if isinstance(message, str) else len(message)}")


@pytest.fixture
def wss_port(ca: Any) -> Iterator[int]:
    """greenhttp's server for ``shout``, over TLS with a certificate for localhost."""
    server = greenhttp.Server(shout, port=0, access_log=False,
                              handler=WSGIHandler(shout, "localhost", 0, url_scheme="https"))
    tls = tls_stream_server(ca, server._handle_connection)
    tls.start()
    try:
        yield tls.server_port
    finally:
        tls.stop(timeout=1)
        server.stop(timeout=1)


def test_wss_client_against_greenhttp_over_tls(wss_port, ca_file):
    ws = connect(f"wss://localhost:{wss_port}/ws", verify=ca_file, proxy=False)
    ws.send("secret")
    assert ws.receive(timeout=5) == "https:SECRET"
    ws.send(b"\x00" * 300_000)  # many TLS records, permessage-deflate on top
    assert ws.receive(timeout=5) == "https:300000"
    assert ws.sock.version().startswith("TLS")
    ws.close()
    assert ws.close_code == 1000


def test_wss_client_refuses_a_certificate_it_does_not_trust(wss_port):
    with pytest.raises(ConnectError):
        connect(f"wss://localhost:{wss_port}/ws", proxy=False, timeout=5)  # system CAs only


def test_ws_client_through_the_forward_proxy():
    with running(shout) as origin, running(shout) as other:
        port = origin.address[1]
        with running(ForwardProxy([f"127.0.0.1:{port}"])) as front:
            ws = connect(f"ws://127.0.0.1:{port}/ws", proxy=front.url)
            ws.send("tunnelled")
            assert ws.receive(timeout=5) == "http:TUNNELLED"
            ws.close()
            # The proxy is really in the path: a destination off its allow-list is refused.
            with pytest.raises(ProxyError) as info:
                connect(f"ws://127.0.0.1:{other.address[1]}/ws", proxy=front.url, timeout=5)
            assert "403" in str(info.value)


def test_wss_client_through_the_forward_proxy(wss_port, ca_file):
    with running(ForwardProxy([f"localhost:{wss_port}"], auth=("u", "p"))) as front:
        proxied = front.url.replace("http://", "http://u:p@")
        ws = connect(f"wss://localhost:{wss_port}/ws", proxy=proxied, verify=ca_file)
        ws.send("end to end")
        assert ws.receive(timeout=5) == "https:END TO END"
        ws.close()
        assert ws.close_code == 1000
        with pytest.raises(ProxyError) as info:  # no credentials: 407 from the proxy
            connect(f"wss://localhost:{wss_port}/ws", proxy=front.url, verify=ca_file, timeout=5)
        assert "407" in str(info.value)
