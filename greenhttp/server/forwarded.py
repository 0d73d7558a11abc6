"""Behind a proxy: trust X-Forwarded-* and RFC 7239 ``Forwarded`` from listed peers only.

From a peer in ``--forwarded-allow-ips`` (default the local host, gunicorn's default;
unix-socket peers always, since only local processes can connect to one) the client's
address, scheme and host come from the proxy's headers; from anyone else those headers
are ignored, so a client cannot claim to be 10.0.0.1 or to have come over HTTPS.
``root_path`` sets ``SCRIPT_NAME`` for an app mounted under a prefix.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Iterable

from .calls import direct_call

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

# Peers whose verdict is remembered (see ProxyHeaders.trusted).
_VERDICTS_KEPT = 1024
# The fields this middleware reads; an untrusted peer's are removed before the app sees them.
_FORWARDED_KEYS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def _parse_ips(text: str) -> tuple[bool, list[Any]]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if "*" in items:
        return True, []
    return False, [ipaddress.ip_network(item, strict=False) for item in items]


def _forwarded_pairs(value: str) -> dict[str, str]:
    """The first (client-most) element of an RFC 7239 Forwarded header, as a dict."""
    first = value.split(",", 1)[0]
    pairs: dict[str, str] = {}
    for part in first.split(";"):
        name, _, val = part.strip().partition("=")
        if val:
            pairs[name.strip().lower()] = val.strip().strip('"')
    return pairs


def _node_address(node: str) -> str:
    # RFC 7239 §6: node = nodename [":" node-port]; IPv6 in brackets.
    if node.startswith("["):
        return node[1:node.find("]")] if "]" in node else node
    return node.rsplit(":", 1)[0] if node.count(":") == 1 else node


class ProxyHeaders:
    """WSGI middleware applying trusted proxy headers and the root path."""

    def __init__(self, app: WSGIApp, allow_ips: str = "127.0.0.1,::1", root_path: str = "") -> None:
        self.app = app
        self._call_app = direct_call(app)  # calls.py: one C frame fewer under every switch
        self.trust_all, self.networks = _parse_ips(allow_ips)
        self.root_path = root_path.rstrip("/")
        # Parsing the address and testing it against each network cost ~2.7 us, a tenth
        # of a small request's CPU: judge each peer once. Bounded, so that a server seeing
        # many distinct clients does not grow it without limit.
        self._verdicts: dict[str, bool] = {}

    def trusted(self, peer: str) -> bool:
        verdict = self._verdicts.get(peer)
        if verdict is None:
            verdict = self._judge(peer)
            if len(self._verdicts) >= _VERDICTS_KEPT:
                self._verdicts.clear()
            self._verdicts[peer] = verdict
        return verdict

    def _judge(self, peer: str) -> bool:
        if not peer:
            return True  # a unix-socket peer: local by construction
        if self.trust_all:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        # Most requests carry none of the fields (a client straight to us): four
        # membership tests instead of the peer's verdict and the parsing.
        if ("HTTP_X_FORWARDED_FOR" in environ or "HTTP_FORWARDED" in environ
                or "HTTP_X_FORWARDED_PROTO" in environ or "HTTP_X_FORWARDED_HOST" in environ):
            if self.trusted(environ.get("REMOTE_ADDR", "")):
                self._apply(environ)
            else:
                for key in _FORWARDED_KEYS:
                    environ.pop(key, None)  # the app must not trust them either
        if self.root_path:
            environ["SCRIPT_NAME"] = self.root_path
            path = environ.get("PATH_INFO", "")
            if path == self.root_path or path.startswith(self.root_path + "/"):
                environ["PATH_INFO"] = path[len(self.root_path):]
        return self._call_app(environ, start_response)

    @staticmethod
    def _apply(environ: dict[str, Any]) -> None:
        forwarded = environ.get("HTTP_FORWARDED")
        if forwarded:
            pairs = _forwarded_pairs(forwarded)
            client, proto, host = pairs.get("for"), pairs.get("proto"), pairs.get("host")
        else:
            xff = environ.get("HTTP_X_FORWARDED_FOR")
            proto = environ.get("HTTP_X_FORWARDED_PROTO")
            host = environ.get("HTTP_X_FORWARDED_HOST")
            # The left-most entry is the original client (each proxy appends its peer).
            client = (xff or "").split(",")[0].strip() or None
            proto = (proto or "").split(",")[0].strip() or None
            host = (host or "").split(",")[0].strip() or None
        if client:
            environ["REMOTE_ADDR"] = _node_address(client)
        if proto and proto.lower() in ("http", "https"):
            environ["wsgi.url_scheme"] = proto.lower()
        if host:
            environ["HTTP_HOST"] = host
