"""``Application``: routes to Resource classes, one instance per request; a plain WSGI app.

Per request: route, build the Resource (``__new__``, set request/response/path_params,
then ``__init__()``), run the flow, run ``finish_request()``, then turn the response into
WSGI: bodiless statuses lose their body headers, errors get a generic body, and the body
is charset-converted and content-coded as it streams (encoding.py).

A callback that raises gets ``handle_exception(exc)`` and a 500 whose body never holds
the exception: the traceback goes to the ``greenhttp.resource`` logger only.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable

import greenhttp
from greenhttp import status_line

from .encoding import STREAMING, Coder, close_source, encode_body, per_chunk
from .flow import Flow
from .request import Request, Response
from .resource import Halt, Resource
from .trace import DEFAULT_STORE, TRACE_HEADER, Trace, Traces

logger = logging.getLogger("greenhttp.resource")

StartResponse = Callable[..., Any]
_PARAM = re.compile(r"\{(\w+)(:path)?\}")
#: RFC 9110 §8.6 / §15.3.5 / §15.4.5: these carry no content, so no content headers.
_BODILESS = (204, 304)


def compile_route(pattern: str) -> re.Pattern[str]:
    """``/items/{id}`` → a regex: ``{name}`` is one non-empty segment, ``{name:path}`` the rest."""
    out, pos = [], 0
    for match in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[pos:match.start()]))
        out.append(f"(?P<{match.group(1)}>{'.+' if match.group(2) else '[^/]+'})")
        pos = match.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out) + r"\Z")


def generic_body(status: int) -> bytes:
    return f"{status_line(status)}\n".encode()


def _plain(status: int, start_response: StartResponse) -> list[bytes]:
    """The application's own short answer (no route: 404; a failing guard: 500)."""
    body = generic_body(status)
    start_response(status_line(status), [("Content-Type", "text/plain; charset=utf-8"),
                                         ("Content-Length", str(len(body)))])
    return [body]


#: A route guard: called with the request (path parameters bound) of a request whose path
#: matched; False passes the request on to the next route (webmachine-ruby's route guards).
Guard = Callable[[Request], bool]


class Application:
    """``Application(routes=[("/items/{id}", ItemResource), ...])``: a WSGI app. A route may
    carry a guard as a third item: ``("/items", JSONItems, lambda request: ...)``."""

    def __init__(self, routes: Iterable[tuple[Any, ...]] = (),
                 traces: Traces | None = None) -> None:
        self.routes: list[tuple[re.Pattern[str], type[Resource], Guard | None]] = []
        self.traces = traces if traces is not None else DEFAULT_STORE
        for route in routes:
            self.add_route(*route)

    def add_route(self, pattern: str, resource: type[Resource], guard: Guard | None = None) -> None:
        """Route ``pattern`` to ``resource``; with ``guard``, only requests it accepts."""
        self.routes.append((compile_route(pattern), resource, guard))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # PEP 3333: PATH_INFO is percent-decoded bytes as latin-1; paths are UTF-8.
        raw = environ.get("PATH_INFO", "") or "/"
        try:
            path = raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            path = raw
        for regex, resource, guard in self.routes:
            match = regex.match(path)
            if match:
                params = match.groupdict()
                request = None
                if guard is not None:
                    request = Request(environ, params)
                    try:
                        accepted = guard(request)
                    except Exception:
                        # Our side's fault, like a failing callback: a generic 500, the
                        # traceback in the log only.
                        logger.exception("%s %s: exception in a route guard", request.method, request.path)
                        return _plain(500, start_response)
                    if not accepted:
                        continue
                environ["greenhttp.resource.application"] = self
                return self.serve(resource, environ, start_response, params, request)
        return _plain(404, start_response)
    def serve(self, cls: type[Resource], environ: dict[str, Any], start_response: StartResponse,
              path_params: dict[str, str], request: Request | None = None) -> Iterable[bytes]:
        if request is None:
            request = Request(environ, path_params)
        response = Response()
        resource = cls.__new__(cls)
        resource.request, resource.response, resource.path_params = request, response, path_params
        flow = Flow(resource, request, response)
        try:
            cls.__init__(resource)  # Ruby's Resource.new: __init__ may read self.request
            if resource.trace():
                flow.trace = Trace(request.method, request.url, request.headers)
                request.body = environ["greenhttp.body"] = flow.trace.tee(request.body)
            status = flow.run()
        except Exception as exc:
            status = self.failed(flow, exc)
        try:
            flow.call_quiet("finish_request", resource.finish_request)
        except Exception as exc:
            status = self.failed(flow, exc)
        status, headers, body, fixed = finish(flow, status, environ)
        if flow.trace is not None:
            headers.append((TRACE_HEADER, flow.trace.id))
            flow.trace.finish(status, headers, fixed)
            self.traces.add(flow.trace)
        environ["greenhttp.resource.path"] = flow.path
        start_response(status_line(status), headers)
        return body

    def failed(self, flow: Flow, exc: Exception) -> int:
        """The status for an exception out of the flow (Halt, a 4xx ProtocolError, or 500)."""
        if isinstance(exc, Halt):
            return exc.status
        if isinstance(exc, greenhttp.ProtocolError) and 400 <= exc.status_hint < 500:
            # read_body's 400/413/415 inside an accept handler: the client's fault, said so.
            flow.response.body = f"{status_line(exc.status_hint)}: {exc}\n"
            flow.response.headers.set("Content-Type", "text/plain; charset=utf-8")
            flow.response.headers.remove("Content-Encoding")
            return exc.status_hint
        logger.error("%s %s: exception in a resource callback", flow.request.method, flow.request.path,
                     exc_info=exc)
        flow.response.body = None
        try:
            flow.resource.handle_exception(exc)
        except Exception:
            logger.exception("handle_exception() raised too")
        return 500


