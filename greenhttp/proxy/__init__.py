"""Proxying, built on the client: forward the current request, reverse and forward proxies.

Owns the proxy header policy (hop-by-hop removal, ``Via``, ``X-Forwarded-*``),
:func:`proxy_request`, :class:`ReverseProxy`, :class:`ForwardProxy` and CONNECT
tunnels. It may import the client, the server's WSGI conventions and the shared
top-level modules; the protocol core it reaches only through the client.
"""

from .core import (  # noqa: F401
    AllowList,
    ForwardProxy,
    ProxyResponse,
    ReverseProxy,
    Route,
    forwarded_request_headers,
    parse_routes,
    proxy_request,
    pump,
    strip_hop_by_hop,
)

__all__ = ["proxy_request", "ProxyResponse", "ReverseProxy", "ForwardProxy", "AllowList", "Route",
           "parse_routes", "strip_hop_by_hop", "forwarded_request_headers", "pump"]
