"""Print the options tables of docs/cli.md (scopes ``server`` and ``app``) and docs/proxy.md
(scope ``proxy``), generated from ``greenhttp.settings.SETTINGS``.

    python docs/gen_cli_table.py [server|app|proxy]  # print a table (default: server)
    python docs/gen_cli_table.py --write         # replace both in their files between the markers

tests/protocol/test_docs.py regenerates the tables and fails if a file differs, so a
setting cannot be added, renamed or re-defaulted without the docs following.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from greenhttp.settings import Setting, scoped  # noqa: E402

DOCS = pathlib.Path(__file__).resolve().parent
CLI_MD = DOCS / "cli.md"
#: scope -> the file holding its table, between "<!-- {marker}:begin -->" and ":end -->".
TABLES = {"server": (CLI_MD, "settings"), "app": (CLI_MD, "app-settings"),
          "proxy": (DOCS / "proxy.md", "proxy-settings")}


def markers(scope: str) -> tuple[str, str]:
    marker = TABLES[scope][1]
    return f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"


def _option(setting: Setting) -> str:
    long_flag = setting.long_flag
    if setting.switch:
        return f"`{long_flag}`"
    metavar = setting.metavar or setting.name.upper()
    if setting.flag:
        return f"`{setting.flag} {metavar}`, `{long_flag} {metavar}`"
    return f"`{long_flag} {metavar}`"


def _default(setting: Setting) -> str:
    value = setting.default
    text = f"`{value}`"
    if setting.metavar == "BYTES" and isinstance(value, int) and value >= 1024:
        for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value % size == 0:
                return f"{text} ({value // size} {unit})"
    return text


def table(scope: str = "server") -> str:
    rows = [
        "| Option | Environment variable | Default | Meaning |",
        "|---|---|---|---|",
    ]
    for setting in scoped(scope):
        meaning = setting.help.replace("|", "\\|")
        rows.append(f"| {_option(setting)} | `{setting.env_var}` | {_default(setting)} | {meaning} |")
    return "\n".join(rows) + "\n"


def replace_in(text: str, scope: str = "server") -> str:
    """``text`` with the part between the scope's markers replaced by the current table."""
    begin, end = markers(scope)
    head, sep, rest = text.partition(begin)
    _, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise ValueError(f"markers {begin} / {end} not found")
    return f"{head}{begin}\n{table(scope)}{end}{tail}"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        for scope, (path, _) in TABLES.items():
            path.write_text(replace_in(path.read_text(), scope))
        return 0
    if len(argv) > 1 or (argv and argv[0] not in TABLES):
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(table(*argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
