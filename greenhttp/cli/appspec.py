"""App factories on the command line: ``'pkg.mod:create_app()'``, ``'app:make("prod", debug=False)'``.

Like gunicorn and Flask, the text after ``:`` may be a call. It is parsed with
:mod:`ast` and its arguments with :func:`ast.literal_eval`: only literals (strings,
numbers, tuples, lists, dicts, True/False/None), never code. A factory named
without ``()`` is refused at start with a hint, instead of being served as an app
and answering every request with 500.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from typing import Any

from ..errors import AppLoadError


@dataclass
class AppCall:
    name: str
    called: bool = False
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def parse_attr(text: str) -> AppCall:
    """``create_app("x", n=1)`` -> AppCall("create_app", True, ("x",), {"n": 1})."""
    if "(" not in text:
        return AppCall(text)
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise AppLoadError(f"cannot parse {text!r}: expected name or name(literal arguments)") from None
    if not isinstance(node, ast.Call):
        raise AppLoadError(f"{text!r}: expected name or name(literal arguments)")
    name = _dotted(node.func)
    if name is None:
        raise AppLoadError(f"{text!r}: the factory must be a name, like create_app(...)")
    try:
        args = tuple(ast.literal_eval(arg) for arg in node.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    except ValueError:
        raise AppLoadError(f"{text!r}: factory arguments must be literals "
                           "(strings, numbers, True/False/None, lists, dicts)") from None
    if any(kw.arg is None for kw in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
        raise AppLoadError(f"{text!r}: *args and **kwargs are not supported")
    return AppCall(name, True, args, kwargs)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def finish(obj: Any, call: AppCall, label: str) -> Any:
    """Call the factory if asked to; check the result could be a WSGI app."""
    if call.called:
        try:
            obj = obj(*call.args, **call.kwargs)
        except TypeError as exc:
            raise AppLoadError(f"calling {label}(...) failed: {exc}") from None
        if not callable(obj):
            raise AppLoadError(f"{label}(...) returned {type(obj).__name__}, not a WSGI app")
        return obj
    if _takes_no_arguments(obj):
        raise AppLoadError(f"{label} requires no arguments, so it is not a WSGI app (which takes "
                           f"environ and start_response); if it is an app factory, call it: "
                           f"'{label}()'")
    return obj


def _takes_no_arguments(obj: Any) -> bool:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return False  # a builtin or C callable: cannot tell, assume an app
    required = 0
    for param in signature.parameters.values():
        if param.kind == param.VAR_POSITIONAL:
            return False
        if (param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)
                and param.default is param.empty):
            required += 1
    # A WSGI app requires two (environ, start_response); a factory usually none.
    return required == 0
