"""How the REPL and the one-shot verbs show a response: head, body, timing.

A body is shown for what it is. JSON is re-indented and highlighted; msgpack is
decoded and shown as JSON; text is highlighted by its media type where pygments
knows one; anything binary is summarised in one line, never dumped on a terminal.
Bodies without a Content-Length that are not JSON or msgpack (chunked text,
server-sent events, NDJSON) are written chunk by chunk as they arrive, so a
stream is watchable and Ctrl-C can stop it.

pygments is imported on first use: ``greenhttp APP`` never pays for it.
"""

from __future__ import annotations

import codecs
import json
import sys
from typing import IO, Any

# Bodies up to this size are read whole to be pretty-printed; beyond it they are
# streamed as they come (a 1 GiB JSON export should not be parsed for colouring).
PRETTY_LIMIT = 10 * 1024 * 1024

JSON_TYPES = ("application/json", "application/problem+json")
MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")
STREAM_TYPES = ("text/event-stream", "application/x-ndjson", "application/ndjson",
                "application/json-seq", "application/jsonl")
TEXT_TYPES = ("application/javascript", "application/xml", "application/x-www-form-urlencoded",
              "application/yaml", "application/x-yaml", "application/graphql", "application/sql")


def media_type(headers: Any) -> str:
    return (headers.get("content-type") or "").split(";")[0].strip().lower()


def kind_of(mime: str) -> str:
    """"json", "msgpack", "stream", "text" or "binary" (or "unknown": decide by looking)."""
    if mime in STREAM_TYPES:
        return "stream"
    if mime in JSON_TYPES or mime.endswith("+json"):
        return "json"
    if mime in MSGPACK_TYPES or mime.endswith("+msgpack"):
        return "msgpack"
    if mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith("+xml"):
        return "text"
    if not mime:
        return "unknown"
    return "binary"


def looks_binary(data: bytes) -> bool:
    """NUL bytes or invalid UTF-8 in the first 4 KiB: what git and file(1) go by."""
    sample = data[:4096]
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(sample) - 4  # a multi-byte character cut at the sample's end is fine
    return False


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_time(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _jsonable(value: Any) -> Any:
    """msgpack's bytes and extension types, made printable as JSON."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        try:
            text = value.decode("utf-8")
            if text.isprintable():
                return text
        except UnicodeDecodeError:
            pass
        return f"<{len(value)} bytes: {bytes(value[:16]).hex()}{'…' if len(value) > 16 else ''}>"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


class Printer:
    """Writes responses to ``out``; colours only when ``color`` (a terminal, no NO_COLOR)."""

    def __init__(self, out: IO[str] | None = None, color: bool = False, style: str = "default") -> None:
        self.out = out or sys.stdout
        self.color = color
        self.style = style
        self._formatter: Any = None

    # -- highlighting

    def highlight(self, text: str, lexer_name: str | None = None, mime: str | None = None) -> str:
        if not self.color:
            return text
        from pygments import highlight
        from pygments.lexers import get_lexer_by_name, get_lexer_for_mimetype
        from pygments.util import ClassNotFound

        try:
            if lexer_name:
                lexer = get_lexer_by_name(lexer_name)
            elif mime:
                lexer = get_lexer_for_mimetype(mime)
            else:
                return text
        except ClassNotFound:
            return text
        if self._formatter is None:
            from pygments.formatters import Terminal256Formatter

            self._formatter = Terminal256Formatter(style=self.style)
        result = highlight(text, lexer, self._formatter)
        # pygments ends with a newline whether or not the text did.
        return result if text.endswith("\n") else result.rstrip("\n")

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.color else text

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    # -- pieces of a response

    def head(self, response: Any) -> None:
        lines = [f"HTTP/{response.http_version} {response.status} {response.reason}"]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        text = "\n".join(lines) + "\n"
        self.write(self.highlight(text, "http"))

    def body_bytes(self, data: bytes, mime: str) -> None:
        """A whole body, shown for what it is."""
        kind = kind_of(mime)
        if not data:
            return
        if kind == "json":
            try:
                value = json.loads(data)
            except ValueError:
                kind = "text"
            else:
                self.write(self.highlight(json.dumps(value, indent=2, ensure_ascii=False) + "\n", "json"))
                return
        if kind == "msgpack":
            import msgpack

            try:
                value = msgpack.unpackb(data, raw=False, strict_map_key=False)
            except Exception as exc:  # noqa: BLE001 - any decoding failure is shown, not raised
                self.write(self.dim(f"[msgpack body that does not decode ({exc}): {human_size(len(data))}]") + "\n")
                return
            self.write(self.dim("[msgpack, shown as JSON]") + "\n")
            self.write(self.highlight(json.dumps(_jsonable(value), indent=2, ensure_ascii=False) + "\n", "json"))
            return
        if kind in ("binary", "unknown") and looks_binary(data):
            self.summary(len(data), mime)
            return
        text = data.decode("utf-8", "replace")
        if not text.endswith("\n"):
            text += "\n"
        self.write(self.highlight(text, mime=mime if kind == "text" else None))

    def summary(self, size: int, mime: str) -> None:
        what = mime or "no Content-Type"
        self.write(self.dim(f"[binary body: {human_size(size)}, {what}; not shown]") + "\n")


class StreamWriter:
    """Writes a text stream chunk by chunk, decoding UTF-8 across chunk boundaries."""

    def __init__(self, printer: Printer) -> None:
        self.printer = printer
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.last = "\n"

    def feed(self, data: bytes) -> None:
        text = self.decoder.decode(data)
        if text:
            self.printer.write(text)
            self.last = text[-1]

    def close(self) -> None:
        text = self.decoder.decode(b"", final=True)
        if text:
            self.printer.write(text)
            self.last = text[-1]
        if self.last != "\n":
            self.printer.write("\n")
