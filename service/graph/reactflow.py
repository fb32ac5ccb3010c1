"""React Flow's document (what `toObject()` gives): the graph as a React Flow editor loads it.

A graph document converts to it member by member, and back: a PUT in this format becomes the
service's own graph save body, so every rule and limit applies, and the pointers of its
problems are turned back into pointers into the React Flow document.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from service.errors import ItemCode, ValidationError, json_pointer, validation_code
from service.shared_models import JsonObject, NodeType
from service.workflows.models import Viewport

REACTFLOW_MEDIA_TYPE = "application/vnd.reactflow+json"

NODE_DATA_FIELDS = (
    "name",
    "config",
    "tool_id",
    "agent_id",
    "timeout_seconds",
    "retry_config",
    "input_schema",
    "output_schema",
)
EDGE_DATA_FIELDS = ("condition", "priority")
# Each member of the service's own format, and where React Flow's document keeps it.
NODE_PATHS = {
    "id": ("id",),
    "node_type": ("type",),
    "position_x": ("position", "x"),
    "position_y": ("position", "y"),
    **{name: ("data", name) for name in NODE_DATA_FIELDS},
}
EDGE_PATHS = {
    "id": ("id",),
    "source_node_id": ("source",),
    "target_node_id": ("target",),
    "source_handle": ("sourceHandle",),
    "target_handle": ("targetHandle",),
    "label": ("label",),
    **{name: ("data", name) for name in EDGE_DATA_FIELDS},
}
PATHS = {"nodes": NODE_PATHS, "edges": EDGE_PATHS}
# What React Flow adds for its own rendering and interaction: never stored, ignored on PUT.
SHARED_UI_MEMBERS = frozenset(
    {
        "selected",
        "dragging",
        "measured",
        "width",
        "height",
        "initialWidth",
        "initialHeight",
        "zIndex",
        "style",
        "className",
        "hidden",
        "deletable",
        "selectable",
        "focusable",
        "ariaLabel",
        "ariaRole",
        "domAttributes",
    }
)
NODE_UI_MEMBERS = SHARED_UI_MEMBERS | {
    "positionAbsolute",
    "draggable",
    "connectable",
    "sourcePosition",
    "targetPosition",
    "dragHandle",
    "parentId",
    "parentNode",
    "extent",
    "expandParent",
    "origin",
    "resizing",
    "handles",
}
EDGE_UI_MEMBERS = SHARED_UI_MEMBERS | {
    "type",
    "animated",
    "markerStart",
    "markerEnd",
    "interactionWidth",
    "labelStyle",
    "labelShowBg",
    "labelBgStyle",
    "labelBgPadding",
    "labelBgBorderRadius",
    "pathOptions",
    "reconnectable",
    "updatable",
    "sourceNode",
    "targetNode",
}
UI_MEMBERS = {"nodes": NODE_UI_MEMBERS, "edges": EDGE_UI_MEMBERS}
UNKNOWN_DETAIL = "Unknown member: React Flow's format does not have it."


def _nested(item: Mapping[str, Any], paths: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """An item of the graph document laid out as React Flow's item."""
    nested: dict[str, Any] = {}
    for own, path in paths.items():
        place = nested
        for key in path[:-1]:
            place = place.setdefault(key, {})
        place[path[-1]] = item[own]
    return nested


def reactflow_document(graph: Mapping[str, Any]) -> dict[str, Any]:
    """React Flow's document of a graph document (GraphPublic)."""
    return {
        "nodes": [_nested(node, NODE_PATHS) for node in graph["nodes"]],
        "edges": [_nested(edge, EDGE_PATHS) for edge in graph["edges"]],
        "viewport": graph["viewport"],
    }


@dataclass
class SubmittedDocument:
    """A React Flow document as the service's own graph save body, and its own problems."""

    graph: dict[str, Any]
    viewport: Viewport | None
    problems: list[dict[str, str]] = field(default_factory=list)


def _unknown(pointer: str) -> dict[str, str]:
    """An UNKNOWN_MEMBER problem at `pointer`."""
    return {"code": ItemCode.UNKNOWN_MEMBER, "pointer": pointer, "detail": UNKNOWN_DETAIL}


def _flattened(section: str, position: int, item: Any, problems: list[dict[str, str]]) -> Any:
    """One React Flow item as an item of the own format; unknown members become problems."""
    if not isinstance(item, dict):
        return item  # the own format says what is wrong with it, at the same pointer
    own_of = {path: own for own, path in PATHS[section].items()}
    groups = {path[0] for path in own_of if len(path) > 1}
    flat: dict[str, Any] = {}
    place = f"/{section}/{position}"
    for key, value in item.items():
        if key in UI_MEMBERS[section]:
            continue
        if key in groups:
            if not isinstance(value, dict):
                detail = "Input should be an object."
                problems.append(
                    {"code": ItemCode.INVALID_VALUE, "pointer": f"{place}/{key}", "detail": detail}
                )
                continue
            for inner, inner_value in value.items():
                own = own_of.get((key, inner))
                if own is None:
                    problems.append(_unknown(json_pointer(section, position, key, inner)))
                else:
                    flat[own] = inner_value
        elif (key,) in own_of:
            flat[own_of[(key,)]] = value
        else:
            problems.append(_unknown(json_pointer(section, position, key)))
    return flat


