"""The decision graph as data: node id → (question, next on true, next on false).

This table is the single source of the flow. ``flow.py`` walks it (one function per node
answers the question); ``docs/resources.md``'s diagram and the debugger's SVG are drawn
from it; the conformance test checks every node is visited. Ids follow webmachine's v3
diagram (column letter, row number), so the SVG can place a node from its id alone.

A ``next`` value is a node id (str) or a final status (int). A node function may also end
the flow with any int (a callback halting, or a status that needs headers set first).
"""

from __future__ import annotations

from typing import NamedTuple, Union

Next = Union[str, int]


class Node(NamedTuple):
    id: str
    question: str
    on_true: Next
    on_false: Next
    callbacks: tuple[str, ...] = ()


START = "B13"

NODES: dict[str, Node] = {node.id: node for node in [
    Node("B13", "service available?", "B12", 503, ("service_available",)),
    Node("B12", "method known?", "B11", 501, ("known_methods",)),
    Node("B11", "URI too long?", 414, "B10", ("uri_too_long",)),
    Node("B10", "method allowed?", "B9", 405, ("allowed_methods",)),
    Node("B9", "Content-MD5 present?", "B9a", "B9b"),
    Node("B9a", "Content-MD5 valid?", "B9b", 400, ("validate_content_checksum",)),
    Node("B9b", "malformed?", 400, "B8", ("malformed_request",)),
    Node("B8", "authorized?", "B7", 401, ("is_authorized",)),
    Node("B7", "forbidden?", 403, "B6", ("forbidden",)),
    Node("B6", "Content-* headers valid?", "B5", 501, ("valid_content_headers",)),
    Node("B5", "known Content-Type?", "B4", 415, ("known_content_type",)),
    Node("B4", "entity length valid?", "B3", 413, ("valid_entity_length",)),
    Node("B3", "OPTIONS?", 200, "C3", ("options", "allowed_methods")),
    Node("C3", "Accept present?", "C4", "D4", ("content_types_provided",)),
    Node("C4", "acceptable media type?", "D4", 406, ("content_types_provided",)),
    Node("D4", "Accept-Language present?", "D5", "E5", ("languages_provided", "language_chosen")),
    Node("D5", "acceptable language?", "E5", 406, ("languages_provided", "language_chosen")),
    Node("E5", "Accept-Charset present?", "E6", "F6", ("charsets_provided",)),
    Node("E6", "acceptable charset?", "F6", 406, ("charsets_provided",)),
    Node("F6", "Accept-Encoding present?", "F7", "G7", ("encodings_provided",)),
    Node("F7", "acceptable encoding?", "G7", 406, ("encodings_provided",)),
    Node("G7", "resource exists?", "G8", "H7", ("variances", "resource_exists")),
    Node("G8", "If-Match present?", "G9", "H10"),
    Node("G9", "If-Match: * ?", "I12", "G11"),
    Node("G11", "If-Match strong match?", "I12", 412, ("generate_etag",)),
    Node("H10", "If-Unmodified-Since present?", "H11", "I12"),
    Node("H11", "If-Unmodified-Since valid date?", "H12", "I12"),
    Node("H12", "Last-Modified > If-Unmodified-Since?", 412, "I12", ("last_modified",)),
    Node("I12", "If-None-Match present?", "I13", "L13"),
    Node("I13", "If-None-Match: * ?", "J18", "K13"),
    Node("K13", "If-None-Match weak match?", "J18", "M16", ("generate_etag",)),
    Node("J18", "GET or HEAD?", 304, 412),
    Node("L13", "If-Modified-Since present (GET/HEAD)?", "L14", "M16"),
    Node("L14", "If-Modified-Since valid date?", "L15", "M16"),
    Node("L15", "If-Modified-Since in the future?", "M16", "L17"),
    Node("L17", "Last-Modified > If-Modified-Since?", "M16", 304, ("last_modified",)),
    Node("M16", "DELETE?", "M20", "N16"),
    Node("M20", "delete enacted?", "M20b", 500, ("delete_resource",)),
    Node("M20b", "delete completed?", "O20", 202, ("delete_completed",)),
    Node("N16", "POST?", "N11", "O16"),
    Node("N11", "redirect?", 303, "P11",
         ("post_is_create", "create_path", "base_uri", "content_types_accepted", "process_post")),
    Node("O16", "PUT or PATCH?", "O14", "O18"),
    Node("O14", "conflict?", 409, "P11", ("is_conflict", "content_types_accepted")),
    Node("O18", "GET or HEAD? (build the representation)", "O18b", "O18b",
         ("generate_etag", "last_modified", "expires", "content_types_provided")),
    Node("O18b", "multiple choices?", 300, 200, ("multiple_choices",)),
    Node("O20", "response has a body?", "O18", 204),
    Node("P11", "new resource (Location set or created)?", 201, "O20"),
    Node("H7", "If-Match present? (remembered)", "I7", "I7"),
    Node("I7", "PUT?", "I4", "K7"),
    Node("I4", "moved permanently?", 301, "I5", ("moved_permanently",)),
    Node("I5", "If-Match was present?", 412, "P3"),
    Node("P3", "conflict?", 409, "P11", ("is_conflict", "content_types_accepted")),
    Node("K7", "previously existed?", "K5", "L7", ("previously_existed",)),
    Node("K5", "moved permanently?", 301, "L5", ("moved_permanently",)),
    Node("L5", "moved temporarily?", 307, "M5", ("moved_temporarily",)),
    Node("M5", "POST?", "N5", 410),
    Node("N5", "allow missing POST?", "N6", 410, ("allow_missing_post",)),
    Node("L7", "POST?", "M7", 404),
    Node("M7", "allow missing POST?", "N6", 404, ("allow_missing_post",)),
    Node("N6", "If-Match was present?", 412, "N11"),
]}

def edges() -> list[tuple[str, Next, bool]]:
    """Every (from, to, on_true) edge, in table order."""
    out: list[tuple[str, Next, bool]] = []
    for node in NODES.values():
        out.append((node.id, node.on_true, True))
        if node.on_false != node.on_true:
            out.append((node.id, node.on_false, False))
    return out


def _outcome(value: Next) -> str:
    return f"**{value}**" if isinstance(value, int) else value


def markdown_table() -> str:
    """The table as Markdown, for docs/resources.md (see docs/gen_resource_graph.py)."""
    rows = ["| node | question | true | false | callbacks |", "|---|---|---|---|---|"]
    for node in NODES.values():
        callbacks = ", ".join(f"`{name}`" for name in node.callbacks)
        rows.append(f"| {node.id} | {node.question} | {_outcome(node.on_true)} | "
                    f"{_outcome(node.on_false)} | {callbacks} |")
    return "\n".join(rows) + "\n"


def mermaid() -> str:
    """A Mermaid flowchart of the table (GitHub renders it in docs/resources.md)."""
    lines = ["flowchart TD"]
    for node in NODES.values():
        lines.append(f'    {node.id}{{"{node.id}: {node.question}"}}')
    for source, target, on_true in edges():
        label = "yes" if on_true else "no"
        if isinstance(target, int):
            lines.append(f"    {source} -- {label} --> {source}_{target}([{target}])")
        else:
            lines.append(f"    {source} -- {label} --> {target}")
    return "\n".join(lines) + "\n"
