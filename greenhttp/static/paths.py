"""From a request path to an open file descriptor, never outside the root.

Two steps, each refusing (:class:`Refused`, answered 404) rather than repairing:

1. :func:`request_segments` turns ``PATH_INFO`` into path segments. It refuses, not
   normalises: ``.`` and ``..`` segments, backslashes, NUL, encoded slashes and
   backslashes (seen in the raw URI, since PATH_INFO is already decoded), anything
   still percent-encoded after the one decoding the server did (double encoding),
   bytes that are not strict UTF-8 (overlong forms such as ``%c0%ae`` included), and
   dotfiles unless allowed. Repairing invites the bugs where the repaired path and
   the opened path differ (nginx's merge_slashes and Apache's path-normalisation
   CVEs); a refused path cannot differ from anything.
2. :meth:`Root.open` walks the segments one directory at a time with ``openat``-style
   ``dir_fd`` calls and ``O_NOFOLLOW``: every component is lstat-ed, must be a
   directory (or, last, a regular file), and the descriptor opened is checked to be
   the inode that was lstat-ed. A symlink anywhere is refused, so is a device, FIFO
   or socket, and nothing is opened before its type is known (opening a FIFO
   blocks; opening a tty can have side effects). With ``follow_symlinks`` the path is
   first resolved with ``realpath`` and served only if it lies inside the root; the
   resolved path is then walked the same way.

Uses only ``os``: no sockets, no gevent.
"""

from __future__ import annotations

import os
import stat
from typing import NamedTuple, Optional

#: Left percent-encoded after one decoding: a double-encoded dot, slash, backslash or NUL.
_STILL_ENCODED = ("%2e", "%2f", "%5c", "%00")
#: Encoded in the raw URI: a slash or backslash that would not be a segment separator.
_RAW_REFUSED = ("%2f", "%5c", "%00")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW
# O_NONBLOCK: if a FIFO is swapped in between lstat and open, open must not hang.
_FILE_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


class Refused(Exception):
    """The path is not served (404): unsafe, missing, or not a file or directory."""


def request_segments(path_info: str, raw_path: Optional[str] = None,
                     allow_hidden: bool = False) -> list[str]:
    """The safe segments of a WSGI ``PATH_INFO`` (latin-1 decoded bytes, PEP 3333).

    ``raw_path`` is the request target's path as received (``RAW_URI`` or
    ``REQUEST_URI``), when the server provides it.
    """
    check_raw(raw_path)
    try:
        text = path_info.encode("latin-1").decode("utf-8")  # strict: no overlong forms
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise Refused("not UTF-8") from None
    if "\\" in text or "\x00" in text:
        raise Refused("backslash or NUL")
    segments = []
    for segment in text.split("/"):
        if not segment:
            continue  # "//": one separator, as every file system reads it
        if segment in (".", ".."):
            raise Refused("dot segment")
        if segment[0] == "." and not allow_hidden:
            raise Refused("hidden file")
        if "%" in segment and any(code in segment.lower() for code in _STILL_ENCODED):
            raise Refused("double-encoded")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in segment):
            raise Refused("control character")
        segments.append(segment)
    return segments


def check_raw(raw_path: Optional[str]) -> None:
    """Refuse a raw request path with an encoded slash, backslash or NUL (which PATH_INFO,
    already decoded, cannot show)."""
    if raw_path is not None and "%" in raw_path:
        lowered = raw_path.partition("?")[0].lower()
        if any(code in lowered for code in _RAW_REFUSED):
            raise Refused("encoded slash, backslash or NUL")


class Entry(NamedTuple):
    """An open file or directory; the caller closes ``fd`` and ``parent_fd``."""

    fd: int
    stat: os.stat_result
    parent_fd: int  # the directory that holds it (for .br/.gz siblings, index.html)
    name: str       # its name in that directory ("" for the root itself)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.stat.st_mode)


def open_at(dir_fd: int, name: str) -> tuple[int, os.stat_result]:
    """Open ``name`` in ``dir_fd`` if it is a regular file or a directory, not a link."""
    try:
        before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        mode = before.st_mode
        if stat.S_ISDIR(mode):
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        elif stat.S_ISREG(mode):
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        else:
            raise Refused("symlink, device, FIFO or socket")
    except (OSError, ValueError) as exc:
        raise Refused(str(exc)) from None
    try:
        after = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise Refused(str(exc)) from None
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise Refused("replaced while opening")
    return fd, after


class Root:
    """A directory served as ``/``; :meth:`open` resolves segments inside it only."""

    def __init__(self, directory: str, follow_symlinks: bool = False,
                 allow_hidden: bool = False) -> None:
        self.path = os.path.realpath(directory)
        if not os.path.isdir(self.path):
            raise ValueError(f"not a directory: {directory}")
        self.follow_symlinks = follow_symlinks
        self.allow_hidden = allow_hidden

    def open(self, segments: list[str]) -> Entry:
        """Open the entry the segments name. Raises :class:`Refused`."""
        if self.follow_symlinks and segments:
            segments = self._resolve(segments)
        try:
            parent = os.open(self.path, _DIR_FLAGS)
        except OSError as exc:
            raise Refused(str(exc)) from None
        if not segments:
            try:
                fd = os.open(".", _DIR_FLAGS, dir_fd=parent)
                return Entry(fd, os.fstat(fd), parent, "")
            except OSError as exc:
                os.close(parent)
                raise Refused(str(exc)) from None
        try:
            for segment in segments[:-1]:
                fd, st = open_at(parent, segment)
                os.close(parent)
                parent = fd
                if not stat.S_ISDIR(st.st_mode):
                    raise Refused("not a directory")
            fd, st = open_at(parent, segments[-1])
        except BaseException:
            os.close(parent)
            raise
        return Entry(fd, st, parent, segments[-1])

    def _resolve(self, segments: list[str]) -> list[str]:
        real = os.path.realpath(os.path.join(self.path, *segments))
        if real == self.path:
            return []
        if not real.startswith(self.path.rstrip(os.sep) + os.sep):
            raise Refused("symlink leads outside the root")
        resolved = real[len(self.path.rstrip(os.sep)) + 1:].split(os.sep)
        if not self.allow_hidden and any(s.startswith(".") for s in resolved):
            raise Refused("symlink leads to a hidden file")
        return resolved


__all__ = ["Refused", "Entry", "Root", "request_segments", "check_raw", "open_at"]
