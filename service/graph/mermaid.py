"""Render a workflow as a Mermaid flowchart."""

import json
import uuid
from collections.abc import Sequence
from typing import Protocol

# Opening and closing brackets of the Mermaid node shape for each node type.
NODE_SHAPES: dict[str, tuple[str, str]] = {
    "trigger": ("([", "])"),
    "condition": ("{", "}"),
    "tool": ("[", "]"),
    "agent": ("[[", "]]"),
    "adapter": ("[/", "/]"),
    "aggregator": ("{{", "}}"),
}
DEFAULT_SHAPE = ("[", "]")

NODE_CLASS_STYLES: dict[str, str] = {
    "trigger": "fill:#e8f5e9,stroke:#2e7d32,color:#1b5e20",
    "condition": "fill:#fff8e1,stroke:#f9a825,color:#5d4037",
    "tool": "fill:#e3f2fd,stroke:#1565c0,color:#0d47a1",
    "agent": "fill:#f3e5f5,stroke:#6a1b9a,color:#4a148c",
    "adapter": "fill:#e0f7fa,stroke:#00838f,color:#004d40",
    "aggregator": "fill:#fbe9e7,stroke:#d84315,color:#bf360c",
}

# Everything else in label text becomes a "#<code>;" entity, so no user text can close a
# label, start a tag, or be parsed as Mermaid syntax.
SAFE_LABEL_PUNCTUATION = frozenset(" .,-_?!'")


class MermaidNode(Protocol):
    """Workflow node as seen by the renderer."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def node_type(self) -> str: ...


class MermaidEdge(Protocol):
    """Workflow edge as seen by the renderer."""

    @property
    def source_node_id(self) -> uuid.UUID: ...
    @property
    def target_node_id(self) -> uuid.UUID: ...
    @property
    def source_handle(self) -> str | None: ...
    @property
    def label(self) -> str | None: ...


def escape_label(text: str) -> str:
    """Collapse whitespace and replace every unsafe character with a Mermaid entity code."""
    return "".join(
        char if char.isalnum() or char in SAFE_LABEL_PUNCTUATION else f"#{ord(char)};"
        for char in " ".join(text.split())
    )


def _node_type(node: MermaidNode) -> str:
    """The node type as a plain string value."""
    # A (str, Enum) member stringifies to "Class.MEMBER", so prefer its value.
    return str(getattr(node.node_type, "value", node.node_type))


def _node_line(mermaid_id: str, node: MermaidNode) -> str:
    """The statement declaring one node with its shape and name/type label."""
    node_type = _node_type(node)
    opening, closing = NODE_SHAPES.get(node_type, DEFAULT_SHAPE)
    label = f"{escape_label(node.name)}<br/><i>{escape_label(node_type)}</i>"
    return f'    {mermaid_id}{opening}"{label}"{closing}'


def _edge_line(source_id: str, target_id: str, edge: MermaidEdge) -> str:
    """The statement for one edge, labelled by its label or else its source handle."""
    label = escape_label(edge.label or edge.source_handle or "")
    arrow = f"-->|{label}|" if label else "-->"
    return f"    {source_id} {arrow} {target_id}"


def _class_lines(mermaid_ids: dict[uuid.UUID, str], nodes: Sequence[MermaidNode]) -> list[str]:
    """classDef and class statements styling each known node type present."""
    ids_by_type: dict[str, list[str]] = {}
    for node in nodes:
        ids_by_type.setdefault(_node_type(node), []).append(mermaid_ids[node.id])
    present = [node_type for node_type in NODE_CLASS_STYLES if node_type in ids_by_type]
    definitions = [
        f"    classDef {node_type} {NODE_CLASS_STYLES[node_type]}" for node_type in present
    ]
    assignments = [
        f"    class {','.join(ids_by_type[node_type])} {node_type}" for node_type in present
    ]
    return definitions + assignments


def render_mermaid(title: str, nodes: Sequence[MermaidNode], edges: Sequence[MermaidEdge]) -> str:
    """Render a Mermaid ``flowchart TD``; edges touching unknown nodes are skipped."""
    mermaid_ids = {node.id: f"n{position}" for position, node in enumerate(nodes, start=1)}
    # A JSON string is a valid YAML double-quoted scalar; one line keeps the front matter intact.
    lines = ["---", f"title: {json.dumps(' '.join(title.split()), ensure_ascii=False)}", "---"]
    lines.append("flowchart TD")
    lines += [_node_line(mermaid_ids[node.id], node) for node in nodes]
    lines += [
        _edge_line(mermaid_ids[edge.source_node_id], mermaid_ids[edge.target_node_id], edge)
        for edge in edges
        if edge.source_node_id in mermaid_ids and edge.target_node_id in mermaid_ids
    ]
    lines += _class_lines(mermaid_ids, nodes)
    return "\n".join(lines) + "\n"
