"""Sending one WebSocket message: whole, split by ``fragment_size``, or streamed in parts.

RFC 6455 §5.4: a message may go out as several frames, the first with the text or binary
opcode and FIN clear, continuations (opcode 0) after, FIN on the last; control frames
(Ping, Pong, Close) may be sent between them, other data frames may not. wsproto picks
the opcodes (``message_finished=False`` events); this module keeps the two rules wsproto
cannot: one data message at a time on the wire, and never more than one part (or one
``fragment_size`` piece) of a message in memory — a 1 GiB message streamed from a
generator costs one part, not 1 GiB. While a message streams, another greenlet's whole
message is handed to the streaming sender (bounded by HELD_LIMIT) instead of waiting
for its end: the iterable may be waiting for that greenlet.

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
from .deflate import piece_size
from .errors import ABNORMAL_CLOSURE, INTERNAL_ERROR, ConnectionClosed

if TYPE_CHECKING:
    from .core import WebSocket

BytesLike = (bytes, bytearray, memoryview)
Data = Union[str, bytes, bytearray, memoryview]
_END: Any = object()
#: Bytes of whole messages other greenlets may hand over while a message is streamed (a
#: str counts 4 bytes a character, UTF-8's most). Beyond it they wait for the stream's
#: end, as every send waited before: a producer waiting for them could then deadlock,
#: but only after a MiB was sent its way. About a socket's send buffer under load.
HELD_LIMIT = 1024 * 1024


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
    if whole and ws._held is not None and _hand_over(ws, data):  # type: ignore[arg-type]
        return
    # One data message at a time, held for the whole message: a second sender's frames
    # would otherwise land between this message's fragments (RFC 6455 §5.4 forbids it).
    # Control frames (ping(), Pongs, the keepalive's Pings, close()) do not take it.
    with ws._message_lock:
        ws._sender = current
        try:
            if whole:
                _send_whole(ws, data)  # type: ignore[arg-type]
                ws.messages_out += 1
            else:
                _stream(ws, iter(data))  # type: ignore[arg-type]
        finally:
            ws._sender = None


def _hand_over(ws: "WebSocket", message: Data) -> bool:
    """Give a whole message to the greenlet streaming one, if HELD_LIMIT allows.

    A message is being streamed from an iterable, which may itself be waiting for this
    very greenlet (a producer fed by it): waiting for the stream's end could never end.
    The streaming sender sends what it was handed right after its own message; beyond
    HELD_LIMIT bytes held the caller waits as before, so memory stays bounded.
    """
    weight = len(message) * 4 if isinstance(message, str) else len(message)
    held = ws._held
    if held is None or ws._held_size + weight > HELD_LIMIT:
        return False
    if ws._closed:
        raise ConnectionClosed(ws.close_code or ABNORMAL_CLOSURE, ws.close_reason)
    # A copy of a bytearray or memoryview: the caller may change it once send returned.
    held.append(message if isinstance(message, (str, bytes)) else bytes(message))
    ws._held_size += weight
    return True


def _stream(ws: "WebSocket", parts: Iterator[Data]) -> None:
    """Send a streamed message, then the whole messages held meanwhile, in their order."""
    ws._held = []
    ws._held_size = 0
    try:
        _send_parts(ws, parts)
    finally:
        held = ws._held
        ws._held = None
        ws._held_size = 0
    ws.messages_out += 1
    # Still under the message lock: a later send of the same greenlets waits for these.
    for message in held:
        _send_whole(ws, message)
        ws.messages_out += 1


def _event(piece: Data, finished: bool) -> Message[Any]:
    if isinstance(piece, str):
        return TextMessage(data=piece, message_finished=finished)
    return BytesMessage(data=bytes(piece), message_finished=finished)


def _piece_size(ws: "WebSocket") -> int | None:
    """How many bytes of a message go in one frame: ``fragment_size`` bounds the payload
    on the wire, so under permessage-deflate a piece is what compresses to fit (deflate.py)."""
    size = ws.fragment_size
    if size is None or ws._deflate is None:
        return size
    return piece_size(size)


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
    pieces = _pieces(data, _piece_size(ws))
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
            for piece in _pieces(part, _piece_size(ws)):
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
