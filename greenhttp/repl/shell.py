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

import os
import posixpath
import re
import shlex
import sys
import time
from typing import IO, Any, Callable, NamedTuple, Sequence
from urllib.parse import urlsplit, urlunsplit

from ..errors import GreenHTTPError, TimeoutError
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
    FORMATS,
    Item,
    ItemError,
    RequestSpec,
    add_sticky,
    build_request,
    is_item,
    merge,
    parse_items,
    split_line,
    to_curl,
)

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
HISTORY_ENV = "GREENHTTP_REPL_HISTORY"
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


class ReplError(GreenHTTPError):
    """A command used wrongly; printed as one line, the prompt stays."""


# -- URLs ---------------------------------------------------------------------------------------


def normalize_url(text: str) -> str:
    """HTTPie's shorthands: ``:8080/x`` is localhost, a missing scheme is http://."""
    if text.startswith(":"):
        text = "localhost" + text
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReplError(f"not an http(s) URL: {text!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def is_target(word: str) -> bool:
    """Whether a request's first word is where to send it rather than a request item."""
    return ("://" in word or word.startswith(("/", ".", "?")) or bool(re.match(r":\d", word))
            or not is_item(word))


def join_url(current: str, target: str) -> str:
    """``target`` seen from ``current`` as a directory: ``cd users`` goes below, ``..`` up."""
    if not target:
        return current
    if "://" in target or target.startswith(":"):
        return normalize_url(target)
    parts = urlsplit(current)
    path_part, _, query = target.partition("?")
    if path_part.startswith("/"):
        path = path_part
    else:
        path = posixpath.join(parts.path or "/", path_part)
    trailing = path.endswith("/") and path != "/"
    path = posixpath.normpath(path) if path_part else parts.path
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if trailing and not path.endswith("/"):
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path or "/", query, ""))


# -- the session --------------------------------------------------------------------------------


class Options:
    """What ``set`` changes, each with its parser: declared once, shown by ``set`` and ``env``."""

    def __init__(self) -> None:
        self.timeout: float | None = 30.0
        self.follow = True
        self.format = "json"
        self.verify = True

    def set(self, name: str, value: str) -> None:
        name = name.replace("-", "_")
        if name not in OPTION_PARSERS:
            raise ReplError(f"unknown option {name!r} (options: {', '.join(OPTION_PARSERS)})")
        setattr(self, name, OPTION_PARSERS[name][0](value))

    def lines(self) -> list[str]:
        return [f"set {name} {OPTION_PARSERS[name][1](getattr(self, name))}" for name in OPTION_PARSERS]


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("on", "yes", "true", "1"):
        return True
    if lowered in ("off", "no", "false", "0"):
        return False
    raise ReplError(f"expected on or off, got {text!r}")


