"""``greenhttp APP``: its parser, and running a server until SIGTERM/SIGINT (also the proxy's)."""

from __future__ import annotations

import argparse
import logging
from typing import Any, Callable, Sequence

from ..errors import CLIError
from .apps import static_or_app
from .command import PROG, SUBCOMMANDS
from .logs import configure_logging
from ..settings import scoped
from .options import ArgumentParser, add_server_options, add_setting_options, config_from_args

def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = ArgumentParser(
        prog=PROG,
        description="Serve a WSGI app with greenhttp (one greenlet per connection).",
        epilog="Other commands: " + (", ".join(sorted(SUBCOMMANDS)) or "none")
        + f". Run '{PROG} COMMAND --help' for theirs. Settings may also come from "
        "GREENHTTP_<NAME> environment variables (e.g. GREENHTTP_PORT).",
    )
    parser.add_argument("app", metavar="APP",
                        help="path/to/app.py (its 'app', else 'application'), path/to/app.py:name, "
                             "package.module:name, or a directory to serve its files (DIR)")
    add_server_options(parser)
    add_setting_options(parser, scoped("app"))
    parser.add_argument("--console", action="store_true",
                        help="Also open a Python prompt in the serving process (app, server and "
                             "live stats in scope); serving goes on while it waits for input.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser



def serve_main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(args)
    app = static_or_app(args.app, config)

    def open_console(server: Any) -> None:
        from .console import start_console

        start_console(server, app)

    return run_server(app, config, on_started=open_console if args.console else None)


def run_server(app: Any, config: Any, on_started: Callable[[Any], None] | None = None,
               handler: Any = None) -> int:
    """Listen, print the URL, serve until SIGTERM/SIGINT, then stop gracefully."""
    import signal

    import gevent

    from ..server.listener import Server

    configure_logging(config.access_log)
    server = Server(app, config, handler=handler)
    try:
        server.start()
    except OSError as exc:
        raise CLIError(f"cannot listen on {config.bind}:{config.port}: {exc.strerror or exc}") from None

    def shutdown(signum: int) -> None:
        logging.getLogger("greenhttp.error").info(
            "%s received: stopping (grace %ss)", signal.Signals(signum).name, config.graceful_timeout)
        gevent.spawn(server.stop)

    gevent.signal_handler(signal.SIGTERM, shutdown, signal.SIGTERM)
    gevent.signal_handler(signal.SIGINT, shutdown, signal.SIGINT)
    print(server.url, flush=True)
    if on_started is not None:
        on_started(server)
    server.serve_forever()
    return 0
