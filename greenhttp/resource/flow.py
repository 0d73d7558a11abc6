"""The interpreter: walk ``graph.NODES`` from ``START``; ``decisions.DECISIONS[id]`` answers.

Theory of operation. ``Flow.run`` looks up the current node in the table, calls the
function of the same id, and follows ``on_true`` / ``on_false``; an ``int`` — from the
table, from a node function, or from a callback halting — ends the walk with that status.
Node functions hold no control flow beyond computing their one answer, so the graph
cannot drift from the table (a test checks the two key sets are equal).

``Flow`` is the per-request state the node functions share. Callbacks are always called
through :meth:`Flow.call`, which records them for the visual debugger when tracing and
turns an ``int`` result into :class:`Halt`.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Callable

from . import conneg
from .conditional import parse_http_date, quote_etag, whole_seconds
from .graph import NODES, START, Next
from .resource import Halt, Resource

if TYPE_CHECKING:
    from .request import Request, Response
    from .trace import Trace



class Flow:
    def __init__(self, resource: Resource, request: "Request", response: "Response",
                 trace: "Trace | None" = None) -> None:
        self.resource = resource
        self.request = request
        self.response = response
        self.trace = trace
        self.path: list[str] = []
        self.created = False  # P3: a PUT made the resource (RFC 9110 §9.3.4: 201)
        self.if_match_on_missing = False  # H7, judged at I5/N6
        self._cache: dict[str, Any] = {}
        self.condition_date: datetime.datetime | None = None  # H11/L14 → H12/L15/L17

    # -- the interpreter ------------------------------------------------------------------

    def run(self) -> int:
        step: Next = START
        while isinstance(step, str):
            self.path.append(step)
            if self.trace is not None:
                self.trace.node(step)
            node = NODES[step]
            answer = DECISIONS[step](self)
            if type(answer) is int:
                return answer
            step = node.on_true if answer else node.on_false
        return step

    def call(self, name: str, *args: Any) -> Any:
        """Callback ``name``; an int result (not a bool) halts the flow with that status."""
        value = self.call_quiet(name, getattr(self.resource, name), *args)
        if type(value) is int:
            raise Halt(value)
        return value

    def call_quiet(self, name: str, function: Callable[..., Any], *args: Any) -> Any:
        if self.trace is None:
            return function(*args)
        try:
            value = function(*args)
        except BaseException as exc:
            self.trace.call(self.resource, name, function, error=exc)
            raise
        self.trace.call(self.resource, name, function, value)
        return value

    def cached(self, name: str) -> Any:
        """Callbacks whose answer cannot change within a request are asked once."""
        if name not in self._cache:
            self._cache[name] = self.call(name)
        return self._cache[name]

    # -- shared helpers -------------------------------------------------------------------

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def provided(self) -> list[tuple[str, Any]]:
        return list(self.cached("content_types_provided") or [])

    def charsets(self) -> list[tuple[str, Any]]:
        return list(self.cached("charsets_provided") or [])

    def languages(self) -> list[str]:
        return list(self.cached("languages_provided") or [])

    def encodings(self) -> dict[str, Any]:
        return dict(self.cached("encodings_provided") or {})

    def etag(self) -> str | None:
        value = self.cached("generate_etag")
        return quote_etag(value) if value else None

    def last_modified(self) -> datetime.datetime | None:
        value = self.cached("last_modified")
        return whole_seconds(value) if value is not None else None

    def handler(self, handler: Any) -> Any:
        if isinstance(handler, str):
            return self.call_quiet(handler, getattr(self.resource, handler))
        return self.call_quiet(getattr(handler, "__name__", repr(handler)), handler)

    def accept_helper(self) -> int | None:
        """Hand the body to the first content_types_accepted handler matching Content-Type."""
        content_type = self.header("Content-Type") or "application/octet-stream"
        for media_type, handler in self.call("content_types_accepted") or []:
            if conneg.content_type_matches(media_type, content_type):
                result = self.handler(handler)
                if type(result) is int:
                    return result
                return 500 if result is False else None
        return 415

    def set_language(self, tag: str) -> None:
        self.resource.language = tag
        self.response.headers.set("Content-Language", tag)
        self.call("language_chosen")

    def set_encoding(self, coding: str) -> None:
        self.resource.encoding = coding
        if coding.lower() != "identity":
            self.response.headers.set("Content-Encoding", coding)

    def date(self, name: str) -> datetime.datetime | None:
        value = self.header(name)
        return parse_http_date(value) if value is not None else None

    def moved(self, name: str) -> bool:
        location = self.call(name)
        if isinstance(location, str) and location:
            self.response.headers.set("Location", location)
            return True
        return False


from .decisions import DECISIONS  # noqa: E402  (decisions only type-imports Flow)
