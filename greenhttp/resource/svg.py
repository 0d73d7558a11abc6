"""The decision graph as SVG, drawn from ``graph.NODES`` (never a copied picture).

Layout comes from the ids themselves: webmachine's v3 diagram names each node by column
letter and row number, so ``B13`` sits in column B, row 13, and a suffix (``B9a``, ``M20b``)
sits beside its base node. Final statuses are small boxes beside the node that ends there.
Given a trace, visited nodes, taken edges and the final status get the ``visited`` /
``taken`` classes; each node carries ``data-node`` for the page's script and a ``<title>``
with its question and callback results for hovering.
"""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

from .graph import NODES, Next

COLUMN = 104
ROW = 56
BOX_W, BOX_H = 52, 24
_SUFFIX = {"": (0, 0), "a": (58, 0), "b": (-58, 0)}


def position(node_id: str) -> tuple[int, int]:
    """Centre of a node: column letter → x, row number → y, suffix → a small offset."""
    column = ord(node_id[0]) - ord("A")
    digits = "".join(c for c in node_id[1:] if c.isdigit())
    suffix = node_id[1 + len(digits):]
    dx, dy = _SUFFIX.get(suffix, (0, 0))
    return 40 + column * COLUMN + dx, 20 + int(digits) * ROW + dy


def status_position(node_id: str, status: int) -> tuple[int, int]:
    """The true-edge status above right of the node, the false-edge one below right."""
    x, y = position(node_id)
    return x + 44, y - 17 if NODES[node_id].on_true == status else y + 17


def _status_class(status: int) -> str:
    return "ok" if status < 300 else "redirect" if status < 400 else "error"


def render(path: Sequence[str] = (), status: int | None = None,
           calls: Sequence[dict[str, Any]] = ()) -> str:
    """The whole graph; ``path`` (node ids in order) and the final ``status`` highlighted."""
    visited = set(path)
    taken = set(zip(path, list(path[1:]) + ([status] if status is not None else [])))
    by_node: dict[str, list[str]] = {}
    for call in calls:
        result = call.get("result", call.get("error", ""))
        by_node.setdefault(call.get("node") or "", []).append(f"{call['name']}() → {result}")
    width = 40 + 16 * COLUMN
    height = 20 + 27 * ROW
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="decision-graph" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}">',
           "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"6\" "
           "markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>"]
    for node in NODES.values():
        for target, label in ((node.on_true, "yes"), (node.on_false, "no")):
            if node.on_true == node.on_false and label == "no":
                continue
            out.append(_edge(node.id, target, label, (node.id, target) in taken))
    for node in NODES.values():
        x, y = position(node.id)
        cls = "node visited" if node.id in visited else "node"
        tip = [f"{node.id}: {node.question}"] + by_node.get(node.id, [])
        out.append(f'<g class="{cls}" id="node-{node.id}" data-node="{node.id}">'
                   f"<title>{escape(chr(10).join(tip))}</title>"
                   f'<rect x="{x - BOX_W // 2}" y="{y - BOX_H // 2}" width="{BOX_W}" height="{BOX_H}" rx="5"/>'
                   f'<text x="{x}" y="{y + 4}">{node.id}</text></g>')
    for node in NODES.values():
        for target in {node.on_true, node.on_false}:
            if isinstance(target, int):
                x, y = status_position(node.id, target)
                final = status is not None and target == status and path and path[-1] == node.id
                cls = f"status {_status_class(target)}{' visited' if final else ''}"
                out.append(f'<g class="{cls}" data-status="{target}" data-from="{node.id}">'
                           f'<rect x="{x - 15}" y="{y - 9}" width="30" height="18" rx="9"/>'
                           f'<text x="{x}" y="{y + 4}">{target}</text></g>')
    if status is not None and path and not any(
            node == path[-1] and status in (NODES[node].on_true, NODES[node].on_false) for node in NODES):
        # A status the table does not draw (a callback halted, or an exception): show it
        # beside the last node so the path still ends somewhere.
        x, y = position(path[-1])
        out.append(f'<g class="status halted visited" data-status="{status}" data-from="{path[-1]}">'
                   f'<rect x="{x - 15}" y="{y + 14}" width="30" height="18" rx="9"/>'
                   f'<text x="{x}" y="{y + 27}">{status}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _edge(source: str, target: Next, label: str, taken: bool) -> str:
    x1, y1 = position(source)
    x2, y2 = status_position(source, target) if isinstance(target, int) else position(target)
    cls = f"edge {label}{' taken' if taken else ''}"
    return (f'<line class="{cls}" data-from="{source}" data-to="{target}" x1="{x1}" y1="{y1}" '
            f'x2="{x2}" y2="{y2}" marker-end="url(#arrow)"/>')


STYLE = """
.decision-graph { font: 11px sans-serif; background: #fff; }
.decision-graph .node rect { fill: #eef1f5; stroke: #8a94a6; }
.decision-graph .node.visited rect { fill: #ffd54f; stroke: #c77800; stroke-width: 2; }
.decision-graph .node { cursor: pointer; }
.decision-graph text { text-anchor: middle; pointer-events: none; }
.decision-graph .edge { stroke: #c9ced8; stroke-width: 1; }
.decision-graph .edge.taken { stroke: #c77800; stroke-width: 3; }
.decision-graph .status rect { fill: #f7f7f7; stroke: #bbb; }
.decision-graph .status.visited rect { fill: #ff7043; stroke: #b23c17; stroke-width: 2; }
"""
