"""Monkey-patching, said once: the serving worker, the in-process server (--console) and
the client-side verbs (``get``, ``repl``) all patch through :func:`patch_gevent`.

It must run before anything that opens a socket or imports ``ssl`` is imported, so
``time.sleep``, sockets, ``requests`` and DB drivers in the app become cooperative
without the app knowing gevent (gevent warns when ``ssl`` was imported first). The
master process (greenhttp.server.workers) never calls it: it never serves, and the
~27 MiB that patching costs would be counted in it and, through copy-on-write, in
every worker it forks.
"""

from __future__ import annotations

from ..errors import CLIError


def patch_gevent() -> None:
    from gevent import monkey

    monkey.patch_all()
    import socket
    import time

    import gevent
    import gevent.socket

    # Check that it took: an app importing "socket" or "time" must get the cooperative ones.
    if socket.socket is not gevent.socket.socket or time.sleep is not gevent.sleep:
        raise CLIError("gevent monkey-patching did not take effect")
