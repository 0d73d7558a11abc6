"""Directory listings: HTML for browsers, JSON for ``Accept: application/json``. Pure
apart from reading the directory it is handed.

Shown: regular files and directories (and, when symlinks are followed, symlinks),
never hidden entries unless they are served, never devices or FIFOs: a listing shows
nothing the server would then refuse. Directories first, then by name, case-folded.
At most :data:`MAX_ENTRIES` entries, so a huge directory cannot stall the process.
"""

from __future__ import annotations

import html
import json
import os
import stat
import time
from typing import Any, Final, NamedTuple
from urllib.parse import quote

#: Entries listed at most; more are cut off and the listing says so.
MAX_ENTRIES: Final = 10_000


class Item(NamedTuple):
    name: str
    is_dir: bool
    size: int
    mtime: float


def read_directory(dir_fd: int, allow_hidden: bool, follow_symlinks: bool) -> tuple[list[Item], bool]:
    """The listable entries of the open directory ``dir_fd``, sorted; and "truncated"."""
    items: list[Item] = []
    truncated = False
    with os.scandir(dir_fd) as it:
        for entry in it:
            name = entry.name
            if name.startswith(".") and not allow_hidden:
                continue
            try:
                if entry.is_symlink() and not follow_symlinks:
                    continue
                st = entry.stat(follow_symlinks=True)
            except OSError:
                continue  # dangling link, or removed meanwhile
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                continue
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                continue  # undecodable name: its URL would be refused anyway
            if len(items) >= MAX_ENTRIES:
                truncated = True
                break
            items.append(Item(name, stat.S_ISDIR(st.st_mode), st.st_size, st.st_mtime))
    items.sort(key=lambda i: (not i.is_dir, i.name.casefold(), i.name))
    return items, truncated


def wants_json(accept: str | None) -> bool:
    """JSON when the client names application/json and not text/html (fetch, curl -H)."""
    if not accept:
        return False
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return "application/json" in types and "text/html" not in types


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


def _date(mtime: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(mtime))


def render_html(url_path: str, items: list[Item], truncated: bool, at_root: bool) -> bytes:
    title = html.escape(f"Index of {url_path}")
    rows = [] if at_root else ['<tr><td><a href="../">../</a></td><td></td><td></td></tr>']
    for item in items:
        label = item.name + ("/" if item.is_dir else "")
        href = quote(item.name) + ("/" if item.is_dir else "")
        size = "-" if item.is_dir else _size(item.size)
        rows.append(f'<tr><td><a href="{html.escape(href)}">{html.escape(label)}</a></td>'
                    f'<td>{size}</td><td>{_date(item.mtime)}</td></tr>')
    note = f"<p>Only the first {MAX_ENTRIES} entries are listed.</p>" if truncated else ""
    page = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body><h1>{title}</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified (UTC)</th></tr>\n"
            + "\n".join(rows) + f"\n</table>{note}\n</body></html>\n")
    return page.encode("utf-8")


def render_json(url_path: str, items: list[Item], truncated: bool) -> bytes:
    doc: dict[str, Any] = {
        "path": url_path,
        "entries": [{"name": i.name, "type": "directory" if i.is_dir else "file",
                     "size": None if i.is_dir else i.size,
                     "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(i.mtime))}
                    for i in items],
        "truncated": truncated,
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


__all__ = ["Item", "read_directory", "wants_json", "render_html", "render_json", "MAX_ENTRIES"]
