"""The ``greenhttp`` command.

``greenhttp APP`` serves a WSGI app; other verbs (``proxy``, ``repl``, ``get``...)
are subcommands registered in :data:`SUBCOMMANDS` and imported only when used.

``greenhttp APP`` and ``greenhttp proxy`` run a master that never patches nor imports
gevent (greenhttp.server.workers): each worker patches right after the fork, before it
imports the serving stack and the app. The other verbs (``get``, ``repl``) patch first
thing here, before their modules are imported (greenhttp.server.patching says why).
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

from ..errors import CLIError, UsageError  # noqa: F401  (CLIError: importable from here)

#: verb -> "module:function". The function takes the whole argv, verb first, and returns
#: an exit status. Modules are imported only when their verb is used.
SUBCOMMANDS: dict[str, str] = {
    "proxy": "greenhttp.cli.proxy:main",
    "repl": "greenhttp.repl.shell:main",
    **{method: "greenhttp.repl.shell:oneshot_main"
       for method in ("get", "post", "put", "patch", "delete", "head", "options")},
}

#: Verbs that run the workers' master: patching is the workers' business, not ours.
MASTER_VERBS = frozenset({"proxy"})

PROG = "greenhttp"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            if argv[0] not in MASTER_VERBS:
                from ..server.patching import patch_gevent

                patch_gevent()
            module_name, _, function = SUBCOMMANDS[argv[0]].partition(":")
            command = getattr(importlib.import_module(module_name), function)
            return int(command(argv) or 0)
        from .serve import serve_main  # patches only for --console (one process, no master)

        return serve_main(argv)
    except UsageError as exc:  # CLIError, AppLoadError, the REPL's: the user's input, one line
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
