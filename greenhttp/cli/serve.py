"""``greenhttp APP``: its parser, and running a server until SIGTERM/SIGINT (also the proxy's)."""

from __future__ import annotations

import argparse
import logging
from typing import Any, Callable, Sequence

from .apps import static_or_app
from .command import PROG, SUBCOMMANDS
from ..settings import scoped
from .logs import configure
from .options import ArgumentParser, add_server_options, add_setting_options, config_from_args

def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = ArgumentParser(
        prog=PROG,
        description="Serve a WSGI app with greenhttp (one greenlet per connection).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other commands: " + (", ".join(sorted(SUBCOMMANDS)) or "none")
        + f". Run '{PROG} COMMAND --help' for theirs.\nSettings may also come from "
        "GREENHTTP_<NAME> environment variables (e.g. GREENHTTP_PORT).\n\nExamples:\n"
        "  greenhttp app.py                         127.0.0.1:8080, one worker\n"
        "  greenhttp 'pkg.web:create_app()' -w auto -b 0.0.0.0:8000\n"
        "  greenhttp mysite/wsgi.py -b unix:/run/mysite.sock --forwarded-allow-ips '*'\n"
        "  greenhttp app.py --certfile cert.pem --keyfile key.pem -b :8443\n"
        "  greenhttp app.py --reload                restart on source changes\n"
        "  greenhttp public/                        serve a directory's files\n"
        "  greenhttp get https://example.com/       one request (see also: proxy, repl)",
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
    if not args.console:
        from .production import run

        # The master binds and never patches; each worker process patches, then loads the
        # app itself (so HUP re-imports it).
        return run(args.app, config, lambda spec: _behind_proxies(static_or_app(spec, config), config))
    from ..server.patching import patch_gevent

    patch_gevent()  # one process, no master: patch before the app and the server are imported
    app = static_or_app(args.app, config)

    def open_console(server: Any) -> None:
        from .console import start_console

        start_console(server, app)

    return run_server(_behind_proxies(app, config), config, on_started=open_console)


def _behind_proxies(app: Any, config: Any) -> Any:
    """The app behind the trusted-proxy-headers and root-path middleware."""
    from ..server.forwarded import ProxyHeaders

    return ProxyHeaders(app, config.forwarded_allow_ips, config.root_path)


def run_server(app: Any, config: Any, on_started: Callable[[Any], None] | None = None,
               handler: Any = None) -> int:
    """In this process (no workers: ``--console``): listen where -b says, print the URL,
    serve until SIGTERM/SIGINT, then stop gracefully."""
    import signal

    import gevent

    from ..server.listener import Server
    from .production import bind_listeners, tls_context

    configure(config)
    if config.progress_store:  # else nothing to share in one process: not even imported
        from ..progress.stores import configure as configure_progress

        configure_progress(config.progress_store)
    tls = tls_context(config)
    listeners, _ = bind_listeners(config)
    server = Server(app, config, handler=handler, listeners=listeners, tls=tls)
    server.start()

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
