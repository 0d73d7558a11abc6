"""A `websockets` (sync API) echo server in a process of its own: the foreign WebSocket
peer of the interop tests.

Why not in the test process: the tests run monkey-patched, and the library's
``serve_forever`` registers its listening socket in a selector that ``shutdown()``
never unregisters before closing the socket. Under gevent that selector is a set of
libev watchers, left on a closed (and soon reused) file descriptor, and libev aborts the
whole test run when it next touches it.

Usage: ``python websockets_server.py CLOSE_CODE CLOSE_REASON``. Prints the port, then
serves until killed. Messages are echoed, except:

* ``close-please``: the server closes with CLOSE_CODE and CLOSE_REASON;
* ``headers-please``: the server sends the handshake's request headers as JSON.

A handshake for ``/forbidden`` is refused with 403. Messages up to 64 MiB are accepted
(the library's default limit is 1 MiB; the fragmentation tests send 20 MiB).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from websockets.sync.server import serve


def main() -> None:
    close_code, close_reason = int(sys.argv[1]), sys.argv[2]

    def handler(conn: Any) -> None:
        for message in conn:
            if message == "close-please":
                conn.close(close_code, close_reason)
                return
            if message == "headers-please":
                conn.send(json.dumps(dict(conn.request.headers.raw_items())))
                continue
            conn.send(message)

    def process_request(conn: Any, request: Any) -> Any:
        if request.path == "/forbidden":
            return conn.respond(403, "no websockets for you\n")
        return None

    with serve(handler, "127.0.0.1", 0, process_request=process_request,
               max_size=64 * 1024 * 1024) as server:
        print(server.socket.getsockname()[1], flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
