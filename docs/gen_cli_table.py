"""Print the options table of docs/cli.md, generated from ``greenhttp.settings.SETTINGS``.

    python docs/gen_cli_table.py          # print the table
    python docs/gen_cli_table.py --write  # replace it in docs/cli.md between the markers

tests/protocol/test_docs.py regenerates the table and fails if docs/cli.md differs, so a
setting cannot be added, renamed or re-defaulted without the docs following.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from greenhttp.settings import SETTINGS, Setting  # noqa: E402

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
CLI_MD = pathlib.Path(__file__).resolve().parent / "cli.md"


def _option(setting: Setting) -> str:
    metavar = setting.metavar or setting.name.upper()
    long_flag = "--" + setting.name.replace("_", "-")
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


def table() -> str:
    rows = [
        "| Option | Environment variable | Default | Meaning |",
        "|---|---|---|---|",
    ]
    for setting in SETTINGS:
        meaning = setting.help.replace("|", "\\|")
        rows.append(f"| {_option(setting)} | `{setting.env_var}` | {_default(setting)} | {meaning} |")
    return "\n".join(rows) + "\n"


def replace_in(text: str) -> str:
    """``text`` with the part between the markers replaced by the current table."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"markers {BEGIN} / {END} not found")
    return f"{head}{BEGIN}\n{table()}{END}{tail}"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        CLI_MD.write_text(replace_in(CLI_MD.read_text()))
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
