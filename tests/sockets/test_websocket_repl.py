"""`ws URL` in the REPL: lines typed are sent, messages print as they arrive, EOF leaves."""

from __future__ import annotations

import io
import os
import time

import gevent

from greenhttp.repl.session import Session
from greenhttp.websocket import WebSocket, endpoint
from conftest import running


def test_repl_ws_sends_lines_and_prints_messages():
    @endpoint
    def app(ws: WebSocket) -> None:
        ws.send("welcome")
        for message in ws:
            ws.send(f"echo: {message}")

    with running(app) as server:
        out = io.StringIO()
        session = Session(server.url + "/", out=out, err=out, color=False)
        read_fd, write_fd = os.pipe()
        stdin = os.fdopen(read_fd, "r")

        def wait_for(text: str) -> None:
            deadline = time.monotonic() + 5
            while text not in out.getvalue():
                assert time.monotonic() < deadline, out.getvalue()
                gevent.sleep(0.02)

        import greenhttp.repl.ws as repl_ws
        original = repl_ws.sys.stdin
        repl_ws.sys.stdin = stdin
        runner = gevent.spawn(session.execute, "ws /chat")
        try:
            wait_for("< welcome")
            os.write(write_fd, b"hello there\n")
            wait_for("< echo: hello there")
            os.close(write_fd)  # Ctrl-D
            runner.join(10)
            assert runner.dead
        finally:
            repl_ws.sys.stdin = original
            stdin.close()
    text = out.getvalue()
    assert "connected to ws://" in text
    assert "closed: 1000" in text
