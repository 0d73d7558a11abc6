"""The interactive loop (prompt_toolkit: history, completion, highlighting) and the scripted one.

prompt_toolkit and pygments are imported inside the functions that use them."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

from .commands import COMMANDS
from .items import is_item
from .options import OPTION_PARSERS
from .session import METHODS, Session

HISTORY_ENV = "GREENHTTP_REPL_HISTORY"


def history_path() -> str:
    configured = os.environ.get(HISTORY_ENV)
    if configured:
        return os.path.expanduser(configured)
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data_home, "greenhttp", "repl_history")


def _file_history(path: str) -> Any:
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        sys.stderr.write(f"warning: history not kept ({path}: {exc.strerror}); "
                         f"set {HISTORY_ENV} to a writable file\n")
        return InMemoryHistory()
    return FileHistory(path)


def make_completer(session: Session) -> Any:
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    paths = PathCompleter(expanduser=True)

    class ReplCompleter(Completer):
        """Commands and methods first; then paths seen, header names and item names."""

        def get_completions(self, document: Any, complete_event: Any) -> Any:
            text = document.text_before_cursor
            words = text.split()
            current = "" if not words or text[-1:].isspace() else words[-1]
            position = len(words) - (0 if current == "" else 1)
            if position == 0:
                for name in (*METHODS, *COMMANDS):
                    if name.startswith(current.lower()):
                        yield Completion(name, -len(current))
                return
            command = words[0].lower()
            if command in ("save", "load") or current.startswith(("<", "@")) or "@" in current:
                prefix_len = 1 if current.startswith(("<", "@")) else (current.index("@") + 1 if "@" in current else 0)
                sub = Document(current[prefix_len:], len(current) - prefix_len)
                yield from paths.get_completions(sub, complete_event)
                return
            if command == "set" and position == 1:
                candidates: list[str] = list(OPTION_PARSERS)
            elif command == "rm":
                candidates = sorted({item.name for item in session.sticky if item.name})
            elif command in METHODS or command == "cd" or is_item(current):
                candidates = []
                if position == 1 and (command in METHODS or command == "cd"):
                    candidates += sorted(session.seen_paths)
                if command != "cd":
                    candidates += [f"{name}:" for name in sorted(session.header_names)]
            else:
                candidates = [f"{name}:" for name in sorted(session.header_names)]
            lowered = current.lower()
            for candidate in candidates:
                if candidate.lower().startswith(lowered) and candidate != current:
                    yield Completion(candidate, -len(current))

    return ReplCompleter()


def make_lexer() -> Any:
    """Highlighting of the line being typed: command, URL, and items split at their separator."""
    from prompt_toolkit.lexers import PygmentsLexer
    from pygments.lexer import RegexLexer, bygroups, default
    from pygments.token import Keyword, Name, Operator, String, Text

    words = "|".join((*METHODS, *COMMANDS))

    class ReplLexer(RegexLexer):
        name = "greenhttp-repl"
        tokens = {
            "root": [
                (r"\s+", Text),
                (rf"({words})\b", Keyword, "args"),
                default("args"),
            ],
            "args": [
                (r"\s+", Text),
                (r"(<)(\S*)", bygroups(Operator, String)),
                (r"([^\s:=@;]*)(:=@|=@|:=|==|=|:|;|@)(\S*)", bygroups(Name.Attribute, Operator, String)),
                (r"\S+", Name.Namespace),
            ],
        }

    return PygmentsLexer(ReplLexer)


def interactive(session: Session) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.styles import Style

    history = _file_history(history_path())
    session.history = history
    style = Style.from_dict({"url": "ansigreen bold", "sep": "ansibrightblack"})
    prompt: "PromptSession[str]" = PromptSession(history=history, completer=make_completer(session),
                           lexer=make_lexer(), auto_suggest=AutoSuggestFromHistory(),
                           complete_while_typing=False, enable_history_search=True)
    session.say("greenhttp repl: 'help' for commands, Ctrl-D to leave")
    while session.running:
        try:
            line = prompt.prompt([("class:url", session.url), ("class:sep", "> ")], style=style)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line, as in a shell
        except EOFError:
            break
        session.execute(line)


def scripted(session: Session, stdin: IO[str]) -> None:
    """Commands from a pipe or file, one per line, no prompt: for scripts."""
    history = _file_history(history_path())
    session.history = history
    for line in stdin:
        if not session.running:
            break
        if line.strip():
            history.append_string(line.rstrip("\n"))
        session.execute(line)


