"""The ``greenhttp`` command.

``greenhttp APP`` serves a WSGI app; other verbs (``proxy``, ``repl``, ``get``...)
are subcommands registered in :data:`SUBCOMMANDS` and imported only when used.

Monkey-patching happens first thing in :func:`main`, before the app (or anything
that might import ``ssl``) is imported, so ``time.sleep``, sockets, ``requests``
and DB drivers in the app become cooperative without the app knowing gevent.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

from ..errors import CLIError, UsageError

#: verb -> "module:function". The function takes the whole argv, verb first, and returns
#: an exit status. Modules are imported only when their verb is used.
SUBCOMMANDS: dict[str, str] = {
    "proxy": "greenhttp.cli.proxy:main",
    "repl": "greenhttp.repl.shell:main",
    **{method: "greenhttp.repl.shell:oneshot_main"
       for method in ("get", "post", "put", "patch", "delete", "head", "options")},
}

PROG = "greenhttp"


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



def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        patch_gevent()
        if argv and argv[0] in SUBCOMMANDS:
            module_name, _, function = SUBCOMMANDS[argv[0]].partition(":")
            command = getattr(importlib.import_module(module_name), function)
            return int(command(argv) or 0)
        from .serve import serve_main  # after patching: it leads to the server and the app

        return serve_main(argv)
    except UsageError as exc:  # CLIError, AppLoadError, the REPL's: the user's input, one line
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
