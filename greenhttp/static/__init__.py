"""Static files: ``greenhttp DIR``, ``--static /PREFIX=DIR`` and :class:`Files` for code.

Owns: safe path resolution (``paths``), Range and If-Range (``ranges``), validators and
preconditions (``conditional``), Content-Type and precompressed-sibling choice
(``mimetypes``), the per-path cache of walks, validators and small files (``cache``),
directory listings (``listing``), the WSGI app (``files``) and prefix mounting (``mount``).

May import: the stdlib, and greenhttp's public top-level API (``greenhttp.FileWrapper``)
in ``files`` only. ``paths``, ``ranges``, ``conditional``, ``mimetypes``, ``cache`` and ``listing``
are pure (no socket, no gevent) and tested without a server.
"""

from .files import Files
from .mount import build_static_app, is_static_dir, mount, parse_mount

__all__ = ["Files", "mount", "parse_mount", "build_static_app", "is_static_dir"]
