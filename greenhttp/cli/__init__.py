"""The ``greenhttp`` command: serve an app, run the proxy, or make one-shot requests.

The entry point monkey-patches gevent before it imports anything that could touch a
socket, so it imports only the standard library at module level; the server, proxy and
REPL are imported after patching, inside the functions that need them.
"""

from .command import main

__all__ = ["main"]
