"""Sending one WebSocket message: whole, split by ``fragment_size``, or streamed in parts.

RFC 6455 §5.4: a message may go out as several frames, the first with the text or binary
opcode and FIN clear, continuations (opcode 0) after, FIN on the last; control frames
(Ping, Pong, Close) may be sent between them, other data frames may not. wsproto picks
the opcodes (``message_finished=False`` events); this module keeps the two rules wsproto
cannot: one data message at a time on the wire, and never more than one part (or one
``fragment_size`` piece) of a message in memory — a 1 GiB message streamed from a
generator costs one part, not 1 GiB.

``send(iterable)`` follows the `websockets` library's precedent
(``websockets.sync.connection.Connection.send``): each item is a frame, all items ``str``
(text) or all bytes-like (binary), a ``dict`` is refused as a likely mistake, and, as
there, each part goes out as soon as the iterable produces it, so the message ends with an
empty FIN continuation frame (knowing which part is last would mean holding one back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Union

import gevent
from wsproto.events import BytesMessage, Message, TextMessage

from ..errors import UsageError
from .errors import INTERNAL_ERROR, ConnectionClosed

if TYPE_CHECKING:
    from .core import WebSocket

BytesLike = (bytes, bytearray, memoryview)
Data = Union[str, bytes, bytearray, memoryview]
_END: Any = object()


def send_message(ws: "WebSocket", data: Union[Data, Iterable[Data]]) -> None:
    """Send ``data`` as one message (core.WebSocket.send's body)."""
    whole = isinstance(data, (str, *BytesLike))
    if not whole and (isinstance(data, Mapping) or not isinstance(data, Iterable)):
        raise TypeError(f"WebSocket messages are str, bytes or an iterable of them, "
                        f"not {type(data).__name__}")
    current = gevent.getcurrent()
    if ws._sender is current:
        # The message lock is held by this very greenlet: waiting would never end, and
        # sending would put a message inside the one being streamed.
        raise UsageError("send() from inside the iterable of a send() on the same WebSocket")
    # One data message at a time, held for the whole message: a second sender's frames
    # would otherwise land between this message's fragments (RFC 6455 §5.4 forbids it).
    # Control frames (ping(), Pongs, the keepalive's Pings, close()) do not take it.
    with ws._message_lock:
        ws._sender = current
        try:
            if whole:
                _send_whole(ws, data)  # type: ignore[arg-type]
            else:
                _send_parts(ws, iter(data))  # type: ignore[arg-type]
        finally:
            ws._sender = None
    ws.messages_out += 1


def _event(piece: Data, finished: bool) -> Message[Any]:
    if isinstance(piece, str):
        return TextMessage(data=piece, message_finished=finished)
    return BytesMessage(data=bytes(piece), message_finished=finished)


def _pieces(data: Data, size: int | None) -> Iterator[Data]:
    """``data`` cut into frame payloads of at most ``size`` bytes (UTF-8 bytes for text),
    at least one piece (an empty message is one empty frame)."""
    if isinstance(data, str):
        if size is None or len(data) * 4 <= size:
            yield data
            return
        encoded = data.encode("utf-8")
        start, end = 0, len(encoded)
        while True:
            stop = min(start + size, end)
            # wsproto sends text as str: cut only between code points (a UTF-8
            # continuation byte is 0b10xxxxxx); a code point wider than ``size`` goes whole.
            while start < stop < end and encoded[stop] & 0xC0 == 0x80:
                stop -= 1
            if stop == start:
                stop = start + 1
                while stop < end and encoded[stop] & 0xC0 == 0x80:
                    stop += 1
            yield encoded[start:stop].decode("utf-8")
            start = stop
            if start >= end:
                return
    view = memoryview(data)
    view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
    if size is None or len(view) <= size:
        yield view
        return
    for start in range(0, len(view), size):
        yield view[start:start + size]


def _send_whole(ws: "WebSocket", data: Data) -> None:
    pieces = _pieces(data, ws.fragment_size)
    piece = next(pieces)
    for following in pieces:
        ws._send(_event(piece, False))
        piece = following
    ws._send(_event(piece, True))


def _send_parts(ws: "WebSocket", parts: Iterator[Data]) -> None:
    # An error before the first frame leaves the connection as it was: just raise.
    first = next(parts, _END)
    if first is _END:
        ws._send(BytesMessage(data=b"", message_finished=True))  # still one message
        return
    text = isinstance(first, str)
    if not text and not isinstance(first, BytesLike):
        raise TypeError(f"a message's parts are str or bytes-like, not {type(first).__name__}")
    try:
        part: Any = first
        while True:
            for piece in _pieces(part, ws.fragment_size):
                ws._send(_event(piece, False))
            part = next(parts, _END)
            if part is _END:
                break
            if isinstance(part, str) is not text or not (text or isinstance(part, BytesLike)):
                raise TypeError(f"a message's parts are all str or all bytes-like; got "
                                f"{type(part).__name__} after {type(first).__name__}")
        ws._send(TextMessage(data="", message_finished=True) if text
                 else BytesMessage(data=b"", message_finished=True))
    except ConnectionClosed:
        raise
    except Exception:
        # Half a message is on the wire and cannot be finished or taken back: the
        # connection can carry no further message. Close it with 1011 ("an unexpected
        # condition", RFC 6455 §7.4.1; `websockets` does the same), the closing handshake
        # being bounded by CLOSE_TIMEOUT, and let the caller see the error.
        try:
            ws.close(INTERNAL_ERROR, "error in fragmented message")
        except ConnectionClosed:
            pass
        raise
    except BaseException:
        # Killed or timed out (GreenletExit, gevent.Timeout): no waiting for the peer.
        ws._fail(INTERNAL_ERROR, "fragmented message interrupted")
        raise
