"""Command-line options from the declared settings, and an argparse that errs in one line.

Each :class:`~greenhttp.settings.Setting` of a scope becomes one option (flags,
validator, help and default from the declaration); :func:`resolve_args` gives each
its value: the flag, else its ``GREENHTTP_*`` variable, else its default.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, NoReturn, Sequence

from ..errors import CLIError

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

    def error(self, message: str) -> "NoReturn":
        self.exit(2, f"{self.prog}: error: {message}{hint_for(message)} (see '{self.prog} --help')\n")


#: gunicorn flags greenhttp does not take, and what to do instead.
GUNICORN_HINTS = {
    "--worker-class": "greenhttp always uses gevent greenlets; drop the flag",
    "-k": "greenhttp always uses gevent greenlets; drop the flag",
    "--threads": "greenhttp serves each connection in a greenlet; drop the flag",
    "--worker-connections": "greenlets are not capped per worker; drop the flag",
    "--preload": "workers import the app after fork so HUP re-imports it; drop the flag",
    "--keep-alive": "use --keepalive-timeout SECONDS",
    "--graceful-timeout": "use --graceful-timeout (same meaning)",
    "--limit-request-line": "use --max-request-line BYTES",
    "--limit-request-field_size": "use --max-header-size BYTES",
    "--limit-request-fields": "use --max-header-count N",
    "--daemon": "run under systemd or a container instead (docs/deploy.md)",
    "-D": "run under systemd or a container instead (docs/deploy.md)",
    "--proxy-allow-from": "use --forwarded-allow-ips",
    "--error-log": "use --error-logfile FILE",
    "--access-log": "use --access-logfile FILE",
}


def hint_for(message: str) -> str:
    """A hint for an 'unrecognized arguments' error naming a gunicorn flag."""
    for word in message.replace(",", " ").split():
        flag = word.split("=", 1)[0]
        if flag in GUNICORN_HINTS:
            return f"; {flag}: {GUNICORN_HINTS[flag]}"
    return ""




def add_setting_options(parser: Any, settings: Sequence[Any]) -> None:
    """One option per setting (its flags, validator, help and default all from the declaration).

    The parsed value is None when the flag was not given, so :func:`resolve_args` can
    tell it from the environment variable and the default.
    """
    for setting in settings:
        flags = [setting.flag, setting.long_flag] if setting.flag else [setting.long_flag]
        if setting.switch:
            parser.add_argument(*flags, dest=setting.name, action="store_true", default=None,
                                help=setting.help)
            continue
        parser.add_argument(*flags, dest=setting.name, type=_setting_type(setting), default=None,
                            metavar=setting.metavar or None, action="append" if setting.repeat else None,
                            help=f"{setting.help} (default: {setting.default})".replace("%", "%%"))


def resolve_args(args: argparse.Namespace, settings: Sequence[Any]) -> dict[str, Any]:
    """Each setting's value: the flag, else its GREENHTTP_* variable, else its default."""
    from ..settings import resolve

    try:
        return resolve(tuple(settings), **{s.name: _arg(args, s) for s in settings})
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _arg(args: argparse.Namespace, setting: Any) -> Any:
    value = getattr(args, setting.name)
    return tuple(value) if setting.repeat and value is not None else value


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The bind/port/limits/timeouts/log options (scope ``server``), shared by every serving verb."""
    from ..settings import scoped

    add_setting_options(parser, scoped("server"))
    parser.add_argument("--no-access-log", action="store_true",
                        help="Do not log one line per request to stderr.")


def config_from_args(args: argparse.Namespace) -> Any:
    """A ServerConfig from the options :func:`add_server_options` added (and GREENHTTP_* variables)."""
    import os

    from ..settings import ServerConfig, scoped

    # The ``app`` settings only where the verb added them (greenhttp APP, not the proxy).
    values = resolve_args(args, [s for s in scoped("server", "app") if hasattr(args, s.name)])
    # -p, else $PORT (greenhttp.server.binding.default_port), so GREENHTTP_PORT counts as -p.
    given = args.port if args.port is not None else (
        values["port"] if "GREENHTTP_PORT" in os.environ else None)
    return ServerConfig(**values, access_log=not args.no_access_log, port_given=given)


