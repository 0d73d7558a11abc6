"""``ws URL`` in the REPL: an interactive WebSocket.

Each line typed is sent as a text message; messages print as they arrive (a greenlet
reads while the terminal is waited on cooperatively); Ctrl-C or Ctrl-D closes the
WebSocket (1000) and returns to the prompt.
"""

from __future__ import annotations

import sys
from typing import Any, Optional
from urllib.parse import urljoin

import gevent
from gevent.socket import wait_read


def ws_url(current: str, arg: str) -> str:
    """``ws://``/``wss://`` as given; a path or http(s) URL is resolved against the current URL."""
    if arg.startswith(("ws://", "wss://")):
        return arg
    url = urljoin(current, arg)
    if url.startswith("https://"):
        return "wss://" + url[len("https://"):]
    if url.startswith("http://"):
        return "ws://" + url[len("http://"):]
    return url


def run(session: Any, args: list[str], stdin: Optional[Any] = None) -> None:
    from ..errors import ReplError
    from ..websocket.client import connect

    if len(args) != 1:
        raise ReplError("usage: ws URL|PATH")
    url = ws_url(session.url, args[0])
    options = session.options
    ws = connect(url, timeout=getattr(options, "timeout", 10.0), verify=getattr(options, "verify", True))
    session.say(f"connected to {url}" + (f" (subprotocol {ws.subprotocol})" if ws.subprotocol else "")
                + "; lines are sent as text, Ctrl-C or Ctrl-D leaves")
    stream = stdin if stdin is not None else sys.stdin

    def show() -> None:
        for message in ws:
            text = message if isinstance(message, str) else f"<{len(message)} bytes> {message[:64]!r}"
            session.say(f"< {text}")
        session.say(f"closed: {ws.close_code} {ws.close_reason}".rstrip())

    reader = gevent.spawn(show)
    try:
        while not ws.closed:
            wait_read(stream.fileno())
            line = stream.readline()
            if not line:
                break
            ws.send(line.rstrip("\n"))
    except KeyboardInterrupt:
        pass
    finally:
        ws.close()
        reader.join(6)
        reader.kill()
