"""greenhttp.resource: webmachine's resource model and decision graph for WSGI (RFC 9110).

Owns: the decision table (graph), its interpreter (flow, decisions), negotiation
(conneg), preconditions (conditional), response bodies and content codings (encoding),
routing (app), and the visual debugger (trace, debugger).

May import: the standard library, the public ``greenhttp`` package, and
``greenhttp.codecs`` in representations.py only. Nothing in greenhttp imports it.

    from greenhttp.resource import Resource, Application
    app = Application(routes=[("/items/{id}", ItemResource), ("/items", ItemsResource)])
"""

from .app import Application
from .conditional import weak_etag
from .debugger import TraceResource
from .encoding import available_encodings
from .graph import NODES, Node
from .request import Request, Response
from .resource import Halt, Resource
from .trace import DEFAULT_STORE, FileTraceStore, Trace, TraceStore

__all__ = ["Resource", "Application", "Halt", "Request", "Response", "weak_etag", "available_encodings",
           "TraceResource", "Trace", "TraceStore", "FileTraceStore", "DEFAULT_STORE", "NODES", "Node"]
