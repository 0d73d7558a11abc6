"""Mount static directories beside an app: ``/PREFIX=DIR`` specs, prefix dispatch.

``build_static_app`` is everything ``greenhttp DIR`` and ``--static`` need, so the CLI
only calls it.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from greenhttp import status_line
from .files import Files

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def parse_mount(spec: str) -> tuple[str, str]:
    """``"/PREFIX=DIR"`` -> (normalised prefix, directory). Raises ValueError."""
    prefix, eq, directory = spec.partition("=")
    if not eq or not prefix.startswith("/") or not directory:
        raise ValueError(f"expected /PREFIX=DIR, got {spec!r}")
    if not os.path.isdir(directory):
        raise ValueError(f"not a directory: {directory!r} (in {spec!r})")
    return prefix.rstrip("/"), directory


def is_static_dir(spec: str) -> bool:
    """Whether ``greenhttp SPEC`` means "serve this directory": an existing directory that
    is not a Python package (``greenhttp mypkg`` keeps importing ``mypkg``), or any
    directory written as ``.`` or with a trailing slash (``greenhttp mypkg/``)."""
    if not os.path.isdir(spec):
        return False
    return spec.endswith("/") or spec == "." or not os.path.isfile(os.path.join(spec, "__init__.py"))


def mount(mounts: Mapping[str, WSGIApp], fallback: Optional[WSGIApp] = None) -> WSGIApp:
    """A WSGI app sending ``/PREFIX`` and ``/PREFIX/...`` to ``mounts[PREFIX]`` (longest
    prefix wins; its SCRIPT_NAME grows by PREFIX, PATH_INFO keeps the rest) and every
    other path to ``fallback`` (404 if None)."""
    table = sorted(((p.rstrip("/"), app) for p, app in mounts.items()), key=lambda m: -len(m[0]))

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, app in table:
            if path == prefix or path.startswith(prefix + "/") or not prefix:
                environ = dict(environ)
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = path[len(prefix):]
                return app(environ, start_response)
        if fallback is not None:
            return fallback(environ, start_response)
        body = b"404 Not Found\n"
        start_response(status_line(404), [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(body)))])
        return [body]

    return dispatch


def parse_cache_control(spec: str) -> tuple[str, str]:
    """``"/PREFIX=VALUE"`` -> (normalised prefix, Cache-Control value). Raises ValueError."""
    prefix, eq, value = spec.partition("=")
    if not eq or not prefix.startswith("/") or not value.strip():
        raise ValueError(f"expected /PREFIX=VALUE, got {spec!r}")
    return prefix.rstrip("/"), value.strip()


def build_static_app(app: Optional[WSGIApp], mounts: Sequence[str] = (),
                     listings: Optional[bool] = None, directory: Optional[str] = None,
                     cache_control: Optional[str] = None,
                     cache_controls: Sequence[str] = ()) -> WSGIApp:
    """The app ``greenhttp`` serves.

    ``directory`` (``greenhttp DIR``): serve it at ``/``, listings on unless
    ``listings`` is False. ``mounts`` (``--static /PREFIX=DIR``, repeatable): serve each
    beside ``app``, listings off unless ``listings`` is True (a mount sits beside an
    app, where exposing a directory's contents is rarely meant). Raises ValueError
    for a bad mount spec. With no directory and no mounts, returns ``app`` as it is.
    ``cache_control`` applies to every mount; ``cache_controls`` (``--static-cache-control
    /PREFIX=VALUE``) to the mount at PREFIX (``/``: the directory), and must name one.
    """
    per_prefix = dict(parse_cache_control(spec) for spec in cache_controls)
    table: dict[str, WSGIApp] = {}
    for spec in mounts:
        prefix, path = parse_mount(spec)
        table[prefix] = Files(path, listings=bool(listings),
                              cache_control=per_prefix.pop(prefix, cache_control))
    if directory is not None:
        root = Files(directory, listings=listings is not False,
                     cache_control=per_prefix.pop("", cache_control))
        if not table:
            return root
        table.setdefault("", root)
    if per_prefix:
        unknown = ", ".join(p or "/" for p in per_prefix)
        raise ValueError(f"--static-cache-control for {unknown}: no static mount there")
    if app is None and not table:
        raise ValueError("nothing to serve")
    if not table:
        assert app is not None
        return app
    return mount(table, app)


__all__ = ["parse_mount", "parse_cache_control", "mount", "build_static_app", "is_static_dir"]