def _parse_timeout(text: str) -> float | None:
    if text.lower() in ("none", "off", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise ReplError(f"expected seconds or 'none', got {text!r}") from None
    if value < 0:
        raise ReplError("a timeout cannot be negative")
    return value


def _parse_format(text: str) -> str:
    if text not in FORMATS:
        raise ReplError(f"unknown body format {text!r} (one of {', '.join(FORMATS)})")
    return text


def _show_bool(value: bool) -> str:
    return "on" if value else "off"


#: option -> (parse, show, help)
OPTION_PARSERS: dict[str, tuple[Callable[[str], Any], Callable[[Any], str], str]] = {
    "timeout": (_parse_timeout, lambda v: "none" if v is None else f"{v:g}",
                "seconds to wait for connect and for each read (none: wait forever)"),
    "follow": (_parse_bool, _show_bool, "follow redirects (on/off)"),
    "format": (_parse_format, str, "how data fields are sent: json, msgpack or form"),
    "verify": (_parse_bool, _show_bool, "verify TLS certificates (on/off)"),
}


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
        self.show_timing = True
        self.running = True

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
        progress = UploadProgress(self.err) if spec.body_kind in ("file", "multipart") else None
        opened_before = self.connections_opened
        response = None
        start = time.monotonic()
        self.requests += 1
        try:
            response = self.client.request(
                spec.method, spec.url, stream=True, timeout=self.options.timeout,
                follow_redirects=self.options.follow, verify=self.options.verify,
                progress=progress, **kwargs)
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
            if progress is not None:
                progress.close()
            for f in opened:
                f.close()
            if response is not None:
                abort(response)

    def timing(self, text: str) -> None:
        if self.show_timing:
            self.err.write(self.printer.dim(f"({text})") + "\n")
            self.err.flush()

    def show_body(self, response: Any) -> None:
        """The body, whole and pretty when that is wise, else chunk by chunk as it arrives."""
        printer = self.printer
        body = response.body
        if response.method == "HEAD":
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
    if isinstance(exc, (ItemError, ReplError)):
        return message
    for kind, prefix in ((ConnectTimeout, "connect timeout"), (ConnectError, "cannot connect"),
                         (ReadTimeout, "read timeout"), (PoolTimeout, "pool timeout")):
        if isinstance(exc, kind):
            return message if message.lower().startswith(prefix) else f"{prefix}: {message}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename!r}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {message}"


class UploadProgress:
    """The ``progress=`` callback: a tqdm bar on stderr for the request body.

    tqdm draws with ``\\r`` on the terminal from the calling greenlet: no thread and
    no event loop of its own (``monitor_interval = 0`` turns off its one helper
    thread), which is what a gevent process wants. prompt_toolkit's ProgressBar runs
    a second Application on a background thread, which under monkey-patched threading
    is a greenlet with its own asyncio loop competing with the upload.
    """

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.bar: Any = None

    def __call__(self, sent: int, total: int | None) -> None:
        if self.bar is None:
            import tqdm

            tqdm.tqdm.monitor_interval = 0
            self.bar = tqdm.tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                 desc="upload", file=self.out, leave=True, mininterval=0.1,
                                 dynamic_ncols=True)
        self.bar.update(sent - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# -- commands -----------------------------------------------------------------------------------


class Command(NamedTuple):
    run: Callable[[Session, list[str]], None]
    usage: str
    help: str


def _cd(session: Session, args: list[str]) -> None:
    if len(args) > 1:
        raise ReplError("usage: cd PATH|URL")
    session.url = join_url(session.url, args[0]) if args else session.base_url
    session.seen_paths.add(urlsplit(session.url).path or "/")


def _rm(session: Session, args: list[str]) -> None:
    groups = {"-h": "header", "-q": "param", "-b": "data"}
    group = None
    if args and args[0] in groups:
        group = groups[args[0]]
        args = args[1:]
    if not args:
        raise ReplError("usage: rm [-h|-q|-b] NAME... | rm <  (the raw body) | rm *  (everything)")
    if args == ["*"]:
        session.sticky = [item for item in session.sticky if group is not None and item.group != group]
        return
    for name in args:
        def matches(item: Item) -> bool:
            if name == "<":
                return item.kind == "body"
            if group is not None and item.group != group:
                return False
            return item.name.lower() == name.lower() if item.group == "header" else item.name == name
        if not any(matches(item) for item in session.sticky):
            raise ReplError(f"no sticky item named {name!r} (see 'env')")
        session.sticky = [item for item in session.sticky if not matches(item)]


def _env_lines(session: Session) -> list[str]:
    lines = [f"cd {shlex.quote(session.url)}"]
    lines += [shlex.quote(item.raw) for item in session.sticky]
    lines += session.options.lines()
    return lines


def _env(session: Session, args: list[str]) -> None:
    for line in _env_lines(session):
        session.say(line)
    if session.client.cookies is not None and len(session.client.cookies):
        session.say("# cookies: " + "; ".join(f"{k}={v}" for k, v in session.client.cookies))


def _set(session: Session, args: list[str]) -> None:
    if not args:
        for name, (_, show, text) in OPTION_PARSERS.items():
            session.say(f"{name:8} {show(getattr(session.options, name)):6}  {text}")
        return
    if len(args) != 2:
        raise ReplError("usage: set OPTION VALUE (type 'set' for the options)")
    session.options.set(args[0], args[1])


def _history(session: Session, args: list[str]) -> None:
    count = 20
    if args:
        try:
            count = int(args[0])
        except ValueError:
            raise ReplError("usage: history [N]") from None
    if session.history is None:
        return
    # get_strings() is oldest first; number them as a shell's history does.
    entries = list(session.history.get_strings())
    for number, entry in list(enumerate(entries, 1))[-count:]:
        session.say(f"{number:5}  {entry}")


def _save(session: Session, args: list[str]) -> None:
    if len(args) != 1:
        raise ReplError("usage: save FILE")
    path = os.path.expanduser(args[0])
    with open(path, "w", encoding="utf-8") as f:
        f.write("# greenhttp repl session: 'load' it, or read it: these are repl commands\n")
        f.write("\n".join(_env_lines(session)) + "\n")
    session.say(f"saved to {args[0]}")


def _load(session: Session, args: list[str]) -> None:
    if len(args) != 1:
        raise ReplError("usage: load FILE")
    with open(os.path.expanduser(args[0]), encoding="utf-8") as f:
        lines = f.read().splitlines()
    # The file replaces the session's state: URL, items and options, as saved.
    session.sticky = []
    session.options = Options()
    for number, line in enumerate(lines, 1):
        words = line.strip()
        if not words or words.startswith("#"):
            continue
        first = split_line(words)[0].lower()
        if first in METHODS:
            raise ReplError(f"{args[0]}:{number}: a session file holds state, not requests")
        outcome = session.execute(line)
        if outcome is not None and outcome.error is not None:
            raise ReplError(f"{args[0]}:{number}: stopped loading here")
    session.say(f"loaded {args[0]}")


def _curl(session: Session, args: list[str]) -> None:
    if session.last is None:
        raise ReplError("no request yet")
    session.say(to_curl(session.last, session.options.follow, session.options.timeout))


def _stats(session: Session, args: list[str]) -> None:
    stats = session.pool.stats()
    opened = session.connections_opened
    reused = max(session.requests - opened, 0)
    session.say(f"requests: {session.requests}, connections opened: {opened}, "
                f"requests on a reused connection: {reused}")
    session.say(f"pool: {stats['open']} open, {stats['idle']} idle, {stats['in_use']} in use, "
                f"{stats['waiting']} waiting")
    for label, host in stats["hosts"].items():
        session.say(f"  {label}: {host['open']} open, {host['idle']} idle, {host['in_use']} in use")


def _help(session: Session, args: list[str]) -> None:
    if args:
        name = args[0].lower()
        if name in METHODS:
            session.say(f"{name} [PATH|URL] [ITEM...]: send a {name.upper()} request; items as for a "
                        "sticky line, for this request only")
            return
        command = COMMANDS.get(name)
        if command is None:
            raise ReplError(f"no command {args[0]!r}")
        session.say(f"{command.usage}: {command.help}")
        return
    session.say(HELP_TEXT)
    for name, command in COMMANDS.items():
        session.say(f"  {command.usage:28} {command.help}")


def _exit(session: Session, args: list[str]) -> None:
    session.running = False


HELP_TEXT = """\
Requests:
  get|post|put|patch|delete|head|options [PATH|URL] [ITEM...]
Items (HTTPie's syntax; alone on a line they stick to the session until 'rm'):
  Header:value  Header;  name==query  field=text  field:=json  field=@file  field:=@file
  field@file (upload)  @file  <file (raw body)
Ctrl-C stops a running request or stream; Ctrl-D or 'exit' leaves.
Commands:"""

#: the commands, in the order 'help' lists them
COMMANDS: dict[str, Command] = {
    "cd": Command(_cd, "cd [PATH|URL]", "change the current URL (no argument: back to the start)"),
    "rm": Command(_rm, "rm [-h|-q|-b] NAME...|<|*", "remove sticky items"),
    "env": Command(_env, "env", "show the URL, sticky items and options"),
    "set": Command(_set, "set [OPTION VALUE]", "show or change options (timeout, follow, format, verify)"),
    "history": Command(_history, "history [N]", "show the last N commands"),
    "save": Command(_save, "save FILE", "save the URL, sticky items and options"),
    "load": Command(_load, "load FILE", "load what 'save' wrote"),
    "curl": Command(_curl, "curl", "print the last request as a curl command"),
    "stats": Command(_stats, "stats", "requests, connections and the pool's state"),
    "help": Command(_help, "help [COMMAND]", "this text"),
    "exit": Command(_exit, "exit", "leave (Ctrl-D too)"),
    "quit": Command(_exit, "quit", "leave"),
}


# -- the interactive loop -------------------------------------------------------------------------


def history_path() -> str:
    configured = os.environ.get(HISTORY_ENV)
    if configured:
        return os.path.expanduser(configured)
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data_home, "greenhttp", "repl_history")


