"""WebSockets through proxies, with foreign software on the other side: greenhttp's reverse
proxy in front of a `websockets` server, and nginx in front of greenhttp's server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from websockets.exceptions import ConnectionClosed as WSClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from greenhttp.proxy import ReverseProxy
from greenhttp.websocket import WebSocket, connect, endpoint
from conftest import running, websockets_peer
from nginx_runner import free_port, nginx_config, running_nginx


@pytest.fixture
def upstream() -> Iterator[str]:
    """A `websockets` sync server in its own process (conftest.websockets_peer)."""
    with websockets_peer(4003, "upstream says bye") as address:
        yield f"http://{address}"


def test_reverse_proxy_passes_websocket_through_with_forwarded_headers(upstream):
    url = upstream
    with running(ReverseProxy({"/": url})) as proxy:
        host, port = proxy.address
        with ws_connect(f"ws://{host}:{port}/chat") as ws:
            assert ws.response.status_code == 101
            assert "greenhttp" in ws.response.headers["Via"]
            ws.send("through the proxy")
            assert ws.recv(timeout=5) == "through the proxy"
            big = b"\xaa" * 1_000_000
            ws.send(big)
            assert ws.recv(timeout=5) == big
            ws.send("headers-please")  # what the upstream saw in the handshake
            headers = {k.lower(): v for k, v in json.loads(ws.recv(timeout=5)).items()}
            ws.send("close-please")
            with pytest.raises(WSClosed) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd.code == 4003
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert "greenhttp" in headers["via"]
    assert headers["upgrade"] == "websocket"


def test_greenhttp_client_through_reverse_proxy_and_refusal_relayed(upstream):
    url = upstream
    with running(ReverseProxy({"/": url})) as proxy:
        host, port = proxy.address
        ws = connect(f"ws://{host}:{port}/x", proxy=False)
        ws.send("hello")
        assert ws.receive(timeout=5) == "hello"
        ws.close()
        with pytest.raises(InvalidStatus) as info:
            with ws_connect(f"ws://{host}:{port}/forbidden"):
                pass
        assert info.value.response.status_code == 403
        assert b"no websockets for you" in info.value.response.body


SERVERS = """
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{backend};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 30s;
        }}
    }}
"""


def test_nginx_proxies_websockets_to_greenhttp(tmp_path: Path):
    @endpoint
    def app(ws: WebSocket) -> None:
        for message in ws:
            ws.send(message[::-1] if isinstance(message, str) else message)

    with running(app) as server:
        port = free_port()
        config = nginx_config(tmp_path, SERVERS.format(port=port, backend=server.address[1]))
        with running_nginx(tmp_path, config, [port]):
            with ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
                ws.send("abc")
                assert ws.recv(timeout=5) == "cba"
                ws.send(b"\x00" * 200_000)
                assert ws.recv(timeout=5) == b"\x00" * 200_000
            ours = connect(f"ws://127.0.0.1:{port}/ws", proxy=False)
            ours.send("xyz")
            assert ours.receive(timeout=5) == "zyx"
            ours.close()
            assert ours.close_code == 1000
