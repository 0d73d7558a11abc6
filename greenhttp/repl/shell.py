"""``greenhttp repl``: an interactive HTTP shell; ``greenhttp get URL ...``: one request.

The entry points of the two verbs. The shell's parts: :mod:`.session` (state, sending,
showing), :mod:`.commands`, :mod:`.options`, :mod:`.urls`, :mod:`.prompt` (the loops),
:mod:`.items` (HTTPie's item syntax) and :mod:`.format` (bodies on a terminal).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import IO, Any, Sequence

from ..errors import CLIError, GreenHTTPError, TimeoutError
from .items import FORMATS, build_request, parse_items, to_curl
from .options import _parse_timeout
from .prompt import interactive, scripted
from .session import Outcome, Session, describe_error


def _print_spec(text: str) -> str:
    if not text or set(text) - set("Hhb"):
        raise argparse.ArgumentTypeError(f"takes the letters H, h and b, not {text!r}")
    return text


def _use_color(stream: IO[str]) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def main(argv: Sequence[str]) -> int:
    from ..cli.options import ArgumentParser

    parser = ArgumentParser(
        prog="greenhttp repl",
        description="An interactive HTTP shell with one connection pool for the session. "
                    "Type 'help' at the prompt.")
    parser.add_argument("url", nargs="?", metavar="BASE_URL", help="where to start (default http://localhost:8080/)")
    parser.add_argument("--timeout", type=_parse_timeout, default=None, metavar="SECONDS")
    parser.add_argument("--format", choices=FORMATS, default=None, help="how data fields are sent")
    args = parser.parse_args(list(argv)[1:])
    session = Session(args.url, color=_use_color(sys.stdout))  # a bad URL: UsageError, one line
    if args.timeout is not None:
        session.options.timeout = args.timeout
    if args.format:
        session.options.format = args.format
    try:
        if sys.stdin.isatty() and sys.stdout.isatty():
            interactive(session)
        else:
            scripted(session, sys.stdin)
    finally:
        session.close()
    return 0


# -- one-shot mode --------------------------------------------------------------------------------


def _auth(value: str, kind: str) -> Any:
    """``-a user:pass`` (HTTPie's and curl's spelling); without ``:pass`` the password is asked."""
    user, colon, password = value.partition(":")
    if not colon:
        if not sys.stdin.isatty():
            raise CLIError("-a USER without a password needs a terminal to ask it; use USER:PASS")
        import getpass

        password = getpass.getpass(f"password for {user}: ")
    if kind == "digest":
        from ..client.auth import DigestAuth

        return DigestAuth(user, password)
    return (user, password)


def oneshot_main(argv: Sequence[str]) -> int:
    """``greenhttp METHOD URL [ITEM...]``: one request, the repl's output, a useful exit status.

    Exit statuses follow HTTPie's: 0 done; 1 an error (connection refused, bad
    item...); 2 a timeout; with ``--check-status``, 3/4/5 for a 3xx/4xx/5xx answer.
    """
    from ..cli.options import ArgumentParser

    method = argv[0].upper()
    parser = ArgumentParser(
        prog=f"greenhttp {argv[0]}",
        description=f"Send one {method} request and show the response. Items use HTTPie's syntax: "
                    "Header:value, name==query, field=text, field:=json, field@file, <file.")
    parser.add_argument("url", metavar="URL", help="http(s) URL; ':8080/path' means localhost")
    parser.add_argument("items", nargs="*", metavar="ITEM", help="request items")
    parser.add_argument("--check-status", action="store_true",
                        help="exit 3, 4 or 5 on a 3xx, 4xx or 5xx answer")
    parser.add_argument("--timeout", type=_parse_timeout, default=30.0, metavar="SECONDS",
                        help="connect and read timeout (default 30; 'none': wait forever)")
    parser.add_argument("--no-follow", action="store_true", help="do not follow redirects")
    parser.add_argument("--format", choices=FORMATS, default="json", help="how data fields are sent (default json)")
    parser.add_argument("-p", "--print", dest="print_what", metavar="WHAT", type=_print_spec,
                        help="what to show, HTTPie's letters: H request head, h response head, "
                             "b body (default hb on a terminal, b into a pipe or file)")
    parser.add_argument("-b", "--body", action="store_true", help="print the body only (--print b)")
    parser.add_argument("-o", "--output", metavar="FILE", help="save the body to FILE (bytes as received, decoded)")
    parser.add_argument("-d", "--download", action="store_true",
                        help="save the body to a file named from Content-Disposition or the URL")
    parser.add_argument("-a", "--auth", metavar="USER[:PASS]", help="credentials (asked for when PASS is missing)")
    parser.add_argument("--auth-type", choices=("basic", "digest"), default="basic", help="default basic")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the request head too")
    parser.add_argument("--curl", action="store_true", help="print the request as a curl command instead of sending it")
    args = parser.parse_intermixed_args(list(argv)[1:])
    # A bad URL or item is a UsageError: the command prints it on one line (cli.command.main).
    session = Session(args.url, color=_use_color(sys.stdout))
    session.options.timeout = args.timeout
    session.options.follow = not args.no_follow
    session.options.format = args.format
    # HTTPie's rule: a terminal gets the head and the body, a pipe or a file only the body
    # (what `greenhttp get URL > file` means); -v adds the request head, --print says it all.
    # With -o/-d the body goes to the file, so stdout keeps the head.
    to_file = bool(args.output or args.download)
    shown = args.print_what or ("b" if args.body else ("hb" if sys.stdout.isatty() or to_file else "b"))
    if args.verbose and args.print_what is None:
        shown = "H" + ("hb" if not args.body else "b")
    session.body_only = "h" not in shown
    session.show_response_body = "b" in shown
    session.show_timing = sys.stderr.isatty()
    session.verbose = "H" in shown
    if args.output or args.download:
        session.save_to = args.output or ""
    elif not sys.stdout.isatty():
        session.raw_out = sys.stdout.buffer  # a pipe or a file gets the bytes, not a summary
    if args.auth is not None:
        session.auth = _auth(args.auth, args.auth_type)
    items = parse_items(args.items)
    spec = build_request(method, session.url, items, args.format)
    if args.curl:
        print(to_curl(spec, session.options.follow, session.options.timeout))
        return 0
    try:
        try:
            outcome = session.send(spec)
        except (GreenHTTPError, OSError) as exc:
            outcome = Outcome(None, exc)
    finally:
        session.close()
    if outcome.error is not None:
        if isinstance(outcome.error, KeyboardInterrupt):
            return 130
        print(f"greenhttp: error: {describe_error(outcome.error)}", file=sys.stderr)
        return 2 if isinstance(outcome.error, TimeoutError) else 1
    if args.check_status and outcome.status is not None and outcome.status >= 300:
        if outcome.status < 400 and not args.no_follow:
            return 0
        return min(outcome.status // 100, 5)
    return 0

