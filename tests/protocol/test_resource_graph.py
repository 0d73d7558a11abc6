"""The decision table is the flow: every node has its function, every edge lands on a node
or a status, every node is reachable from the start, and the module layout rules hold."""

from __future__ import annotations

import ast
import pathlib

from greenhttp.resource import graph
from greenhttp.resource.decisions import DECISIONS
from greenhttp.resource.resource import Resource

PACKAGE = pathlib.Path(graph.__file__).parent


def test_every_node_has_a_decision_function_and_back() -> None:
    import greenhttp.resource.decisions as decisions
    import greenhttp.resource.decisions_resource as decisions_resource

    functions = {name for module in (decisions, decisions_resource) for name in vars(module)
                 if name[:1].isupper() and name[1:2].isdigit()}
    assert set(DECISIONS) == set(graph.NODES) == functions


def test_edges_land_on_nodes_or_statuses() -> None:
    for source, target, _ in graph.edges():
        assert (isinstance(target, int) and 200 <= target < 600) or target in graph.NODES, (source, target)


def test_every_node_reachable_from_start() -> None:
    seen, todo = set(), [graph.START]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(target for source, target, _ in graph.edges() if source == node and isinstance(target, str))
    assert seen == set(graph.NODES)


def test_node_callbacks_exist_on_resource() -> None:
    for node in graph.NODES.values():
        for name in node.callbacks:
            assert callable(getattr(Resource, name, None)), (node.id, name)


def test_modules_small_and_import_only_public_greenhttp() -> None:
    private = []
    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        assert len(source.splitlines()) <= 400, path.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("greenhttp."):
                if not node.module.startswith("greenhttp.resource"):
                    private.append((path.name, node.module))
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                private.append((path.name, f"..{node.module}"))
    # exactly one module reaches into a private greenhttp module, so a restructure is a one-line fix
    assert private == [("representations.py", "greenhttp.codecs")]
