"""Serve ``apps.app`` with gevent.pywsgi: ``python pywsgi_server.py PORT [--nodelay]``.

The peer that shows what plain gevent does with the same app. Monkey-patched
first (as greenhttp and gunicorn's gevent worker are), access log off (``log=None``)
as the other servers run without one.

``--nodelay`` sets TCP_NODELAY on each connection. pywsgi as shipped does not,
and it sends a response's head and body in two writes, so on keep-alive
connections the body waits for the client's delayed ACK (~40 ms on Linux):
that is how it behaves out of the box, which is the default here; the flag shows
what it does without that stall.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402  (after patching, on purpose)
import socket  # noqa: E402
import sys  # noqa: E402

from gevent.pywsgi import WSGIHandler, WSGIServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apps import app  # noqa: E402


class NoDelayHandler(WSGIHandler):
    def handle(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


def main(argv: list[str]) -> None:
    port = int(argv[1])
    handler = NoDelayHandler if "--nodelay" in argv[2:] else WSGIHandler
    # backlog 1024 as greenhttp's default: StreamServer's own default is smaller.
    server = WSGIServer(("127.0.0.1", port), app, log=None, backlog=1024, handler_class=handler)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
