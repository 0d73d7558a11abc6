"""``greenhttp repl``: an interactive HTTP shell; ``greenhttp get URL ...``: one request.

Theory of operation
-------------------
A :class:`Session` holds everything a shell session carries from one command to
the next: the current URL (``cd``), sticky request items, options (``set``), one
:class:`~greenhttp.Client` over one :class:`~greenhttp.Pool` (so keep-alive reuse
across commands is real and ``stats`` shows it), the last request (for ``curl``)
and the paths seen (for completion). Commands are a table, :data:`COMMANDS`; a
line whose first word is no command and whose words are all request items sets
sticky items.

Every request is sent with ``stream=True``: the head is printed as soon as it
arrives and the body as :mod:`._repl_format` decides (whole and pretty, or chunk by
chunk). While a request runs the terminal is in cooked mode, so Ctrl-C is SIGINT;
gevent raises it as ``KeyboardInterrupt`` in the main greenlet wherever that
greenlet waits, and the request is abandoned (its connection closed, its pool slot
freed) and the prompt comes back.

prompt_toolkit, pygments and tqdm are imported here, inside functions: this
module is imported only for the ``repl`` and method verbs, never by ``greenhttp APP``.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, NamedTuple, Sequence
from urllib.parse import urlsplit

from ..errors import GreenHTTPError, ReplError, UsageError
from .format import (
    PRETTY_LIMIT,
    Printer,
    StreamWriter,
    human_size,
    human_time,
    kind_of,
    looks_binary,
    media_type,
)
from .items import (
    Item,
    RequestSpec,
    add_sticky,
    build_request,
    is_item,
    merge,
    parse_items,
    split_line,
)
from .options import Options
from .urls import is_target, join_url, normalize_url

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
# Text with a Content-Length up to this is read whole and highlighted; longer text,
# and text without a length, is written as it arrives.
HIGHLIGHT_LIMIT = 1024 * 1024
# Request header names offered by completion, besides those typed before.
COMMON_HEADERS = (
    "Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
    "Content-Type", "Cookie", "Idempotency-Key", "If-Match", "If-Modified-Since",
    "If-None-Match", "Origin", "Range", "Referer", "User-Agent", "X-Request-ID",
    "X-Forwarded-For",
)


class Outcome(NamedTuple):
    status: int | None  # None: no response (error or interrupted)
    error: BaseException | None = None


class Session:
    """One shell session: URL, sticky items, options, one client and one pool."""

    def __init__(self, base_url: str | None, out: IO[str] | None = None, color: bool = False,
                 err: IO[str] | None = None) -> None:
        from ..client import Client
        from ..client.pool import Pool
        from ..client.transport import connect

        self.base_url = normalize_url(base_url) if base_url else "http://localhost:8080/"
        self.url = self.base_url
        self.sticky: list[Item] = []
        self.options = Options()
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.printer = Printer(self.out, color)
        self.last: RequestSpec | None = None
        self.seen_paths: set[str] = set()
        self.header_names: set[str] = set(COMMON_HEADERS)
        self.requests = 0
        self.connections_opened = 0
        self.history: Any = None  # a prompt_toolkit History, set by the interactive loop
        self.body_only = False
        #: False: the response body is not shown (``--print h``); it is still closed.
        self.show_response_body = True
        self.show_timing = True
        self.running = True
        #: one-shot mode: a binary stream for the body's bytes as they are (stdout not a
        #: terminal), the file to save it to ("" names it from the response), the
        #: ``auth=`` of every request, and whether the request head is shown (``-v``).
        self.raw_out: IO[bytes] | None = None
        self.save_to: str | None = None
        self.auth: Any = None
        self.verbose = False

        def counting_connect(*args: Any, **kwargs: Any) -> Any:
            stream = connect(*args, **kwargs)
            self.connections_opened += 1
            return stream

        # Ctrl-C while the hub waits reaches us as KeyboardInterrupt in the main
        # greenlet; by default the hub also prints it as if it were a crash.
        import gevent

        hub = gevent.get_hub()
        if KeyboardInterrupt not in hub.NOT_ERROR:
            hub.NOT_ERROR = (*hub.NOT_ERROR, KeyboardInterrupt)

        # One pool for the session: every command reuses its warm connections.
        self.pool = Pool(connector=counting_connect)
        self.client = Client(pool=self.pool)

    def close(self) -> None:
        self.client.close()

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- one line

    def execute(self, line: str) -> Outcome | None:
        """Run one line; errors are printed as one line, never raised."""
        line = line.strip()
        if not line or line.startswith("#"):
            return None
        try:
            words = split_line(line)
            if not words:
                return None
            name = words[0].lower()
            if name in METHODS:
                return self.request(name.upper(), words[1:])
            from .commands import COMMANDS  # the commands take a Session: imported once here

            command = COMMANDS.get(name)
            if command is not None:
                command.run(self, words[1:])
                return None
            if all(is_item(word) for word in words):
                for item in parse_items(words):
                    self.sticky = add_sticky(self.sticky, item)
                    if item.group == "header":
                        self.header_names.add(item.name)
                return None
            raise ReplError(f"unknown command {words[0]!r} (type 'help')")
        except (GreenHTTPError, OSError) as exc:
            self.error(exc)
            return Outcome(None, exc)

    def error(self, exc: BaseException) -> None:
        self.err.write(f"error: {describe_error(exc)}\n")
        self.err.flush()

    # -- requests

    def request(self, method: str, words: Sequence[str]) -> Outcome:
        target = ""
        if words and is_target(words[0]):
            target, words = words[0], words[1:]
        url = join_url(self.url, target)
        items = parse_items(words)
        for item in items:
            if item.group == "header":
                self.header_names.add(item.name)
        spec = build_request(method, url, merge(self.sticky, items), self.options.format)
        self.last = spec
        return self.send(spec)

    def send(self, spec: RequestSpec) -> Outcome:
        kwargs, opened = spec.request_kwargs()
        # A progress bar only where someone watches it: never into a pipe or a log file.
        watched = _is_terminal(self.err)
        progress = UploadProgress(self.err) if watched and spec.body_kind in ("file", "multipart") else None
        download = UploadProgress(self.err, "download") if watched and self.save_to is not None else None
        if self.auth is not None:
            kwargs["auth"] = self.auth
        if self.verbose:
            kwargs["hooks"] = {"request": [self.show_request]}
        opened_before = self.connections_opened
        response = None
        start = time.monotonic()
        self.requests += 1
        try:
            response = self.client.request(
                spec.method, spec.url, stream=True, timeout=self.options.timeout,
                follow_redirects=self.options.follow, verify=self.options.verify,
                progress=progress, download_progress=download, **kwargs)
            head_time = time.monotonic() - start
            if progress is not None:
                progress.close()
            self.seen_paths.add(urlsplit(spec.url).path or "/")
            if not self.body_only:
                self.printer.head(response)
            interrupted = False
            try:
                self.show_body(response)
            except KeyboardInterrupt:
                interrupted = True
            total = time.monotonic() - start
            reused = self.connections_opened == opened_before
            note = "reused connection" if reused else "new connection"
            if interrupted:
                self.timing(f"stopped by Ctrl-C after {human_size(response.body.received)} "
                            f"in {human_time(total)}; the connection was closed")
            else:
                self.timing(f"{response.status} {response.reason} in {human_time(total)} "
                            f"(head {human_time(head_time)}), {human_size(response.body.received)}, {note}")
            return Outcome(response.status)
        except KeyboardInterrupt:
            self.timing("request interrupted by Ctrl-C")
            return Outcome(None, KeyboardInterrupt())
        finally:
            for bar in (progress, download):
                if bar is not None:
                    bar.close()
            for f in opened:
                f.close()
            if response is not None:
                abort(response)

    def timing(self, text: str) -> None:
        if self.show_timing:
            self.err.write(self.printer.dim(f"({text})") + "\n")
            self.err.flush()

    def show_request(self, request: Any) -> None:
        """``-v``: the request head of every hop (redirects and auth rounds too), then a blank line."""
        url = urlsplit(request.url)
        lines = [f"{request.method} {request.target} HTTP/1.1", f"Host: {url.netloc.rpartition('@')[2]}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        self.printer.write(self.printer.highlight("\n".join(lines) + "\n", "http") + "\n")

    def show_body(self, response: Any) -> None:
        """The body, whole and pretty when that is wise, else chunk by chunk as it arrives.

        Into a file (``-o``) or a pipe the body goes as it is, byte for byte (decoded
        from its content coding): what HTTPie does, and what ``> file`` means.
        """
        printer = self.printer
        body = response.body
        if response.method == "HEAD":
            return
        if not self.show_response_body:
            response.close()
            return
        if self.save_to is not None:
            path = self.save_to or download_name(response)
            with open(path, "wb") as f:
                for chunk in body:
                    f.write(chunk)
            self.err.write(f"saved {human_size(body.received)} to {path}\n")
            self.err.flush()
            return
        if self.raw_out is not None:
            if not self.body_only:
                printer.write("\n")
            for chunk in body:
                self.raw_out.write(chunk)
            self.raw_out.flush()
            return
        mime = media_type(response.headers)
        kind = kind_of(mime)
        length = body.length
        if not self.body_only:
            printer.write("\n")
        if kind in ("json", "msgpack") and (length is None or length <= PRETTY_LIMIT):
            data = bytearray()
            for chunk in body:
                data += chunk
                if len(data) > PRETTY_LIMIT:
                    break
            if len(data) <= PRETTY_LIMIT:
                printer.body_bytes(bytes(data), mime)
                return
            self._rest_as_binary(body, len(data), mime)
            return
        if kind == "text" and length is not None and length <= HIGHLIGHT_LIMIT:
            printer.body_bytes(body.read(), mime)
            return
        chunks = iter(body)
        first = next(chunks, b"")
        if not first:
            return
        if kind in ("binary", "msgpack") or (kind == "unknown" and looks_binary(first)):
            self._rest_as_binary(chunks, len(first), mime)
            return
        writer = StreamWriter(printer)
        try:
            writer.feed(first)
            for chunk in chunks:
                writer.feed(chunk)
        finally:
            writer.close()

    def _rest_as_binary(self, chunks: Any, size: int, mime: str) -> None:
        # Read to the end (so the connection can be reused) without keeping anything.
        for chunk in chunks:
            size += len(chunk)
        self.printer.summary(size, mime)

    # -- prompt

    def prompt_text(self) -> str:
        return f"{self.url}> "


def abort(response: Any) -> None:
    """Done with a streamed response: back to the pool if the body ended, else close it.

    ``Response.close()`` drains an unread rest (up to 256 KiB) to keep the connection,
    which on an endless stream would wait for the read timeout; after Ctrl-C we want
    the connection gone at once.
    """
    if response.body.complete:
        response.close()
        return
    response.abort()


def describe_error(exc: BaseException) -> str:
    """One line: what went wrong, in the user's terms."""
    from ..errors import ConnectError, ConnectTimeout, PoolTimeout, ReadTimeout

    message = str(exc) or type(exc).__name__
    if isinstance(exc, UsageError):  # the user's own input: the message says it all
        return message
    for kind, prefix in ((ConnectTimeout, "connect timeout"), (ConnectError, "cannot connect"),
                         (ReadTimeout, "read timeout"), (PoolTimeout, "pool timeout")):
        if isinstance(exc, kind):
            return message if message.lower().startswith(prefix) else f"{prefix}: {message}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename!r}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {message}"


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def download_name(response: Any) -> str:
    """``-d``: the file name from ``Content-Disposition`` (RFC 6266), else the URL's last
    segment, else ``index``; never a path, never an existing file (``name-1``...)."""
    import os
    from email.message import Message

    message = Message()
    message["content-disposition"] = response.headers.get("content-disposition") or ""
    name = message.get_filename() or os.path.basename(urlsplit(response.url).path) or "index"
    name = os.path.basename(name.replace("\\", "/")).lstrip(".") or "index"
    stem, ext = os.path.splitext(name)
    candidate, n = name, 0
    while os.path.exists(candidate):
        n += 1
        candidate = f"{stem}-{n}{ext}"
    return candidate


class UploadProgress:
    """The ``progress=`` callback: a tqdm bar on stderr for the request body.

    tqdm draws with ``\\r`` on the terminal from the calling greenlet: no thread and
    no event loop of its own (``monitor_interval = 0`` turns off its one helper
    thread), which is what a gevent process wants. prompt_toolkit's ProgressBar runs
    a second Application on a background thread, which under monkey-patched threading
    is a greenlet with its own asyncio loop competing with the upload.
    """

    def __init__(self, out: IO[str], desc: str = "upload") -> None:
        self.out = out
        self.desc = desc
        self.bar: Any = None

    def __call__(self, sent: int, total: int | None) -> None:
        if self.bar is None:
            import tqdm

            tqdm.tqdm.monitor_interval = 0
            self.bar = tqdm.tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                 desc=self.desc, file=self.out, leave=True, mininterval=0.1,
                                 dynamic_ncols=True)
        self.bar.update(sent - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


