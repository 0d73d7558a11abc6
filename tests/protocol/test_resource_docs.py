"""docs/resources.md cannot drift: its diagram and node table are generated from the decision
table, its tutorial code is the example's code, and the docs indexes link it."""

from __future__ import annotations

import importlib.util
import pathlib
import re

from greenhttp.resource.graph import NODES

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "resources.md"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_resource_graph", ROOT / "docs" / "gen_resource_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_graph_section_is_generated_from_the_table() -> None:
    gen = load_generator()
    text = DOC.read_text()
    assert f"{gen.BEGIN}\n{gen.section()}{gen.END}" in text, \
        "docs/resources.md is stale: run `python docs/gen_resource_graph.py --write`"
    for node in NODES.values():
        assert f"| {node.id} | {node.question} |" in text


def test_tutorial_code_is_the_example() -> None:
    example = (ROOT / "examples" / "resources.py").read_text()
    tutorial = DOC.read_text().split("## Tutorial", 1)[1].split("## Visual debugger", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", tutorial, re.S)
    assert len(blocks) >= 4
    for block in blocks:
        assert block in example, block[:80]


def test_linked_from_the_indexes() -> None:
    assert "docs/resources.md" in (ROOT / "README.md").read_text()
    assert "(resources.md)" in (ROOT / "docs" / "README.md").read_text()
