"""Calling an app or handler object without a C-level frame.

CPython 3.11 runs the frame of a Python function, or of a bound method, inside its
caller's evaluation loop. Calling an *instance* whose class defines ``__call__`` goes
through C instead (``slot_tp_call``) and starts a fresh evaluation loop on the C stack.
Under gevent that depth is paid at every greenlet switch made below the call: greenlet
copies the switching greenlet's C stack out to the heap and back. WSGI apps are often
such instances (Flask, every middleware class, greenhttp's own ``ProxyHeaders`` and
WSGI adapter), and an app that blocks (a database call, ``time.sleep``) switches from
inside them, so the server calls apps and handlers through :func:`direct_call`.
Measured with ``benchmarks/cpu_ab.py`` (docs/benchmarks.md): server CPU per request
0.85-0.94x for the 1,000-connection blocking scenario, 0.94x for hello.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Callable


def direct_call(target: Callable[..., Any]) -> Callable[..., Any]:
    """``target``'s ``__call__`` bound to it when that is a Python function, else
    ``target`` itself: the same call, one C frame shallower. Resolved once per
    connection, so the class lookup is cached per type."""
    call = _python_call(type(target))  # type: ignore[arg-type]  # classes hash; mypy sees a Callable type
    return types.MethodType(call, target) if call is not None else target


@functools.lru_cache(maxsize=64)
def _python_call(cls: type) -> types.FunctionType | None:
    # The class dictionary's own entry, not getattr: a staticmethod or classmethod
    # __call__ would come back as a plain function and must not be bound to the instance.
    call = next((vars(klass)["__call__"] for klass in cls.__mro__ if "__call__" in vars(klass)), None)
    return call if isinstance(call, types.FunctionType) else None
