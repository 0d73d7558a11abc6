"""SOCKS proxies (``socks5://``, ``socks5h://``, ``socks4://``, ``socks4a://``) through python-socks.

``pip install greenhttp[socks]``. python-socks does the handshake (RFC 1928, RFC 1929
user/password, SOCKS4/4a) on a socket it opens; in a monkey-patched process (the
``greenhttp`` command, most gevent programs) that socket is gevent's and nothing
blocks. Otherwise the handshake runs on gevent's thread pool, so the hub keeps
serving other greenlets. Either way the connected socket is handed to a gevent
socket, and the route goes on as a direct one (TLS to the origin on top for https).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import gevent
import gevent.monkey
from gevent import socket as gsocket

from ..errors import ConnectError, ConnectTimeout, ProxyError, UsageError

if TYPE_CHECKING:
    from .routing import _Proxy


def socks_dial(proxy: "_Proxy", host: str, port: int, timeout: float | None) -> Any:
    """A socket connected to ``host:port`` through the SOCKS ``proxy``."""
    try:
        from python_socks import ProxyConnectionError, ProxyTimeoutError, ProxyType
        from python_socks import ProxyError as SocksError
        from python_socks.sync import Proxy
    except ImportError:
        raise UsageError(f"{proxy.scheme}:// proxies need python-socks: "
                         "pip install 'greenhttp[socks]'") from None
    url = proxy.url
    kind = ProxyType.SOCKS5 if proxy.scheme.startswith("socks5") else ProxyType.SOCKS4
    # socks5h/socks4a: the proxy resolves the name (curl's convention); else we do, here.
    remote_dns = proxy.scheme in ("socks5h", "socks4a")
    client = Proxy(kind, url.host, url.port,
                   unquote(url.username) if url.username is not None else None,
                   unquote(url.password) if url.password is not None else None, rdns=remote_dns)
    target = host
    if not remote_dns:
        target = str(gsocket.getaddrinfo(host, port, 0, gsocket.SOCK_STREAM)[0][4][0])
    where = f"{target}:{port} via {proxy.scheme}://{url.authority}"
    try:
        if gevent.monkey.is_module_patched("socket"):
            sock = client.connect(target, port, timeout=timeout)
        else:
            sock = gevent.get_hub().threadpool.apply(client.connect, (target, port), {"timeout": timeout})
    except ProxyTimeoutError as exc:
        raise ConnectTimeout(f"connecting to {where} timed out: {exc}") from exc
    except ProxyConnectionError as exc:
        raise ConnectError(f"cannot connect to {where}: {exc}") from exc
    except SocksError as exc:
        raise ProxyError(f"SOCKS proxy {url.authority} refused {host}:{port}: {exc}") from exc
    return gsocket.socket(fileno=sock.detach())