def _file_history(path: str) -> Any:
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        sys.stderr.write(f"warning: history not kept ({path}: {exc.strerror}); "
                         f"set {HISTORY_ENV} to a writable file\n")
        return InMemoryHistory()
    return FileHistory(path)


def make_completer(session: Session) -> Any:
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    paths = PathCompleter(expanduser=True)

    class ReplCompleter(Completer):
        """Commands and methods first; then paths seen, header names and item names."""

        def get_completions(self, document: Any, complete_event: Any) -> Any:
            text = document.text_before_cursor
            words = text.split()
            current = "" if not words or text[-1:].isspace() else words[-1]
            position = len(words) - (0 if current == "" else 1)
            if position == 0:
                for name in (*METHODS, *COMMANDS):
                    if name.startswith(current.lower()):
                        yield Completion(name, -len(current))
                return
            command = words[0].lower()
            if command in ("save", "load") or current.startswith(("<", "@")) or "@" in current:
                prefix_len = 1 if current.startswith(("<", "@")) else (current.index("@") + 1 if "@" in current else 0)
                sub = Document(current[prefix_len:], len(current) - prefix_len)
                yield from paths.get_completions(sub, complete_event)
                return
            if command == "set" and position == 1:
                candidates: list[str] = list(OPTION_PARSERS)
            elif command == "rm":
                candidates = sorted({item.name for item in session.sticky if item.name})
            elif command in METHODS or command == "cd" or is_item(current):
                candidates = []
                if position == 1 and (command in METHODS or command == "cd"):
                    candidates += sorted(session.seen_paths)
                if command != "cd":
                    candidates += [f"{name}:" for name in sorted(session.header_names)]
            else:
                candidates = [f"{name}:" for name in sorted(session.header_names)]
            lowered = current.lower()
            for candidate in candidates:
                if candidate.lower().startswith(lowered) and candidate != current:
                    yield Completion(candidate, -len(current))

    return ReplCompleter()


