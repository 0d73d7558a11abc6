"""``Files``: a WSGI app that serves one directory tree (GET and HEAD only).

Per request: resolve the path safely (:mod:`.paths`), pick a precompressed sibling
(:mod:`.mimetypes`), evaluate preconditions (:mod:`.conditional`), then ranges
(:mod:`.ranges`), and answer. The file is opened once; its descriptor goes to a
:class:`greenhttp.FileWrapper` (with offset and count for a range), which the
greenhttp server sends with sendfile(2) on plain TCP and with read/send under TLS,
and which it closes when the response ends, also when the client left mid-file.
Every other exit closes what was opened in a ``finally``.
"""

from __future__ import annotations

import os
import secrets
import stat
from email.utils import formatdate
from typing import Any, Callable, Iterable, Iterator, Optional
from urllib.parse import quote

from greenhttp import FileWrapper, status_line
from greenhttp.headers import environ_key

from .conditional import evaluate, if_range_holds, make_etag
from .listing import read_directory, render_html, render_json, wants_json
from .mimetypes import CODINGS, accepted_codings, content_type
from .paths import Entry, Refused, Root, open_at, request_segments
from .ranges import UNSATISFIABLE, content_range, plan_ranges

StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]

_SUFFIX = dict(CODINGS)
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
#: Bodies up to this size are read and sent with the head in one send(2): cheaper than a
#: send for the head plus a sendfile(2) for a few KiB (measured: benchmarks/static.py, 4kib).
SMALL_BODY = 16 * 1024
# (field name, its environ key)
_CONDITIONAL = [(name, environ_key(name) or "") for name in
                ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since")]


class Files:
    """Serve the files under ``root``.

    ``listings``: list directories without an index file (else 404). ``index``: the
    file served for a directory (None: none). ``cache_control``: a Cache-Control value
    for every file response, e.g. ``"public, max-age=31536000, immutable"`` for
    fingerprinted assets (None: none, so caches revalidate using ETag and
    Last-Modified). ``follow_symlinks``: follow symlinks that stay inside the root
    (default: refuse all symlinks). ``allow_hidden``: serve dotfiles.
    ``precompressed``: serve ``name.br``/``name.zst``/``name.gz`` to clients that
    accept them.
    """

    def __init__(self, root: str, *, listings: bool = False, index: Optional[str] = "index.html",
                 cache_control: Optional[str] = None, follow_symlinks: bool = False,
                 allow_hidden: bool = False, precompressed: bool = True) -> None:
        self.root = Root(root, follow_symlinks=follow_symlinks, allow_hidden=allow_hidden)
        self.listings = listings
        self.index = index
        self.cache_control = cache_control
        self.follow_symlinks = follow_symlinks
        self.allow_hidden = allow_hidden
        self.precompressed = precompressed

    def __repr__(self) -> str:
        return f"Files({self.root.path!r}, listings={self.listings})"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            # RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field".
            return _plain(start_response, 405, [("Allow", "GET, HEAD")], method)
        path_info = environ.get("PATH_INFO", "")
        try:
            segments = request_segments(path_info, environ.get("RAW_URI") or environ.get("REQUEST_URI"),
                                        self.allow_hidden)
            entry = self.root.open(segments)
        except Refused:
            return _plain(start_response, 404, [], method)
        try:
            if entry.is_dir:
                try:
                    return self._directory(environ, start_response, entry, segments)
                finally:
                    os.close(entry.fd)
            if path_info.endswith("/"):
                # "/a.txt/" names a directory that does not exist (open(2): ENOTDIR).
                os.close(entry.fd)
                return _plain(start_response, 404, [], method)
            return self._file(environ, start_response, entry.fd, entry.stat, entry.parent_fd,
                              entry.name)
        finally:
            os.close(entry.parent_fd)

    # -- directories ------------------------------------------------------------------

    def _directory(self, environ: dict[str, Any], start_response: StartResponse, entry: Entry,
                   segments: list[str]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        url_path = environ.get("SCRIPT_NAME", "") + "/" + "/".join(segments)
        if segments:
            url_path += "/"
        if not environ.get("PATH_INFO", "").endswith("/"):
            # Relative links in the page resolve against the directory only with the
            # slash (nginx and Apache redirect the same way). The Location is rebuilt
            # from the checked segments: never "//host", so never an open redirect.
            location = quote(url_path.encode("latin-1"), safe="/!$&'()*+,;=:@-._~")
            query = environ.get("QUERY_STRING")
            if query:
                location += "?" + query
            return _plain(start_response, 301, [("Location", location)], method)
        if self.index:
            try:
                fd, st = open_at(entry.fd, self.index)
            except Refused:
                pass
            else:
                if stat.S_ISREG(st.st_mode):
                    return self._file(environ, start_response, fd, st, entry.fd, self.index)
                os.close(fd)
        if not self.listings:
            return _plain(start_response, 404, [], method)
        items, truncated = read_directory(entry.fd, self.allow_hidden, self.follow_symlinks)
        if wants_json(environ.get("HTTP_ACCEPT")):
            body = render_json(url_path, items, truncated)
            ctype = "application/json"
        else:
            body = render_html(url_path, items, truncated, at_root=not segments)
            ctype = "text/html; charset=utf-8"
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body))),
                   ("Vary", "Accept"), ("Cache-Control", "no-cache"), _NOSNIFF]
        start_response(status_line(200), headers)
        return [] if method == "HEAD" else [body]

    # -- files ------------------------------------------------------------------------

    def _file(self, environ: dict[str, Any], start_response: StartResponse, fd: int,
              st: os.stat_result, dir_fd: int, name: str) -> Iterable[bytes]:
        """Answer with the regular file open as ``fd``, which this method owns: it is
        closed here, or handed to the returned body, whose ``close()`` closes it."""
        method = environ["REQUEST_METHOD"]
        owned = [fd]
        try:
            headers: Headers = [("Content-Type", content_type(name))]
            coding = None
            if self.precompressed:
                coding, vary = self._sibling(environ.get("HTTP_ACCEPT_ENCODING"), dir_fd, name, owned)
                if coding is not None:
                    st = os.fstat(owned[0])
                    headers.append(("Content-Encoding", coding))
                if vary:
                    headers.append(("Vary", "Accept-Encoding"))
            etag = make_etag(st.st_ino, st.st_size, st.st_mtime_ns, coding or "")
            mtime = int(st.st_mtime)
            validators = [("ETag", etag), ("Last-Modified", formatdate(mtime, usegmt=True))]
            if self.cache_control:
                validators.append(("Cache-Control", self.cache_control))
            headers += validators
            headers.append(_NOSNIFF)
            conditions = {h: environ[k] for h, k in _CONDITIONAL if k in environ}
            status = evaluate(method, conditions, etag, mtime) if conditions else None
            if status == 304:
                # RFC 9110 §15.4.5: a 304 carries the validators and Cache-Control/Vary the
                # 200 would have, and no representation metadata like Content-Type.
                keep = [h for h in headers if h[0] in ("Vary", "ETag", "Last-Modified", "Cache-Control")]
                start_response(status_line(304), keep)
                return []
            if status == 412:
                return _plain(start_response, 412, [], method)
            size = st.st_size
            headers.append(("Accept-Ranges", "bytes"))
            range_header = environ.get("HTTP_RANGE") if method == "GET" else None  # §14.2: GET only
            if range_header is not None:
                if_range = environ.get("HTTP_IF_RANGE")
                if if_range is not None and not if_range_holds(if_range, etag, mtime):
                    range_header = None
            plan = plan_ranges(range_header, size)
            if plan is UNSATISFIABLE:
                # §15.5.17: "SHOULD send a Content-Range header field for an unsatisfied range".
                return _plain(start_response, 416, [("Content-Range", f"bytes */{size}")], method)
            if isinstance(plan, list) and len(plan) > 1:
                return self._multipart(start_response, headers, owned, plan, size)
            if isinstance(plan, list):
                start, end = plan[0]
                headers += [("Content-Range", content_range(start, end, size)),
                            ("Content-Length", str(end - start))]
                start_response(status_line(206), headers)
                return self._wrap(owned, offset=start, count=end - start)
            headers.append(("Content-Length", str(size)))
            start_response(status_line(200), headers)
            if method == "HEAD":
                return []
            return self._wrap(owned, offset=0, count=size)
        finally:
            if owned[0] >= 0:
                os.close(owned[0])

    @staticmethod
    def _wrap(owned: list[int], offset: int, count: int) -> Iterable[bytes]:
        if count <= SMALL_BODY:
            return [os.pread(owned[0], count, offset)]  # owned[0] is closed by the caller
        file = os.fdopen(owned[0], "rb", buffering=0)
        owned[0] = -1  # the file object owns the descriptor now; the server closes it
        return FileWrapper(file, offset=offset, count=count)

    def _sibling(self, accept_encoding: Optional[str], dir_fd: int, name: str,
                 owned: list[int]) -> tuple[Optional[str], bool]:
        """Swap ``owned[0]`` for the best precompressed sibling the client accepts.

        Returns (coding or None, whether any sibling exists: then Vary is needed, RFC
        9110 §12.5.5, because the answer depends on Accept-Encoding).
        """
        if not accept_encoding:
            return None, False
        accepted = accepted_codings(accept_encoding)
        order = accepted + [c for c, _ in CODINGS if c not in accepted]
        found = False
        for coding in order:
            try:
                fd, st = open_at(dir_fd, name + _SUFFIX[coding])
            except Refused:
                continue
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                continue
            found = True
            if coding in accepted:
                os.close(owned[0])
                owned[0] = fd
                return coding, True
            os.close(fd)
        return None, found

    def _multipart(self, start_response: StartResponse, headers: Headers, owned: list[int],
                   plan: list[tuple[int, int]], size: int) -> Iterable[bytes]:
        """RFC 9110 §14.6 multipart/byteranges, parts in ascending order."""
        ctype = headers[0][1]
        boundary = secrets.token_hex(12)
        heads = [(f"\r\n--{boundary}\r\nContent-Type: {ctype}\r\n"
                  f"Content-Range: {content_range(start, end, size)}\r\n\r\n").encode("latin-1")
                 for start, end in plan]
        tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
        length = sum(len(h) for h in heads) + sum(e - s for s, e in plan) + len(tail)
        headers = [h for h in headers if h[0] != "Content-Type"]
        headers += [("Content-Type", f"multipart/byteranges; boundary={boundary}"),
                    ("Content-Length", str(length))]
        start_response(status_line(206), headers)
        parts = _Parts(owned[0], list(zip(heads, plan)), tail)
        owned[0] = -1
        return parts


class _Parts:
    """The body of a multipart/byteranges answer; closes the file in ``close()``
    (a generator's ``finally`` would not run if the server never started it)."""

    BLOCK = 65536

    def __init__(self, fd: int, parts: list[tuple[bytes, tuple[int, int]]], tail: bytes) -> None:
        self.fd = fd
        self.parts = parts
        self.tail = tail

    def __iter__(self) -> Iterator[bytes]:
        for head, (start, end) in self.parts:
            yield head
            while start < end:
                data = os.pread(self.fd, min(self.BLOCK, end - start), start)
                if not data:
                    return  # the file shrank: the server sees the short body and closes
                start += len(data)
                yield data
        yield self.tail

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _plain(start_response: StartResponse, status: int, extra: Headers, method: str) -> list[bytes]:
    line = status_line(status)
    body = f"{line}\n".encode("ascii")
    start_response(line, [("Content-Type", "text/plain; charset=utf-8"),
                                          ("Content-Length", str(len(body))), _NOSNIFF] + extra)
    return [] if method == "HEAD" else [body]


__all__ = ["Files"]
