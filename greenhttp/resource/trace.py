"""Trace records for the visual debugger, and the bounded store that keeps them.

A :class:`Trace` is filled in by the flow when a resource's ``trace()`` is true: the
request (method, path, headers, the first 4 KiB of the body as the resource reads it),
every node visited, every callback call (name, defining class, source file:line, result
repr or exception), and the response. :class:`TraceStore` keeps the newest ``maxsize``
in memory (LRU), so leaving tracing on cannot grow the process without bound.
:class:`FileTraceStore` keeps them as JSON files in a directory, for several worker
processes (a trace recorded by one is seen through the debugger of any other) and to
keep them across restarts; also bounded (webmachine-ruby's file trace store).
"""

from __future__ import annotations

import collections
import inspect
import json
import os
import re
import secrets
import tempfile
import time
import traceback
from typing import Any, Callable, Iterator

from greenhttp import Body, Headers

PREVIEW = 4096
TRACE_HEADER = "X-Greenhttp-Trace-Id"
_MISSING = object()


def _where(function: Callable[..., Any]) -> str:
    target = inspect.unwrap(getattr(function, "__func__", function))
    try:
        path = inspect.getsourcefile(target) or "?"
        line = inspect.getsourcelines(target)[1]
    except (TypeError, OSError):
        return "?"
    return f"{path}:{line}"


def _owner(resource: Any, name: str, function: Callable[..., Any]) -> str:
    if getattr(function, "__self__", None) is not resource:
        return getattr(function, "__qualname__", type(function).__name__)
    for cls in type(resource).__mro__:
        if name in vars(cls):
            return "(default)" if cls.__module__ == "greenhttp.resource.resource" else cls.__qualname__
    return "?"


def _short_repr(value: Any, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Trace:
    def __init__(self, method: str, path: str, headers: Headers) -> None:
        self.id = secrets.token_hex(8)
        self.started = time.time()
        self.request: dict[str, Any] = {"method": method, "path": path, "headers": headers.items(), "body": ""}
        self.nodes: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.response: dict[str, Any] = {}
        self._body = bytearray()

    def tee(self, body: Body) -> Body:
        """A Body that hands on ``body``'s chunks and keeps the first 4 KiB for the trace."""
        chunks = iter(body)

        def pull() -> bytes | None:
            chunk = next(chunks, None)
            if chunk is not None and len(self._body) < PREVIEW:
                self._body += chunk[:PREVIEW - len(self._body)]
                self.request["body"] = self._body.decode("utf-8", "replace")
            return chunk

        return Body(pull, body.length)

    def node(self, node_id: str) -> None:
        self.nodes.append(node_id)

    def call(self, resource: Any, name: str, function: Callable[..., Any], value: Any = _MISSING,
             error: BaseException | None = None) -> None:
        entry: dict[str, Any] = {
            "node": self.nodes[-1] if self.nodes else None,
            "name": name,
            "owner": _owner(resource, name, function),
            "source": _where(function),
        }
        if error is not None:
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = "".join(traceback.format_exception(error))
        else:
            entry["result"] = _short_repr(value)
        self.calls.append(entry)

    def finish(self, status: int, headers: list[tuple[str, str]], body: bytes | None) -> None:
        preview = "(streaming body)" if body is None else body[:PREVIEW].decode("utf-8", "replace")
        self.response = {"status": status, "headers": headers, "body": preview}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "started": self.started, "request": self.request, "nodes": self.nodes,
                "calls": self.calls, "response": self.response}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trace":
        """A finished trace back from :meth:`to_dict` (as :class:`FileTraceStore` keeps it)."""
        trace = cls.__new__(cls)
        trace.id, trace.started = data["id"], data["started"]
        trace.request, trace.nodes = data["request"], data["nodes"]
        trace.calls, trace.response = data["calls"], data["response"]
        trace._body = bytearray()
        return trace


class TraceStore:
    """The newest ``maxsize`` traces, by id; reading one makes it newest (LRU)."""

    def __init__(self, maxsize: int = 100) -> None:
        self.maxsize = maxsize
        self._traces: collections.OrderedDict[str, Trace] = collections.OrderedDict()

    def add(self, trace: Trace) -> None:
        self._traces[trace.id] = trace
        self._traces.move_to_end(trace.id)
        while len(self._traces) > self.maxsize:
            self._traces.popitem(last=False)

    def get(self, trace_id: str) -> Trace | None:
        trace = self._traces.get(trace_id)
        if trace is not None:
            self._traces.move_to_end(trace_id)
        return trace

    def __iter__(self) -> Iterator[Trace]:
        """Newest first."""
        return iter(reversed(list(self._traces.values())))

    def __len__(self) -> int:
        return len(self._traces)

    def clear(self) -> None:
        self._traces.clear()


#: What a trace id looks like (secrets.token_hex(8)): the only names a file store opens.
_TRACE_ID = re.compile(r"[0-9a-f]{16}")
#: A trace file: its start time in nanoseconds (so that names sort oldest first, whatever
#: the file system's timestamp granularity), then its id.
_TRACE_FILE = re.compile(r"(\d{20})-([0-9a-f]{16})\.json")


class FileTraceStore:
    """The newest ``maxsize`` traces as JSON files in ``directory`` (created if missing),
    shared by every process that points at it. The oldest started go first; reading one
    does not make it newer (unlike :class:`TraceStore`'s LRU), so that a reader never
    writes. Ids that are not trace ids are never looked up."""

    def __init__(self, directory: str, maxsize: int = 100) -> None:
        self.directory = directory
        self.maxsize = maxsize
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def _names(self) -> list[str]:
        """Trace file names, oldest first."""
        return sorted(name for name in os.listdir(self.directory) if _TRACE_FILE.fullmatch(name))

    def add(self, trace: Trace) -> None:
        # Written whole, then renamed: another process never reads half a trace.
        fd, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(trace.to_dict(), f)
        name = f"{int(trace.started * 1e9):020d}-{trace.id}.json"
        os.replace(temporary, os.path.join(self.directory, name))
        names = self._names()
        for old in names[:max(0, len(names) - self.maxsize)]:
            self._remove(old)

    def _remove(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.directory, name))
        except FileNotFoundError:  # another process removed it first
            pass

    def _load(self, name: str) -> Trace | None:
        try:
            with open(os.path.join(self.directory, name)) as f:
                return Trace.from_dict(json.load(f))
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def get(self, trace_id: str) -> Trace | None:
        if not _TRACE_ID.fullmatch(trace_id):
            return None
        suffix = f"-{trace_id}.json"
        for name in self._names():
            if name.endswith(suffix):
                return self._load(name)
        return None

    def __iter__(self) -> Iterator[Trace]:
        """Newest first."""
        for name in reversed(self._names()):
            trace = self._load(name)
            if trace is not None:
                yield trace

    def __len__(self) -> int:
        return len(self._names())

    def clear(self) -> None:
        for name in self._names():
            self._remove(name)


#: What an Application's ``traces=`` and the debugger take.
Traces = TraceStore | FileTraceStore

#: The store an :class:`~greenhttp.resource.Application` uses unless given its own.
DEFAULT_STORE = TraceStore()
