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
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")



def add_setting_options(parser: Any, settings: Sequence[Any]) -> None:
    """One option per setting (its flags, validator, help and default all from the declaration).

    The parsed value is None when the flag was not given, so :func:`resolve_args` can
    tell it from the environment variable and the default.
    """
    for setting in settings:
        flags = [setting.flag, setting.long_flag] if setting.flag else [setting.long_flag]
        parser.add_argument(*flags, dest=setting.name, type=_setting_type(setting), default=None,
                            metavar=setting.metavar or None, action="append" if setting.repeat else None,
                            help=f"{setting.help} (default: {setting.default})")


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
    from ..settings import ServerConfig, scoped

    # The ``app`` settings only where the verb added them (greenhttp APP, not the proxy).
    settings = [s for s in scoped("server", "app") if hasattr(args, s.name)]
    return ServerConfig(**resolve_args(args, settings), access_log=not args.no_access_log)


