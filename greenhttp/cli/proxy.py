"""``greenhttp proxy``: a reverse proxy (``PREFIX=URL`` routes) and, only when asked, a forward proxy.

    greenhttp proxy /api=http://127.0.0.1:9000 /=http://127.0.0.1:9001 -p 8080
    greenhttp proxy --forward --allow example.com:443 --allow '*.internal:*' --auth user:secret

The bind, port, limit, timeout and log options are those of serving an app (the
``server`` settings of :data:`~greenhttp.settings.SETTINGS`, added by
``add_server_options``); the upstream ones are its ``proxy`` settings. The
forward proxy never starts by accident: it needs ``--forward`` and at least one
``--allow``; with routes as well, requests that are not proxy requests go to them.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Sequence

from ..settings import default, scoped
from ..errors import CLIError
from .command import PROG
from .options import ArgumentParser, add_server_options, add_setting_options, config_from_args, resolve_args
from .production import run


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = ArgumentParser(
        prog=f"{PROG} proxy",
        description="Reverse proxy: forward each request to the upstream of its longest matching "
                    "path prefix, streaming bodies both ways over a pool of keep-alive connections. "
                    "With --forward, also (or only) a forward proxy for absolute-form requests and "
                    "CONNECT tunnels to the --allow'ed destinations.",
        epilog="A route's URL without a path keeps the request path (/api/x -> URL/api/x); with a "
               "path, the prefix is replaced by it (/api=http://h/v2: /api/x -> http://h/v2/x), as "
               "nginx's proxy_pass does.",
    )
    parser.add_argument("routes", metavar="PREFIX=URL", nargs="*",
                        help="a route, e.g. /api=http://127.0.0.1:9000 (several allowed)")
    group = parser.add_argument_group("forward proxy (off unless --forward)")
    group.add_argument("--forward", action="store_true",
                       help="Act as a forward proxy (absolute-form requests and CONNECT tunnels).")
    group.add_argument("--allow", metavar="HOST:PORT", action="append", default=[],
                       help="A destination the forward proxy may reach; HOST may be *.domain or *, "
                            "PORT may be *. Repeat for more. Required with --forward.")
    group.add_argument("--auth", metavar="USER:PASSWORD",
                       help="Require this basic Proxy-Authorization (else 407). Also from "
                            "GREENHTTP_PROXY_AUTH, which keeps it out of the process list.")
    upstream = parser.add_argument_group("upstream")
    add_setting_options(upstream, scoped("proxy"))
    upstream.add_argument("--preserve-host", action="store_true",
                          help="Send the client's Host header upstream instead of the upstream's.")
    add_server_options(parser)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def build_app(args: argparse.Namespace) -> Any:
    from ..client.timeouts import Timeout
    from ..client.pool import Pool
    from ..proxy import ForwardProxy, ReverseProxy

    values = resolve_args(args, scoped("proxy"))
    read = values["proxy_read_timeout"]
    timeout = Timeout(connect=values["proxy_connect_timeout"], read=read, write=read)
    per_host = values["proxy_max_per_host"]
    pool = Pool(max_per_host=per_host, max_total=max(default("pool_max_total"), per_host * 4))
    verify, cert = upstream_tls(values)
    reverse = None
    if args.routes:
        try:
            reverse = ReverseProxy(args.routes, pool=pool, timeout=timeout, preserve_host=args.preserve_host,
                                   verify=verify, cert=cert)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    auth_text = args.auth or os.environ.get("GREENHTTP_PROXY_AUTH")
    if not args.forward:
        if args.allow or args.auth:
            raise CLIError("--allow and --auth are forward-proxy options: add --forward")
        if reverse is None:
            raise CLIError("no routes: give PREFIX=URL routes (e.g. /=http://127.0.0.1:9000), "
                           "or --forward for a forward proxy")
        return reverse
    if not args.allow:
        raise CLIError("--forward needs at least one --allow HOST:PORT (--allow '*:*' allows every "
                       "destination, deliberately)")
    auth = None
    if auth_text:
        user, sep, password = auth_text.partition(":")
        if not sep or not user:
            raise CLIError("--auth must be USER:PASSWORD")
        auth = (user, password)
    try:
        return ForwardProxy(args.allow, auth=auth, pool=pool, timeout=timeout, app=reverse,
                            verify=verify, cert=cert,
                            connect_timeout=values["proxy_connect_timeout"],
                            tunnel_idle_timeout=values["proxy_tunnel_idle_timeout"])
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def upstream_tls(values: dict[str, Any]) -> tuple[bool | str, Any]:
    """The client's ``verify`` and ``cert`` from the --upstream-* settings, files checked now
    (a typo should stop the proxy at start, not fail every https request later)."""
    for name in ("proxy_upstream_ca", "proxy_upstream_cert", "proxy_upstream_key"):
        path = values[name]
        if path and not os.path.exists(path):
            raise CLIError(f"--{name[len('proxy_'):].replace('_', '-')}: no such file: {path}")
    if values["proxy_upstream_key"] and not values["proxy_upstream_cert"]:
        raise CLIError("--upstream-key needs --upstream-cert")
    verify: bool | str = values["proxy_upstream_ca"] or True
    if not values["proxy_upstream_verify"]:
        if values["proxy_upstream_ca"]:
            raise CLIError("--upstream-ca and --upstream-verify off contradict each other")
        verify = False
    cert: Any = values["proxy_upstream_cert"] or None
    if cert and values["proxy_upstream_key"]:
        cert = (cert, values["proxy_upstream_key"])
    return verify, cert


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv)[1:])  # argv[0] is the verb
    config = config_from_args(args)
    # Through the workers master like `greenhttp APP`: -w, TLS, logs and reload apply. Each
    # worker builds the app after it patched (the master imports no gevent, and the client
    # stack imports ssl); a bad route is the worker's one-line boot error, as a broken app's.
    return run("proxy", config, lambda _: build_app(args))
