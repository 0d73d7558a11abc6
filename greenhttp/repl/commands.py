"""The REPL's commands (``cd``, ``rm``, ``set``, ``save``...): one table, :data:`COMMANDS`."""

from __future__ import annotations

import os
import shlex
from typing import Callable, NamedTuple
from urllib.parse import urlsplit

from ..errors import ReplError
from .items import Item, split_line, to_curl
from .options import OPTION_PARSERS, Options
from .session import METHODS, Session
from .urls import join_url


class Command(NamedTuple):
    run: Callable[[Session, list[str]], None]
    usage: str
    help: str


def _cd(session: Session, args: list[str]) -> None:
    if len(args) > 1:
        raise ReplError("usage: cd PATH|URL")
    session.url = join_url(session.url, args[0]) if args else session.base_url
    session.seen_paths.add(urlsplit(session.url).path or "/")


def _rm(session: Session, args: list[str]) -> None:
    groups = {"-h": "header", "-q": "param", "-b": "data"}
    group = None
    if args and args[0] in groups:
        group = groups[args[0]]
        args = args[1:]
    if not args:
        raise ReplError("usage: rm [-h|-q|-b] NAME... | rm <  (the raw body) | rm *  (everything)")
    if args == ["*"]:
        session.sticky = [item for item in session.sticky if group is not None and item.group != group]
        return
    for name in args:
        def matches(item: Item) -> bool:
            if name == "<":
                return item.kind == "body"
            if group is not None and item.group != group:
                return False
            return item.name.lower() == name.lower() if item.group == "header" else item.name == name
        if not any(matches(item) for item in session.sticky):
            raise ReplError(f"no sticky item named {name!r} (see 'env')")
        session.sticky = [item for item in session.sticky if not matches(item)]


def _env_lines(session: Session) -> list[str]:
    lines = [f"cd {shlex.quote(session.url)}"]
    lines += [shlex.quote(item.raw) for item in session.sticky]
    lines += session.options.lines()
    return lines


def _env(session: Session, args: list[str]) -> None:
    for line in _env_lines(session):
        session.say(line)
    if session.client.cookies is not None and len(session.client.cookies):
        session.say("# cookies: " + "; ".join(f"{k}={v}" for k, v in session.client.cookies))


def _set(session: Session, args: list[str]) -> None:
    if not args:
        for name, (_, show, text) in OPTION_PARSERS.items():
            session.say(f"{name:8} {show(getattr(session.options, name)):6}  {text}")
        return
    if len(args) != 2:
        raise ReplError("usage: set OPTION VALUE (type 'set' for the options)")
    session.options.set(args[0], args[1])


def _history(session: Session, args: list[str]) -> None:
    count = 20
    if args:
        try:
            count = int(args[0])
        except ValueError:
            raise ReplError("usage: history [N]") from None
    if session.history is None:
        return
    # get_strings() is oldest first; number them as a shell's history does.
    entries = list(session.history.get_strings())
    for number, entry in list(enumerate(entries, 1))[-count:]:
        session.say(f"{number:5}  {entry}")


def _save(session: Session, args: list[str]) -> None:
    if len(args) != 1:
        raise ReplError("usage: save FILE")
    path = os.path.expanduser(args[0])
    with open(path, "w", encoding="utf-8") as f:
        f.write("# greenhttp repl session: 'load' it, or read it: these are repl commands\n")
        f.write("\n".join(_env_lines(session)) + "\n")
    session.say(f"saved to {args[0]}")


def _load(session: Session, args: list[str]) -> None:
    if len(args) != 1:
        raise ReplError("usage: load FILE")
    with open(os.path.expanduser(args[0]), encoding="utf-8") as f:
        lines = f.read().splitlines()
    # The file replaces the session's state: URL, items and options, as saved.
    session.sticky = []
    session.options = Options()
    for number, line in enumerate(lines, 1):
        words = line.strip()
        if not words or words.startswith("#"):
            continue
        first = split_line(words)[0].lower()
        if first in METHODS:
            raise ReplError(f"{args[0]}:{number}: a session file holds state, not requests")
        outcome = session.execute(line)
        if outcome is not None and outcome.error is not None:
            raise ReplError(f"{args[0]}:{number}: stopped loading here")
    session.say(f"loaded {args[0]}")


def _curl(session: Session, args: list[str]) -> None:
    if session.last is None:
        raise ReplError("no request yet")
    session.say(to_curl(session.last, session.options.follow, session.options.timeout))


def _stats(session: Session, args: list[str]) -> None:
    stats = session.pool.stats()
    opened = session.connections_opened
    reused = max(session.requests - opened, 0)
    session.say(f"requests: {session.requests}, connections opened: {opened}, "
                f"requests on a reused connection: {reused}")
    session.say(f"pool: {stats['open']} open, {stats['idle']} idle, {stats['in_use']} in use, "
                f"{stats['waiting']} waiting")
    for label, host in stats["hosts"].items():
        session.say(f"  {label}: {host['open']} open, {host['idle']} idle, {host['in_use']} in use")


def _help(session: Session, args: list[str]) -> None:
    if args:
        name = args[0].lower()
        if name in METHODS:
            session.say(f"{name} [PATH|URL] [ITEM...]: send a {name.upper()} request; items as for a "
                        "sticky line, for this request only")
            return
        command = COMMANDS.get(name)
        if command is None:
            raise ReplError(f"no command {args[0]!r}")
        session.say(f"{command.usage}: {command.help}")
        return
    session.say(HELP_TEXT)
    for name, command in COMMANDS.items():
        session.say(f"  {command.usage:28} {command.help}")


def _exit(session: Session, args: list[str]) -> None:
    session.running = False


HELP_TEXT = """\
Requests:
  get|post|put|patch|delete|head|options [PATH|URL] [ITEM...]
Items (HTTPie's syntax; alone on a line they stick to the session until 'rm'):
  Header:value  Header;  name==query  field=text  field:=json  field=@file  field:=@file
  field@file (upload)  @file  <file (raw body)
Ctrl-C stops a running request or stream; Ctrl-D or 'exit' leaves.
Commands:"""

#: the commands, in the order 'help' lists them
COMMANDS: dict[str, Command] = {
    "cd": Command(_cd, "cd [PATH|URL]", "change the current URL (no argument: back to the start)"),
    "rm": Command(_rm, "rm [-h|-q|-b] NAME...|<|*", "remove sticky items"),
    "env": Command(_env, "env", "show the URL, sticky items and options"),
    "set": Command(_set, "set [OPTION VALUE]", "show or change options (timeout, follow, format, verify)"),
    "history": Command(_history, "history [N]", "show the last N commands"),
    "save": Command(_save, "save FILE", "save the URL, sticky items and options"),
    "load": Command(_load, "load FILE", "load what 'save' wrote"),
    "curl": Command(_curl, "curl", "print the last request as a curl command"),
    "stats": Command(_stats, "stats", "requests, connections and the pool's state"),
    "ws": Command(lambda session, args: __import__("greenhttp.repl.ws").repl.ws.run(session, args),
                  "ws URL|PATH", "open a WebSocket: lines are sent, messages print; Ctrl-C leaves"),
    "help": Command(_help, "help [COMMAND]", "this text"),
    "exit": Command(_exit, "exit", "leave (Ctrl-D too)"),
    "quit": Command(_exit, "quit", "leave"),
}