def make_lexer() -> Any:
    """Highlighting of the line being typed: command, URL, and items split at their separator."""
    from prompt_toolkit.lexers import PygmentsLexer
    from pygments.lexer import RegexLexer, bygroups, default
    from pygments.token import Keyword, Name, Operator, String, Text

    words = "|".join((*METHODS, *COMMANDS))

    class ReplLexer(RegexLexer):
        name = "greenhttp-repl"
        tokens = {
            "root": [
                (r"\s+", Text),
                (rf"({words})\b", Keyword, "args"),
                default("args"),
            ],
            "args": [
                (r"\s+", Text),
                (r"(<)(\S*)", bygroups(Operator, String)),
                (r"([^\s:=@;]*)(:=@|=@|:=|==|=|:|;|@)(\S*)", bygroups(Name.Attribute, Operator, String)),
                (r"\S+", Name.Namespace),
            ],
        }

    return PygmentsLexer(ReplLexer)


def interactive(session: Session) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.styles import Style

    history = _file_history(history_path())
    session.history = history
    style = Style.from_dict({"url": "ansigreen bold", "sep": "ansibrightblack"})
    prompt: "PromptSession[str]" = PromptSession(history=history, completer=make_completer(session),
                           lexer=make_lexer(), auto_suggest=AutoSuggestFromHistory(),
                           complete_while_typing=False, enable_history_search=True)
    session.say("greenhttp repl: 'help' for commands, Ctrl-D to leave")
    while session.running:
        try:
            line = prompt.prompt([("class:url", session.url), ("class:sep", "> ")], style=style)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line, as in a shell
        except EOFError:
            break
        session.execute(line)


