"""The client: public calls, ``Client`` sessions, the pool, routing and the transport.

Owns everything on the sending side of HTTP: the module-level calls and ``Client``,
``Response``, the one exchange loop that drives ``protocol.ClientProtocol``, the pool
(which knows streams, not the protocol), routing (URLs, proxies, redirects: no I/O)
and the transport (sockets, TLS, CONNECT, sendfile: the one place foreign exceptions
become greenhttp's). It may import ``greenhttp.protocol`` and the shared top-level
modules, never the server or the proxy.
"""

from .api import delete, fetch_all, get, head, options, patch, post, put, request  # noqa: F401
from .response import Response  # noqa: F401
from .session import Client  # noqa: F401