def _section(document: dict[str, Any], section: str, problems: list[dict[str, str]]) -> Any:
    """A list of React Flow items as own-format items (anything else is passed on as it is)."""
    items = document.get(section)
    if not isinstance(items, list):
        return items
    return [_flattened(section, index, item, problems) for index, item in enumerate(items)]


def _viewport(value: Any, problems: list[dict[str, str]]) -> Viewport | None:
    """The document's viewport, or None when invalid (its problems are recorded)."""
    try:
        return Viewport.model_validate(value)
    except PydanticValidationError as error:
        for item in error.errors():
            pointer = json_pointer("viewport", *item["loc"])
            problems.append(
                {"code": validation_code(item), "pointer": pointer, "detail": str(item["msg"])}
            )
        return None


def from_reactflow(document: Any) -> SubmittedDocument:
    """The own graph save body of a React Flow document, with the problems only it can have."""
    if not isinstance(document, dict):
        return SubmittedDocument(document, None)  # the own format refuses it
    problems: list[dict[str, str]] = []
    graph = {section: _section(document, section, problems) for section in PATHS}
    graph = {section: items for section, items in graph.items() if section in document}
    for key in document.keys() - {*PATHS, "viewport"}:
        problems.append(_unknown(json_pointer(key)))
    # Absent, the stored viewport is kept; null is refused like any other non-object.
    viewport = _viewport(document["viewport"], problems) if "viewport" in document else None
    return SubmittedDocument(graph, viewport, problems)


def reactflow_pointer(pointer: str) -> str:
    """A pointer into an own-format graph body, as the pointer into React Flow's document.

    Pointers already into the React Flow document are left as they are: its member names
    differ from the own format's wherever the two lay out an item differently.
    """
    tokens = pointer.split("/")
    if len(tokens) < 4 or tokens[1] not in PATHS or not tokens[2].isdigit():
        return pointer
    path = PATHS[tokens[1]].get(tokens[3])
    if path is None:
        return pointer
    return "/".join([*tokens[:3], *path, *tokens[4:]])


def in_reactflow_terms(error: ValidationError) -> ValidationError:
    """The same VALIDATION_ERROR with every pointer into React Flow's document."""
    problems = [
        {**item, "pointer": reactflow_pointer(item["pointer"])} for item in error.extra["errors"]
    ]
    return ValidationError(problems, detail=error.detail)


class ReactFlowPosition(BaseModel):
    """A node's place on the canvas."""

    x: float
    y: float


class ReactFlowNodeData(BaseModel):
    """The node's stored fields besides its type and position (see NodePublic for each)."""

    name: str
    config: JsonObject = Field(default_factory=dict)
    tool_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    timeout_seconds: int = 300
    retry_config: JsonObject | None = None
    input_schema: JsonObject | None = None
    output_schema: JsonObject | None = None


class ReactFlowNode(BaseModel):
    """A node as React Flow keeps it; React Flow's UI members are ignored on PUT."""

    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    type: NodeType = Field(description="The node type (node_type).")
    position: ReactFlowPosition
    data: ReactFlowNodeData


class ReactFlowEdgeData(BaseModel):
    """The edge's condition and priority."""

    condition: JsonObject | None = None
    priority: int = 0


class ReactFlowEdge(BaseModel):
    """An edge as React Flow keeps it; React Flow's UI members (`type` too) are ignored on PUT."""

    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    source: uuid.UUID = Field(description="The source node's id.")
    target: uuid.UUID = Field(description="The target node's id.")
    sourceHandle: str | None = None  # noqa: N815 (React Flow's member name)
    targetHandle: str | None = None  # noqa: N815 (React Flow's member name)
    label: str | None = None
    data: ReactFlowEdgeData = Field(default_factory=ReactFlowEdgeData)


class ReactFlowDocument(BaseModel):
    """`application/vnd.reactflow+json`: React Flow's `toObject()` of the graph.

    On PUT, React Flow's UI-only members (`selected`, `dragging`, `measured`, `width`,
    `height`, `style`, `className`...) are ignored; any other unknown member is refused.
    A missing viewport keeps the stored one.
    """

    nodes: list[ReactFlowNode]
    edges: list[ReactFlowEdge]
    viewport: Viewport = Field(default_factory=Viewport)
