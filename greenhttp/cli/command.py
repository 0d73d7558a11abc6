"""The ``greenhttp`` command.

``greenhttp APP`` serves a WSGI app; other verbs (``proxy``, ``repl``, ``get``...)
are subcommands registered in :data:`SUBCOMMANDS` and imported only when used.

Monkey-patching happens first thing in :func:`main`, before the app (or anything
that might import ``ssl``) is imported, so ``time.sleep``, sockets, ``requests``
and DB drivers in the app become cooperative without the app knowing gevent.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from typing import Any, Callable, NoReturn, Sequence

from ..errors import AppLoadError, CLIError

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


def _setting_type(setting: Any) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return setting.type(text)
        except ValueError as exc:
            detail = str(exc) if "must" in str(exc) else f"expected {setting.type.__name__.strip('_').replace('_', ' ')}"
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: {detail}") from None
    convert.__name__ = setting.name
    return convert


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr, not a usage dump."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        from .production import hint_for

        self.exit(2, f"{self.prog}: error: {message}{hint_for(message)} (see '{self.prog} --help')\n")


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
        "  greenhttp get https://example.com/       one request (see also: proxy, repl)",
    )
    parser.add_argument("app", metavar="APP",
                        help="path/to/app.py (its 'app', else 'application'), path/to/app.py:name, "
                             "or package.module:name")
    add_server_options(parser)
    parser.add_argument("--console", action="store_true",
                        help="Also open a Python prompt in the serving process (app, server and "
                             "live stats in scope); serving goes on while it waits for input.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The bind/port/limits/timeouts/log options of :data:`SETTINGS`, shared by every serving verb."""
    from ..settings import SETTINGS

    for setting in SETTINGS:
        flags = [setting.cli_flag]
        if setting.flag:
            flags.append("--" + setting.name.replace("_", "-"))
        default_text = setting.default
        if setting.action == "store_true":
            parser.add_argument(*flags, dest=setting.name, action="store_true", default=None,
                                help=setting.help.replace("%", "%%"))
            continue
        parser.add_argument(*flags, dest=setting.name, type=_setting_type(setting), default=None,
                            metavar=setting.metavar or None, action=setting.action or "store",
                            help=f"{setting.help} (default: {default_text})".replace("%", "%%"))
    parser.add_argument("--no-access-log", action="store_true",
                        help="Do not log one line per request to stderr.")


def config_from_args(args: argparse.Namespace) -> Any:
    """A ServerConfig from the options :func:`add_server_options` added (and GREENHTTP_* variables)."""
    from ..settings import SETTINGS, ServerConfig

    try:
        config = ServerConfig.from_environ(
            **{s.name: getattr(args, s.name) for s in SETTINGS},
            access_log=not args.no_access_log)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    # -p, else $PORT, else 8080 (greenhttp.server.binding.default_port)
    config.port_given = args.port if args.port is not None else (  # type: ignore[attr-defined]
        config.port if "GREENHTTP_PORT" in os.environ else None)
    return config


def load_app(spec: str) -> Callable[..., Any]:
    """Resolve ``path/to/app.py[:name]`` or ``package.module[:name]`` to an app object."""
    from .appspec import finish, parse_attr

    target, _, attr_text = spec.partition(":")
    call = parse_attr(attr_text)
    attr = call.name
    if os.getcwd() not in sys.path:
        # As gunicorn does: mysite/wsgi.py can import its project package "mysite".
        sys.path.insert(0, os.getcwd())
    if target.endswith(".py") or os.sep in target or "/" in target:
        module = _load_file(target)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            # Only the module named on the command line (or a parent package) missing is
            # the user's typo; a missing import *inside* the app gets its traceback.
            if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
                raise AppLoadError(f"no module named {exc.name!r} (from {spec!r})") from None
            _report_import_failure(spec)
        except BaseException:
            _report_import_failure(spec)
    names = [attr] if attr else ["app", "application"]
    for name in names:
        obj: Any = module
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if not callable(obj):
            raise AppLoadError(f"{target}:{name} is not callable (it is a {type(obj).__name__})")
        return finish(obj, call, f"{target}:{name}")
    wanted = attr or "'app' or 'application'"
    raise AppLoadError(f"{target} has no attribute {wanted}")


def _load_file(path: str) -> Any:
    if not os.path.isfile(path):
        raise AppLoadError(f"no such file: {path}")
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # so the app can import its siblings
    name = os.path.splitext(os.path.basename(path))[0]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise AppLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        _report_import_failure(path)
    return module


def _report_import_failure(what: str) -> None:
    import traceback

    traceback.print_exc()
    raise AppLoadError(f"failed to import {what} (traceback above)")


def configure_logging(access_log: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("greenhttp.access", "greenhttp.error", "greenhttp.proxy"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    if not access_log:
        logging.getLogger("greenhttp.access").setLevel(logging.WARNING)


def serve_main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(args)
    if not args.console:
        from .production import run

        return run(args.app, config, load_app)
    app = load_app(args.app)

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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        patch_gevent()
        if argv and argv[0] in SUBCOMMANDS:
            module_name, _, function = SUBCOMMANDS[argv[0]].partition(":")
            command = getattr(importlib.import_module(module_name), function)
            return int(command(argv) or 0)
        return serve_main(argv)
    except (CLIError, AppLoadError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
