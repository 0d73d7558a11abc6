"""server/calls.py: apps and handlers called one C frame shallower, and otherwise the same."""

from __future__ import annotations

import functools
from typing import Any

from greenhttp.server.calls import direct_call


class Middleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, environ: dict, start_response: Any) -> list[bytes]:
        return [b"mw:" + self.inner(environ, start_response)[0]]


class Sub(Middleware):
    pass


class StaticCall:
    __call__ = staticmethod(lambda environ, start_response: [b"static"])


def app(environ: dict, start_response: Any) -> list[bytes]:
    return [environ["x"]]


def test_instances_with_a_python_call_become_bound_methods() -> None:
    wrapped = Middleware(app)
    call = direct_call(wrapped)
    assert call is not wrapped and call.__self__ is wrapped and call.__func__ is Middleware.__call__
    assert call({"x": b"1"}, None) == wrapped({"x": b"1"}, None) == [b"mw:1"]
    inherited = direct_call(Sub(app))  # __call__ found up the MRO
    assert inherited.__func__ is Middleware.__call__ and inherited({"x": b"2"}, None) == [b"mw:2"]


def test_everything_else_is_called_as_it_is() -> None:
    assert direct_call(app) is app
    assert direct_call(len) is len
    partial = functools.partial(app)
    assert direct_call(partial) is partial  # a C type's __call__
    assert direct_call(Middleware) is Middleware  # a class: type.__call__ builds an instance
    static = StaticCall()
    assert direct_call(static) is static and direct_call(static)({}, None) == [b"static"]
