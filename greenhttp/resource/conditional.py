"""Entity tags and HTTP-dates for conditional requests (RFC 9110 §8.8, §13.1).

Pure functions: parse If-Match / If-None-Match lists, compare tags strongly or weakly,
parse and format HTTP-dates, and truncate resource times to whole seconds so that a
client echoing Last-Modified gets the answer RFC 9110 §13.1.3-4 promises.
"""

from __future__ import annotations

import datetime
import email.utils
from typing import NamedTuple

UTC = datetime.timezone.utc


class ETag(NamedTuple):
    weak: bool
    opaque: str

    def __str__(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'


def quote_etag(value: str) -> str:
    """The ETag field value for ``generate_etag()``: ``abc`` → ``"abc"``; quoted ones kept."""
    value = value.strip()
    if value.startswith('"') or value.startswith('W/"'):
        return value
    return f'"{value}"'


def weak_etag(value: str) -> str:
    """``W/"value"``: for representations that are equivalent but not byte-identical."""
    return f'W/"{value}"' if not value.startswith('"') else f"W/{value}"


def parse_etag(value: str) -> ETag:
    value = quote_etag(value)
    weak = value.startswith("W/")
    return ETag(weak, value[3 if weak else 1:].rstrip('"'))


def parse_etag_list(header: str) -> list[ETag] | None:
    """If-Match / If-None-Match: None for a bare ``*``, else the listed tags.

    Commas inside a quoted tag belong to it (§8.8.3 etagc allows them). Unquoted tokens
    are tolerated as strong tags: old clients send them and the intent is clear.
    """
    text = header.strip()
    if text == "*":
        return None
    tags: list[ETag] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n:
            break
        weak = text.startswith("W/", i)
        if weak:
            i += 2
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            tags.append(ETag(weak, text[i + 1:end]))
            i = end + 1
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            token = text[i:end].strip()
            if token:
                tags.append(ETag(weak, token))
            i = end
    return tags


def strong_match(tags: list[ETag], current: str | None) -> bool:
    """RFC 9110 §8.8.3.2: both strong and opaque-equal. No current ETag → no match."""
    if current is None:
        return False
    mine = parse_etag(current)
    return not mine.weak and any(not tag.weak and tag.opaque == mine.opaque for tag in tags)


def weak_match(tags: list[ETag], current: str | None) -> bool:
    """RFC 9110 §8.8.3.2: opaque-equal, weakness ignored (what If-None-Match uses)."""
    if current is None:
        return False
    mine = parse_etag(current)
    return any(tag.opaque == mine.opaque for tag in tags)


def parse_http_date(value: str) -> datetime.datetime | None:
    """An HTTP-date (IMF-fixdate or the obsolete forms) as aware UTC; None when invalid,
    which RFC 9110 §13.1.3-4 says makes the precondition be ignored."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return whole_seconds(parsed)


def whole_seconds(moment: datetime.datetime) -> datetime.datetime:
    """Aware UTC, truncated to the second: HTTP-dates have no finer resolution (§5.6.7)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def format_http_date(moment: datetime.datetime) -> str:
    """IMF-fixdate, the one form RFC 9110 §5.6.7 lets a sender generate."""
    return email.utils.format_datetime(whole_seconds(moment), usegmt=True)
