"""Print the decision-graph section of docs/resources.md, generated from
``greenhttp.resource.graph.NODES`` (the table the flow runs).

    python docs/gen_resource_graph.py          # print it
    python docs/gen_resource_graph.py --write  # replace it in docs/resources.md between the markers

tests/protocol/test_resource_docs.py regenerates it and fails if docs/resources.md differs, so a
node cannot be added, rewired or renamed without the docs following.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from greenhttp.resource.graph import markdown_table, mermaid  # noqa: E402

BEGIN = "<!-- graph:begin -->"
END = "<!-- graph:end -->"
RESOURCES_MD = pathlib.Path(__file__).resolve().parent / "resources.md"


def section() -> str:
    return f"```mermaid\n{mermaid()}```\n\n{markdown_table()}"


def replace_in(text: str) -> str:
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"markers {BEGIN} / {END} not found")
    return f"{head}{BEGIN}\n{section()}{END}{tail}"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        RESOURCES_MD.write_text(replace_in(RESOURCES_MD.read_text()))
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(section())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
