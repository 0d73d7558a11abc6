"""Range requests (RFC 9110 §14): parse ``Range``, decide what to send. Pure: no I/O.

The outcome of :func:`plan_ranges` is one of three: ``None`` (ignore the header and
send the whole representation, 200), :data:`UNSATISFIABLE` (416), or a list of
``(start, end)`` byte pairs, end exclusive, sorted and coalesced.

Abuse guard (RFC 9110 §14.3: a server "MAY ignore or reject a Range header field
that contains ... more than two overlapping ranges or a set of many small ranges"):
ranges are sorted and overlapping or nearly adjacent ones merged, and the answer
falls back to the plain 200 whenever it would cost more than sending the whole file
once. So no Range header makes the server read or send more bytes than a plain GET,
the CVE-2011-3192 ("Apache Killer") shape of attack included.
"""

from __future__ import annotations

from typing import Final, Optional, Union

#: Ranges closer than this are merged: a multipart part header costs about this much
#: anyway, so two parts cost more than sending the gap (Apache's MergeRanges idea).
MERGE_GAP: Final = 80
#: More ranges than this in one header: ignore it (Apache's MaxRanges default is 200).
MAX_RANGES: Final = 100
#: Per-part overhead estimate for multipart/byteranges (boundary, headers, CRLFs).
PART_OVERHEAD: Final = 120


class _Unsatisfiable:
    def __repr__(self) -> str:
        return "UNSATISFIABLE"


UNSATISFIABLE: Final = _Unsatisfiable()

Plan = Union[None, _Unsatisfiable, list[tuple[int, int]]]


def parse_range(header: str, size: int) -> Plan:
    """RFC 9110 §14.1.2 ``ranges-specifier`` against a representation of ``size`` bytes.

    Invalid syntax or another unit: ``None`` ("A server MUST ignore a Range header
    field received with a request method that is unrecognized" and §14.2: a server
    "MAY ignore the Range header field"; an invalid one is ignored like nginx does).
    """
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    seen_any = False
    for part in parts:
        part = part.strip(" \t")
        if not part:
            continue  # §5.6.1: empty list elements are allowed and ignored
        first, dash, last = part.partition("-")
        if not dash or not _digits(last, allow_empty=True) or not _digits(first, allow_empty=True):
            return None
        seen_any = True
        if not first:
            # suffix-range: the last N bytes; "-0" is unsatisfiable (§14.1.1).
            if not last:
                return None
            length = int(last)
            if length > 0 and size > 0:
                ranges.append((max(0, size - length), size))
            continue
        start = int(first)
        if last:
            end = int(last) + 1
            if end <= start:
                return None  # "last-pos < first-pos" is invalid (§14.1.1): ignore the header
        else:
            end = size
        if start < size:
            ranges.append((start, min(end, size)))
    if not seen_any:
        return None
    if not ranges:
        return UNSATISFIABLE
    return ranges


def _digits(text: str, allow_empty: bool) -> bool:
    if not text:
        return allow_empty
    # isdigit() accepts other scripts' digits; RFC 5234 DIGIT is ASCII only. 19 digits
    # keeps int() cheap and every real size representable.
    return len(text) <= 19 and text.isascii() and text.isdigit()


def coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge overlapping or nearly adjacent ranges (RFC 9110 §14.3 allows it)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + MERGE_GAP:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def plan_ranges(header: Optional[str], size: int) -> Plan:
    """What to answer a GET with ``Range: header`` for a ``size``-byte representation."""
    if header is None or size == 0:
        # A zero-length representation has no satisfiable byte range worth a 206;
        # the whole (empty) body is the simplest right answer.
        return None
    parsed = parse_range(header, size)
    if not isinstance(parsed, list):
        return parsed
    ranges = coalesce(parsed)
    if len(ranges) > 1:
        cost = sum(end - start for start, end in ranges) + PART_OVERHEAD * len(ranges)
        if cost >= size:
            return None  # cheaper to send the file once than these parts
    return ranges


def content_range(start: int, end: int, size: int) -> str:
    """``Content-Range`` for bytes [start, end) of ``size`` (§14.4)."""
    return f"bytes {start}-{end - 1}/{size}"


__all__ = ["UNSATISFIABLE", "Plan", "parse_range", "coalesce", "plan_ranges", "content_range"]
