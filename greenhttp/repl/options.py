"""What the REPL's ``set`` changes, each option with its parser and its display."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import ReplError
from .items import FORMATS


class Options:
    """What ``set`` changes, each with its parser: declared once, shown by ``set`` and ``env``."""

    def __init__(self) -> None:
        self.timeout: float | None = 30.0
        self.follow = True
        self.format = "json"
        self.verify = True

    def set(self, name: str, value: str) -> None:
        name = name.replace("-", "_")
        if name not in OPTION_PARSERS:
            raise ReplError(f"unknown option {name!r} (options: {', '.join(OPTION_PARSERS)})")
        setattr(self, name, OPTION_PARSERS[name][0](value))

    def lines(self) -> list[str]:
        return [f"set {name} {OPTION_PARSERS[name][1](getattr(self, name))}" for name in OPTION_PARSERS]


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("on", "yes", "true", "1"):
        return True
    if lowered in ("off", "no", "false", "0"):
        return False
    raise ReplError(f"expected on or off, got {text!r}")


def _parse_timeout(text: str) -> float | None:
    if text.lower() in ("none", "off", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise ReplError(f"expected seconds or 'none', got {text!r}") from None
    if value < 0:
        raise ReplError("a timeout cannot be negative")
    return value


def _parse_format(text: str) -> str:
    if text not in FORMATS:
        raise ReplError(f"unknown body format {text!r} (one of {', '.join(FORMATS)})")
    return text


def _show_bool(value: bool) -> str:
    return "on" if value else "off"


#: option -> (parse, show, help)
OPTION_PARSERS: dict[str, tuple[Callable[[str], Any], Callable[[Any], str], str]] = {
    "timeout": (_parse_timeout, lambda v: "none" if v is None else f"{v:g}",
                "seconds to wait for connect and for each read (none: wait forever)"),
    "follow": (_parse_bool, _show_bool, "follow redirects (on/off)"),
    "format": (_parse_format, str, "how data fields are sent: json, msgpack or form"),
    "verify": (_parse_bool, _show_bool, "verify TLS certificates (on/off)"),
}


