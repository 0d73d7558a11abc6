"""Validators and conditional requests (RFC 9110 §8.8, §13). Pure: no I/O.

:func:`evaluate` walks RFC 9110 §13.2.2's precedence steps in order and returns the
status to answer with instead of the normal one (304 or 412), or ``None`` to go on.
:func:`if_range_holds` decides §13.1.5 ``If-Range``.
"""

from __future__ import annotations

import calendar
import re
from typing import Mapping, Optional

# RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms recipients
# must still accept. Parsed here rather than with email.utils, which imports socket.
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_IMF = re.compile(r"[A-Za-z]{3}, (\d\d) ([A-Za-z]{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$")
_RFC850 = re.compile(r"[A-Za-z]{6,9}, (\d\d)-([A-Za-z]{3})-(\d\d) (\d\d):(\d\d):(\d\d) GMT$")
_ASCTIME = re.compile(r"[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})$")


def make_etag(ino: int, size: int, mtime_ns: int, suffix: str = "") -> str:
    """A strong ETag from inode, size and modification time in nanoseconds.

    Why these three and not a content hash: they come free with the fstat(2) the
    server does anyway, and any write changes mtime_ns (size too, usually), while a
    deploy that renames a new file into place changes the inode even when size and
    mtime were preserved (``rsync -t``, ``cp -p``). Hashing would cost reading every
    changed file in full. The price of the inode: two servers with copies of the
    same file give different ETags (why Apache 2.4 dropped INode from its FileETag
    default and nginx uses mtime-size only); a cache in front then revalidates once
    per server, which is a miss, never a wrong answer. It is a *strong* validator
    (§8.8.1) because the server changes it for every change it can observe, which
    If-Range and If-Match need. ``suffix`` marks a precompressed sibling ("br").
    """
    tag = f"{ino:x}-{size:x}-{mtime_ns:x}"
    return f'"{tag}-{suffix}"' if suffix else f'"{tag}"'


def parse_http_date(text: str) -> Optional[int]:
    """Seconds since the epoch of an HTTP-date (§5.6.7), or None if it is not one."""
    text = text.strip()
    if m := _IMF.match(text):
        day, month, year, hh, mm, ss = m.groups()
    elif m := _RFC850.match(text):
        day, month, year, hh, mm, ss = m.groups()
        # §5.6.7: a two-digit year more than 50 years in the future is in the past.
        year = str(2000 + int(year) if int(year) < 70 else 1900 + int(year))
    elif m := _ASCTIME.match(text):
        month, day, hh, mm, ss, year = m.groups()
    else:
        return None
    month_number = _MONTHS.get(month.lower())
    if month_number is None:
        return None
    try:
        return calendar.timegm((int(year), month_number, int(day), int(hh), int(mm), int(ss)))
    except (ValueError, OverflowError):
        return None


def _tags(header: str) -> list[tuple[bool, str]]:
    """(weak, opaque-tag) pairs of an If-Match / If-None-Match list; "*" as (False, "*")."""
    out = []
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        weak = item.startswith("W/")
        if weak:
            item = item[2:]
        out.append((weak, item))
    return out


def _strong_match(header: str, etag: str) -> bool:
    # §8.8.3.2 strong comparison: both strong and identical. "*" matches any current one.
    return any(tag == "*" or (not weak and tag == etag) for weak, tag in _tags(header))


def _weak_match(header: str, etag: str) -> bool:
    # §8.8.3.2 weak comparison: opaque tags equal, weakness ignored.
    bare = etag[2:] if etag.startswith("W/") else etag
    return any(tag == "*" or tag == bare for _, tag in _tags(header))


def evaluate(method: str, headers: Mapping[str, str], etag: str, mtime: int) -> Optional[int]:
    """RFC 9110 §13.2.2 for a GET or HEAD of an existing representation.

    ``headers`` maps lower-case field names to values; ``mtime`` is Last-Modified in
    whole seconds. Returns 412, 304 or None (evaluate Range next, then serve).
    """
    # 1. "When recipient is the origin server and If-Match is present, evaluate the
    #    If-Match precondition: if true, continue to step 3; if false, respond 412."
    if_match = headers.get("if-match")
    if if_match is not None:
        if not _strong_match(if_match, etag):
            return 412
    else:
        # 2. "When ... If-Match is not present, and If-Unmodified-Since is present,
        #    evaluate ...: if false, respond 412." An invalid date is ignored (§13.1.4).
        ius = headers.get("if-unmodified-since")
        if ius is not None:
            date = parse_http_date(ius)
            if date is not None and mtime > date:
                return 412
    # 3. "When If-None-Match is present, evaluate ...: if false for GET/HEAD, respond
    #    304 (Not Modified)." (false means: some tag matched)
    inm = headers.get("if-none-match")
    if inm is not None:
        if _weak_match(inm, etag):
            return 304 if method in ("GET", "HEAD") else 412
        return None
    # 4. "When the method is GET or HEAD, If-None-Match is not present, and
    #    If-Modified-Since is present, evaluate ...: if false, respond 304."
    if method in ("GET", "HEAD"):
        ims = headers.get("if-modified-since")
        if ims is not None:
            date = parse_http_date(ims)
            if date is not None and mtime <= date:
                return 304
    return None


def if_range_holds(value: str, etag: str, mtime: int) -> bool:
    """§13.1.5: True if the Range may be honoured, False to send the whole thing.

    An entity-tag must match strongly (a weak tag never does); a date must equal
    Last-Modified exactly. "A client MUST NOT generate an If-Range header field
    containing an entity tag that is marked as weak", so a W/ tag just fails.
    """
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag
    date = parse_http_date(value)
    return date is not None and date == mtime


__all__ = ["make_etag", "parse_http_date", "evaluate", "if_range_holds"]