def coder_for(flow: Flow) -> Coder | None:
    resource = flow.resource
    if "Content-Encoding" not in flow.response.headers or resource.encoding is None:
        return None
    encoder = flow.encodings().get(resource.encoding)
    if isinstance(encoder, str):
        factory = STREAMING.get(encoder)
        # The built-in names stream, unless the resource class overrides the method.
        if factory is not None and getattr(type(resource), encoder, None) is getattr(Resource, encoder, None):
            return factory()
        encoder = getattr(resource, encoder)
    return per_chunk(encoder) if callable(encoder) else None


def converter_for(flow: Flow) -> Callable[[str], bytes]:
    charset = flow.resource.charset
    if charset:
        convert = dict(flow.charsets()).get(charset)
        if isinstance(convert, str):
            convert = getattr(flow.resource, convert)
        if callable(convert):
            return convert
    return lambda text: text.encode("utf-8")


def finish(flow: Flow, status: int, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], Any, bytes | None]:
    """(status, header list, WSGI body, fixed body or None when streaming)."""
    response = flow.response
    headers = response.headers
    body = response.body
    if status in _BODILESS or status < 200:
        if body is not None:
            close_source(body)
        for name in ("Content-Type", "Content-Length", "Content-Encoding"):
            headers.remove(name)
        if status == 304:
            # RFC 9110 §15.4.5: send what a 200 would have had: ETag, Expires, Vary (kept).
            try:
                etag, modified = flow.etag(), flow.last_modified()
                expires = flow.cached("expires")
            except Exception as exc:  # a broken callback this late: log, still answer 304
                logger.error("validator callback raised while answering 304", exc_info=exc)
                etag = modified = expires = None
            from .conditional import format_http_date

            if etag:
                headers.set("ETag", etag)
            if modified is not None:
                headers.set("Last-Modified", format_http_date(modified))
            if expires is not None:
                headers.set("Expires", format_http_date(expires))
        return status, headers.items(), [], b""
    if body is None or body == b"" or body == "":
        if status >= 400:
            body = generic_body(status)
            headers.set("Content-Type", "text/plain; charset=utf-8")
            headers.remove("Content-Encoding")
            headers.remove("Content-Language")
        else:
            # No content: nothing for Content-Type/-Encoding to describe.
            for name in ("Content-Type", "Content-Encoding"):
                headers.remove(name)
            body = b""
    headers.remove("Content-Length")
    fixed, stream = encode_body(body, converter_for(flow), coder_for(flow), environ.get("wsgi.file_wrapper"))
    head = flow.request.method == "HEAD"
    if fixed is not None:
        headers.set("Content-Length", str(len(fixed)))
        return status, headers.items(), [] if head else [fixed], fixed
    if head:
        close_source(stream)
        return status, headers.items(), [], None
    return status, headers.items(), stream, None
