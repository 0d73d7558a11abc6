"""permessage-deflate (RFC 7692) with inflation bounded by the message size limit.

wsproto's :class:`~wsproto.extensions.PerMessageDeflate` inflates each received chunk
whole (``decompressobj.decompress(data)``): one 64 KiB read of zeros deflated at
zlib's ~1000:1 ratio becomes ~64 MiB before anyone can look at its size (a
"decompression bomb"). This subclass inflates with ``max_length`` so that a message
never grows past ``max_size + 1`` bytes: the rest of the input is dropped and
:attr:`overflowed` tells :class:`~greenhttp.websocket.core.WebSocket` to close with
1009 (RFC 6455 §7.4.1), the same as for an uncompressed message over the limit.

Outbound, wsproto compresses each frame's data without flushing but for the last frame
of a message, so zlib may hold a message's output back and put it all in that last
frame. When the WebSocket cuts messages by ``fragment_size``, :attr:`flush_every_frame`
flushes every frame (Z_SYNC_FLUSH; RFC 7692 §7.2.1 lets a sender flush where it likes,
the receiver inflates the concatenation) so a frame carries exactly what its piece
compressed to, and :func:`piece_size` says how large a piece may be for that to fit.
"""

from __future__ import annotations

import zlib
from typing import Any

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, Opcode, RsvBits


def piece_size(fragment_size: int) -> int:
    """The most input bytes whose compressed frame payload fits in ``fragment_size``.

    zlib's conservative deflateBound for raw deflate (n + (n+7)/8 + (n+63)/64 + 5; the
    tight one holds only for a 15-bit window, and a peer may ask for a smaller one)
    plus the sync flush's empty stored block (5 bytes). So a piece is ~88% of
    ``fragment_size``. Below 12 bytes no piece fits; one byte then, as close as it gets.
    """
    size = max(1, (fragment_size - 10) * 64 // 73)
    while size > 1 and size + (size + 7) // 8 + (size + 63) // 64 + 10 > fragment_size:
        size -= 1
    return size


class BoundedDeflate(PerMessageDeflate):
    """PerMessageDeflate whose inbound side inflates at most ``max_size + 1`` bytes per
    message (``None``: unbounded, wsproto's behaviour)."""

    def __init__(self, max_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_size = max_size
        #: Bytes inflated so far for the message being received.
        self.inflated = 0
        #: The current message passed ``max_size``; its remaining input is discarded.
        self.overflowed = False
        #: Flush every frame of a compressed message, not only the last (module docstring).
        self.flush_every_frame = False

    def frame_outbound(self, proto: Any, opcode: Opcode, rsv: RsvBits, data: bytes,
                       fin: bool) -> tuple[RsvBits, bytes]:
        rsv, out = super().frame_outbound(proto, opcode, rsv, data, fin)
        if self.flush_every_frame and not fin and self._compressor is not None and self._compressible_opcode(opcode):
            # Kept whole, 00 00 ff ff included: only a message's end drops those 4 bytes.
            out += self._compressor.flush(zlib.Z_SYNC_FLUSH)
        return rsv, out

    def frame_inbound_header(self, proto: Any, opcode: Opcode, rsv: RsvBits,
                             payload_length: int) -> CloseReason | RsvBits:
        if self._inbound_compressed is None:  # the first frame of a message
            self.inflated = 0
            self.overflowed = False
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        decompressor = self._decompressor
        assert decompressor is not None
        limit = self.max_size
        try:
            if limit is None:
                return decompressor.decompress(data)
            # max_length is never 0 here (0 would mean "unbounded" to zlib).
            out = decompressor.decompress(data, limit - self.inflated + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        self.inflated += len(out)
        if self.inflated > limit:
            self.overflowed = True
        return out

    def frame_inbound_payload_data(self, proto: Any, data: bytes) -> bytes | CloseReason:
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        if self.overflowed:
            return b""  # over the limit already: the connection is closing with 1009
        return self._inflate(bytes(data))

    def frame_inbound_complete(self, proto: Any, fin: bool) -> bytes | CloseReason | None:
        if self.max_size is None:
            return super().frame_inbound_complete(proto, fin)
        if not fin or not self._inbound_is_compressible or not self._inbound_compressed:
            return super().frame_inbound_complete(proto, fin)
        if self.overflowed:
            # The inflater's window is now out of step with the peer's compressor; the
            # connection is closing anyway, so drop it rather than finish the message.
            self._decompressor = None
            self._inbound_compressed = None
            return b""
        # RFC 7692 §7.2.2: append the 4 bytes the sender stripped, then flush. The tail
        # is bounded too (a sender may put its whole bomb in the final frame's flush).
        tail = self._inflate(b"\x00\x00\xff\xff")
        if isinstance(tail, CloseReason):
            return tail
        if not self.overflowed:
            tail += self._decompressor.flush() if self._decompressor is not None else b""
        no_context_takeover = (self.server_no_context_takeover if proto.client
                               else self.client_no_context_takeover)
        if no_context_takeover or self.overflowed:
            self._decompressor = None
        self._inbound_compressed = None
        return tail
