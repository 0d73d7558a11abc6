"""Proxying, built on the client: forward the current request, reverse and forward proxies.

One concern per module: :mod:`.headers` the header policy (hop-by-hop removal,
``Via``, ``X-Forwarded-*``), :mod:`.request` :func:`proxy_request` and
:class:`ProxyResponse`, :mod:`.reverse` :class:`ReverseProxy`, :mod:`.forward`
:class:`ForwardProxy`, :mod:`.tunnel` ``CONNECT`` tunnels. It may import the client,
the server's WSGI conventions and the shared top-level modules; the protocol core
it reaches only through the client.
"""

from .forward import AllowList, ForwardProxy
from .headers import HOP_BY_HOP, VIA, forwarded_request_headers, strip_hop_by_hop
from .request import DEFAULT_TIMEOUT, ProxyResponse, proxy_request
from .reverse import ReverseProxy, Route, parse_routes
from .tunnel import pump

__all__ = ["proxy_request", "ProxyResponse", "ReverseProxy", "ForwardProxy", "AllowList", "Route",
           "parse_routes", "strip_hop_by_hop", "forwarded_request_headers", "pump", "HOP_BY_HOP",
           "DEFAULT_TIMEOUT", "VIA"]
