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
import time
from email.utils import formatdate
from functools import lru_cache
from typing import Any, Callable, Iterable, Optional
from urllib.parse import quote

from greenhttp import FileWrapper, status_line
from greenhttp.headers import environ_key

from .cache import SMALL_BODY, VALID, FileCache, Rep, Resource
from .conditional import evaluate, if_range_holds, make_etag
from .listing import read_directory, render_html, render_json, wants_json
from .mimetypes import CODINGS, accepted_codings, content_type
from .paths import Entry, Refused, Root, check_raw, open_at, request_segments
from .ranges import UNSATISFIABLE, content_range, plan_ranges

StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]

_SUFFIX = dict(CODINGS)
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
# (field name, its environ key)
_CONDITIONAL = tuple((name, environ_key(name) or "") for name in
                     ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since"))
# Status lines of the hot path, built once from the one table of reason phrases.
_OK, _PARTIAL, _NOT_MODIFIED = status_line(200), status_line(206), status_line(304)
_NOT_MODIFIED_KEEP = ("Vary", "ETag", "Last-Modified", "Cache-Control")
#: Accept-Encoding values repeat (a browser sends the same one every time): parse each once.
_accepted = lru_cache(maxsize=256)(accepted_codings)


class Files:
    """Serve the files under ``root``.

    ``listings``: list directories without an index file (else 404). ``index``: the
    file served for a directory (None: none). ``cache_control``: a Cache-Control value
    for every file response, e.g. ``"public, max-age=31536000, immutable"`` for
    fingerprinted assets (None: none, so caches revalidate using ETag and
    Last-Modified). ``follow_symlinks``: follow symlinks that stay inside the root
    (default: refuse all symlinks). ``allow_hidden``: serve dotfiles.
    ``precompressed``: serve ``name.br``/``name.zst``/``name.gz`` to clients that
    accept them. ``cache_valid``: seconds a path's checked walk, validators and (for
    small files) content are reused, 0 for never (:mod:`.cache`: the window in which
    a changed file may still be served as it was).
    """

    def __init__(self, root: str, *, listings: bool = False, index: Optional[str] = "index.html",
                 cache_control: Optional[str] = None, follow_symlinks: bool = False,
                 allow_hidden: bool = False, precompressed: bool = True,
                 cache_valid: float = VALID) -> None:
        self.root = Root(root, follow_symlinks=follow_symlinks, allow_hidden=allow_hidden)
        self.listings = listings
        self.index = index
        self.cache_control = cache_control
        self.follow_symlinks = follow_symlinks
        self.allow_hidden = allow_hidden
        self.precompressed = precompressed
        self.cache = FileCache(cache_valid)

    def __repr__(self) -> str:
        return f"Files({self.root.path!r}, listings={self.listings})"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            # RFC 9110 §15.5.6: a 405 "MUST generate an Allow header field".
            return _plain(start_response, 405, [("Allow", "GET, HEAD")], method)
        path_info = environ.get("PATH_INFO", "")
        try:
            check_raw(environ.get("RAW_URI") or environ.get("REQUEST_URI"))
        except Refused:
            return _plain(start_response, 404, [], method)
        # Only a path that passed every check below gets an entry, under its PATH_INFO.
        resource = self.cache.get(path_info)
        if resource is not None:
            answer = self._answer(environ, start_response, resource, {})
            if answer is not None:
                return answer
            self.cache.drop(path_info)  # no longer the file the walk checked: walk again
        try:
            segments = request_segments(path_info, None, self.allow_hidden)
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
                              segments)
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
                    return self._file(environ, start_response, fd, st, entry.fd,
                                      segments + [self.index])
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
        start_response(_OK, headers)
        return [] if method == "HEAD" else [body]

    # -- files ------------------------------------------------------------------------

    def _file(self, environ: dict[str, Any], start_response: StartResponse, fd: int,
              st: os.stat_result, dir_fd: int, segments: list[str]) -> Iterable[bytes]:
        """Answer with the regular file open as ``fd`` (the last of ``segments``, in
        ``dir_fd``), which this method owns: it is closed here, or handed to the
        returned body, whose ``close()`` closes it. Caches what it learnt."""
        fds: dict[Optional[str], int] = {None: fd}
        try:
            checked = time.monotonic()
            name = segments[-1]
            ctype = content_type(name)
            stats: dict[Optional[str], os.stat_result] = {None: st}
            if self.precompressed:
                for coding, suffix in CODINGS:
                    try:
                        fds[coding], stats[coding] = self._open_sibling(dir_fd, name + suffix, segments)
                    except Refused:
                        continue
                    if not stat.S_ISREG(stats[coding].st_mode):
                        os.close(fds.pop(coding))
                        del stats[coding]
            # Vary whenever a sibling exists, even for a request without Accept-Encoding:
            # a cache in front stores this answer for every request to the URL unless Vary
            # tells it the representation depends on Accept-Encoding (RFC 9110 §12.5.5).
            vary = len(fds) > 1
            path = os.path.join(self.root.path, *segments)
            reps = {coding: self._rep(path + (_SUFFIX[coding] if coding else ""), fds[coding],
                                      stats[coding], coding, ctype, vary)
                    for coding in fds}
            resource = Resource(reps, checked)
            self.cache.put(environ.get("PATH_INFO", ""), resource)
            answer = self._answer(environ, start_response, resource, fds)
            assert answer is not None  # the descriptors are given: nothing to reopen
            return answer
        finally:
            for left in fds.values():
                os.close(left)

    def _rep(self, path: str, fd: int, st: os.stat_result, coding: Optional[str], ctype: str,
             vary: bool) -> Rep:
        etag = make_etag(st.st_ino, st.st_size, st.st_mtime_ns, coding or "")
        headers: Headers = [("Content-Type", ctype)]
        if coding is not None:
            headers.append(("Content-Encoding", coding))
        if vary:
            headers.append(("Vary", "Accept-Encoding"))
        headers += [("ETag", etag), ("Last-Modified", formatdate(int(st.st_mtime), usegmt=True))]
        if self.cache_control:
            headers.append(("Cache-Control", self.cache_control))
        # RFC 9110 §15.4.5: a 304 carries the validators and Cache-Control/Vary the 200
        # would have, and no representation metadata like Content-Type.
        not_modified = [h for h in headers if h[0] in _NOT_MODIFIED_KEEP]
        headers += [_NOSNIFF, ("Accept-Ranges", "bytes")]
        body = None
        if st.st_size <= SMALL_BODY:
            body = os.pread(fd, st.st_size, 0)
            if len(body) != st.st_size:
                body = None  # changing under us: not cached, sent from the descriptor
        return Rep(path, st, etag, coding, ctype, headers, not_modified, body)

    def _answer(self, environ: dict[str, Any], start_response: StartResponse, resource: Resource,
                fds: dict[Optional[str], int]) -> Optional[Iterable[bytes]]:
        """Answer from ``resource``. ``fds`` holds the open descriptors of its
        representations (the one used is taken out of it); when empty, the file is
        reopened and checked to be the cached inode. None: it is not (nothing was sent)."""
        method = environ["REQUEST_METHOD"]
        reps = resource.reps
        rep = reps[None]
        if len(reps) > 1:
            for coding in _accepted(environ.get("HTTP_ACCEPT_ENCODING")):
                if coding in reps:
                    rep = reps[coding]
                    break
        etag = rep.etag
        conditions = {h: environ[k] for h, k in _CONDITIONAL if k in environ}
        status = evaluate(method, conditions, etag, rep.mtime) if conditions else None
        if status == 304:
            start_response(_NOT_MODIFIED, list(rep.not_modified))
            return []
        if status == 412:
            return _plain(start_response, 412, [], method)
        size = rep.size
        range_header = environ.get("HTTP_RANGE") if method == "GET" else None  # §14.2: GET only
        if range_header is not None:
            if_range = environ.get("HTTP_IF_RANGE")
            if if_range is not None and not if_range_holds(if_range, etag, rep.mtime):
                range_header = None
        plan = plan_ranges(range_header, size)
        if plan is UNSATISFIABLE:
            # §15.5.17: "SHOULD send a Content-Range header field for an unsatisfied range".
            return _plain(start_response, 416, [("Content-Range", f"bytes */{size}")], method)
        if method == "HEAD" and plan is None:
            start_response(_OK, list(rep.full))
            return []
        body = rep.body
        fd = -1
        if body is None:
            reopened = fds.pop(rep.coding) if fds else rep.reopen(nofollow=not self.follow_symlinks)
            if reopened is None:
                return None
            fd = reopened
        owned = [fd]
        try:
            if isinstance(plan, list) and len(plan) > 1:
                return self._multipart(start_response, rep, owned, body, plan)
            if isinstance(plan, list):
                start, end = plan[0]
                start_response(_PARTIAL, rep.headers + [
                    ("Content-Range", content_range(start, end, size)),
                    ("Content-Length", str(end - start))])
                if body is not None:
                    return [body[start:end]]
                return self._wrap(owned, offset=start, count=end - start)
            start_response(_OK, list(rep.full))
            if body is not None:
                return [body]
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

    def _open_sibling(self, dir_fd: int, name: str, segments: list[str]) -> tuple[int, os.stat_result]:
        """Open the sibling ``name`` of the file named by ``segments`` (in ``dir_fd``).

        With ``follow_symlinks`` a symlinked sibling (``app.js.gz -> build/app.js.gz``) is
        followed under the rule every other path follows: resolved, served only if it stays
        inside the root and is not hidden (:meth:`Root.open`).
        """
        if not self.follow_symlinks:
            return open_at(dir_fd, name)
        entry = self.root.open(segments[:-1] + [name])
        os.close(entry.parent_fd)
        return entry.fd, entry.stat

    def _multipart(self, start_response: StartResponse, rep: Rep, owned: list[int],
                   body: Optional[bytes], plan: list[tuple[int, int]]) -> Iterable[bytes]:
        """RFC 9110 §14.6 multipart/byteranges, parts in ascending order."""
        size = rep.size
        boundary = secrets.token_hex(12)
        heads = [(f"\r\n--{boundary}\r\nContent-Type: {rep.content_type}\r\n"
                  f"Content-Range: {content_range(start, end, size)}\r\n\r\n").encode("latin-1")
                 for start, end in plan]
        tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
        length = sum(len(h) for h in heads) + sum(e - s for s, e in plan) + len(tail)
        headers = [h for h in rep.headers if h[0] != "Content-Type"]
        headers += [("Content-Type", f"multipart/byteranges; boundary={boundary}"),
                    ("Content-Length", str(length))]
        start_response(_PARTIAL, headers)
        if body is not None:
            return [b"".join(h + body[s:e] for h, (s, e) in zip(heads, plan)) + tail]
        if length <= SMALL_BODY:  # a few KiB: one send beats a send and a sendfile per part
            fd = owned[0]
            return [b"".join(h + os.pread(fd, e - s, s) for h, (s, e) in zip(heads, plan)) + tail]
        # Each part's head and then its slice with sendfile(2), the same loop as a single
        # range (greenhttp/sendfile.py); read/send under TLS (FileWrapper's iteration).
        pieces: list[bytes | tuple[int, int]] = []
        for head, (start, end) in zip(heads, plan):
            pieces += [head, (start, end - start)]
        pieces.append(tail)
        file = os.fdopen(owned[0], "rb", buffering=0)
        owned[0] = -1  # the file object owns the descriptor now; the server closes it
        return FileWrapper(file, pieces=pieces)


def _plain(start_response: StartResponse, status: int, extra: Headers, method: str) -> list[bytes]:
    line = status_line(status)
    body = f"{line}\n".encode("ascii")
    start_response(line, [("Content-Type", "text/plain; charset=utf-8"),
                                          ("Content-Length", str(len(body))), _NOSNIFF] + extra)
    return [] if method == "HEAD" else [body]


__all__ = ["Files"]
