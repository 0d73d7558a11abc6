"""Finding what the command line names: ``path/to/app.py[:name]``, ``package.module[:name]``,
or a directory to serve (``greenhttp DIR``), with any ``--static`` mounts beside."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any, Callable

from ..errors import AppLoadError, CLIError

def load_app(spec: str) -> Callable[..., Any]:
    """Resolve ``path/to/app.py[:name]`` or ``package.module[:name]`` to an app object;
    ``name`` may be a factory call with literal arguments (greenhttp.cli.appspec)."""
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


def static_or_app(spec: str, config: Any) -> Callable[..., Any]:
    """``greenhttp DIR`` serves files; otherwise APP is loaded. ``--static`` mounts go beside."""
    from ..static import build_static_app, is_static_dir

    directory = spec if is_static_dir(spec) else None
    listings = {"on": True, "off": False}.get(config.listings)
    try:
        return build_static_app(None if directory else load_app(spec), config.static, listings,
                                directory=directory, cache_controls=config.static_cache_control)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


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