def scripted(session: Session, stdin: IO[str]) -> None:
    """Commands from a pipe or file, one per line, no prompt: for scripts."""
    history = _file_history(history_path())
    session.history = history
    for line in stdin:
        if not session.running:
            break
        if line.strip():
            history.append_string(line.rstrip("\n"))
        session.execute(line)


def _use_color(stream: IO[str]) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def main(argv: Sequence[str]) -> int:
    from ..cli.command import ArgumentParser

    parser = ArgumentParser(
        prog="greenhttp repl",
        description="An interactive HTTP shell with one connection pool for the session. "
                    "Type 'help' at the prompt.")
    parser.add_argument("url", nargs="?", metavar="BASE_URL", help="where to start (default http://localhost:8080/)")
    parser.add_argument("--timeout", type=_parse_timeout, default=None, metavar="SECONDS")
    parser.add_argument("--format", choices=FORMATS, default=None, help="how data fields are sent")
    args = parser.parse_args(list(argv)[1:])
    try:
        session = Session(args.url, color=_use_color(sys.stdout))
    except ReplError as exc:
        from ..cli.command import CLIError

        raise CLIError(str(exc)) from None
    if args.timeout is not None:
        session.options.timeout = args.timeout
    if args.format:
        session.options.format = args.format
    try:
        if sys.stdin.isatty() and sys.stdout.isatty():
            interactive(session)
        else:
            scripted(session, sys.stdin)
    finally:
        session.close()
    return 0


# -- one-shot mode --------------------------------------------------------------------------------


def oneshot_main(argv: Sequence[str]) -> int:
    """``greenhttp METHOD URL [ITEM...]``: one request, the repl's output, a useful exit status.

    Exit statuses follow HTTPie's: 0 done; 1 an error (connection refused, bad
    item...); 2 a timeout; with ``--check-status``, 3/4/5 for a 3xx/4xx/5xx answer.
    """
    from ..cli.command import ArgumentParser, CLIError

    method = argv[0].upper()
    parser = ArgumentParser(
        prog=f"greenhttp {argv[0]}",
        description=f"Send one {method} request and show the response. Items use HTTPie's syntax: "
                    "Header:value, name==query, field=text, field:=json, field@file, <file.")
    parser.add_argument("url", metavar="URL", help="http(s) URL; ':8080/path' means localhost")
    parser.add_argument("items", nargs="*", metavar="ITEM", help="request items")
    parser.add_argument("--check-status", action="store_true",
                        help="exit 3, 4 or 5 on a 3xx, 4xx or 5xx answer")
    parser.add_argument("--timeout", type=_parse_timeout, default=30.0, metavar="SECONDS",
                        help="connect and read timeout (default 30; 'none': wait forever)")
    parser.add_argument("--no-follow", action="store_true", help="do not follow redirects")
    parser.add_argument("--format", choices=FORMATS, default="json", help="how data fields are sent (default json)")
    parser.add_argument("-b", "--body", action="store_true", help="print the body only")
    parser.add_argument("--curl", action="store_true", help="print the request as a curl command instead of sending it")
    args = parser.parse_intermixed_args(list(argv)[1:])
    try:
        session = Session(args.url, color=_use_color(sys.stdout))
        session.options.timeout = args.timeout
        session.options.follow = not args.no_follow
        session.options.format = args.format
        session.body_only = args.body
        session.show_timing = sys.stderr.isatty()
        items = parse_items(args.items)
        spec = build_request(method, session.url, items, args.format)
    except (ItemError, ReplError) as exc:
        raise CLIError(str(exc)) from None
    if args.curl:
        print(to_curl(spec, session.options.follow, session.options.timeout))
        return 0
    try:
        try:
            outcome = session.send(spec)
        except (GreenHTTPError, OSError) as exc:
            outcome = Outcome(None, exc)
    finally:
        session.close()
    if outcome.error is not None:
        if isinstance(outcome.error, KeyboardInterrupt):
            return 130
        print(f"greenhttp: error: {describe_error(outcome.error)}", file=sys.stderr)
        return 2 if isinstance(outcome.error, TimeoutError) else 1
    if args.check_status and outcome.status is not None and outcome.status >= 300:
        if outcome.status < 400 and not args.no_follow:
            return 0
        return min(outcome.status // 100, 5)
    return 0
