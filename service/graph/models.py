"""Whole-graph schemas: load and save a workflow's nodes and edges in one document."""

import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, PlainValidator
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from service.graph.edges.models import EdgeCreate, EdgePublic, EdgeUpdate
from service.graph.nodes.models import NodeCreate, NodePublic, NodeUpdate, by_node_type
from service.shared_models import (
    PUBLIC_CONFIG,
    WRITE_CONFIG,
    AcceptsReadOnly,
    Name,
    documented_as,
)
from service.workflows.models import WorkflowPublic

CLIENT_ID_DESCRIPTION = (
    "Client-chosen UUID: an id of this workflow updates that item, a new one creates it "
    "with that id; a new id is generated when omitted."
)


class GraphFormat(StrEnum):
    """Representations of a graph document (GET .../graph and a revision's)."""

    JSON = "json"
    MERMAID = "mermaid"


class GraphReadFormat(StrEnum):
    """Representations of GET .../graph: a graph document's, or React Flow's document."""

    JSON = "json"
    MERMAID = "mermaid"
    REACTFLOW = "reactflow"


class GraphNodeIn(NodeCreate, AcceptsReadOnly):
    """A node of a saved graph, with an optional client-chosen id."""

    # SQLModel's __init__ makes pydantic build nested items through it, which runs the model
    # validators twice per item; these schemas are never table rows, so pydantic's own is enough.
    __init__ = BaseModel.__init__

    id: uuid.UUID = Field(default_factory=uuid.uuid4, description=CLIENT_ID_DESCRIPTION)

    @classmethod
    def read_only_of(cls) -> type[BaseModel]:
        """GET .../graph answers each node as NodePublic."""
        return NodePublic


class GraphEdgeIn(EdgeCreate, AcceptsReadOnly):
    """An edge of a saved graph, with an optional client-chosen id; endpoints are node ids."""

    __init__ = BaseModel.__init__

    id: uuid.UUID = Field(default_factory=uuid.uuid4, description=CLIENT_ID_DESCRIPTION)

    @classmethod
    def read_only_of(cls) -> type[BaseModel]:
        """GET .../graph answers each edge as EdgePublic."""
        return EdgePublic


GraphNodeItem = Annotated[GraphNodeIn, documented_as(by_node_type(GraphNodeIn))]


class GraphIn(AcceptsReadOnly):
    """Body of PUT .../graph: the whole graph; stored items missing from it are deleted.

    The workflow members GET .../graph answers are read-only here: sent back, they are ignored.
    """

    nodes: list[GraphNodeItem]
    edges: list[GraphEdgeIn]

    @classmethod
    def read_only_of(cls) -> type[BaseModel]:
        """GET .../graph answers GraphPublic."""
        return GraphPublic


def _checked_by_the_route(value: Any) -> Any:
    """Pass the body through; the route validates it item by item to report every problem."""
    return value


GraphPayload = Annotated[Any, PlainValidator(_checked_by_the_route, json_schema_input_type=GraphIn)]


class GraphPublic(WorkflowPublic):
    """A workflow with all its nodes and edges (ordered by creation time, then id)."""

    model_config = PUBLIC_CONFIG

    nodes: list[NodePublic]
    edges: list[EdgePublic]


class ChangeCounts(SQLModel):
    """How many items of one kind a save created, changed and deleted."""

    model_config = PUBLIC_CONFIG

    created: int = Field(ge=0)
    updated: int = Field(ge=0, description="Only items whose stored fields actually changed.")
    deleted: int = Field(ge=0)


class GraphChanges(SQLModel):
    """What a graph save did to nodes and edges."""

    model_config = PUBLIC_CONFIG

    nodes: ChangeCounts
    edges: ChangeCounts

    def changed_anything(self) -> bool:
        """Whether the save created, changed or deleted anything."""
        counts = (self.nodes, self.edges)
        return any(c.created or c.updated or c.deleted for c in counts)


class GraphSaveResult(GraphPublic):
    """The saved graph and what the save changed."""

    model_config = PUBLIC_CONFIG

    changes: GraphChanges


CHANGE_LIST_DESCRIPTION = "At most MAX_BATCH_ITEMS (default 100) items."


class ChangeSetNodeIn(GraphNodeIn):
    """A node a change set creates, with an optional client-chosen id."""

    model_config = WRITE_CONFIG


class ChangeSetEdgeIn(GraphEdgeIn):
    """An edge a change set creates, with an optional client-chosen id."""

    model_config = WRITE_CONFIG


class ChangeSetNodeUpdate(NodeUpdate):
    """A node a change set updates: its id and the fields that replace the stored ones."""

    model_config = WRITE_CONFIG
    __init__ = BaseModel.__init__  # as GraphNodeIn: never a table row

    id: uuid.UUID


class ChangeSetEdgeUpdate(EdgeUpdate):
    """An edge a change set updates: its id and the fields that replace the stored ones."""

    model_config = WRITE_CONFIG
    __init__ = BaseModel.__init__  # as GraphNodeIn: never a table row

    id: uuid.UUID


ChangeSetNodeItem = Annotated[ChangeSetNodeIn, documented_as(by_node_type(ChangeSetNodeIn))]


class ChangeSetNodes(SQLModel):
    """What a change set does to nodes; a deleted node takes its edges with it."""

    model_config = WRITE_CONFIG
    __init__ = BaseModel.__init__  # as GraphNodeIn: never a table row

    create: list[ChangeSetNodeItem] = Field(
        default_factory=list, description=CHANGE_LIST_DESCRIPTION
    )
    update: list[ChangeSetNodeUpdate] = Field(
        default_factory=list, description=CHANGE_LIST_DESCRIPTION
    )
    delete: list[uuid.UUID] = Field(default_factory=list, description=CHANGE_LIST_DESCRIPTION)


class ChangeSetEdges(SQLModel):
    """What a change set does to edges."""

    model_config = WRITE_CONFIG
    __init__ = BaseModel.__init__  # as GraphNodeIn: never a table row

    create: list[ChangeSetEdgeIn] = Field(default_factory=list, description=CHANGE_LIST_DESCRIPTION)
    update: list[ChangeSetEdgeUpdate] = Field(
        default_factory=list, description=CHANGE_LIST_DESCRIPTION
    )
    delete: list[uuid.UUID] = Field(default_factory=list, description=CHANGE_LIST_DESCRIPTION)


class GraphChangeSet(SQLModel):
    """Body of PATCH .../graph: creates, updates and deletes applied together, all or nothing."""

    model_config = SQLModelConfig(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "nodes": {
                        "update": [
                            {
                                "id": "9b2f6a4e-8d1c-4c1e-9a53-2f7a4f0e6c11",
                                "position_x": 120.0,
                                "position_y": 40.0,
                            }
                        ],
                        "delete": ["0f3c9b8e-5a2d-4e7b-8c61-7d9e2b4a1f05"],
                    },
                    "edges": {},
                }
            ]
        },
    )

    nodes: ChangeSetNodes = Field(default_factory=ChangeSetNodes)
    edges: ChangeSetEdges = Field(default_factory=ChangeSetEdges)

    def is_empty(self) -> bool:
        """Whether the change set names no item at all."""
        sections = (self.nodes, self.edges)
        return not any(s.create or s.update or s.delete for s in sections)


class DuplicateIn(SQLModel):
    """Body of POST .../duplicate (optional)."""

    model_config = WRITE_CONFIG

    name: Name | None = Field(
        default=None, description='Name of the copy; "Copy of <name>" when omitted.'
    )


class StoredNode(SQLModel):
    """The stored fields of a node that validation and Mermaid rendering read."""

    id: uuid.UUID
    name: str
    node_type: str
    config: dict[str, Any]
    tool_id: uuid.UUID | None
    agent_id: uuid.UUID | None


class StoredEdge(SQLModel):
    """The stored fields of an edge that validation and Mermaid rendering read."""

    id: uuid.UUID
    source_node_id: uuid.UUID
    target_node_id: uuid.UUID
    source_handle: str | None
    target_handle: str | None
    label: str | None


class StoredGraph(SQLModel):
    """A stored graph for validation and rendering, with the caller's usable references."""

    version: int
    name: str
    nodes: list[StoredNode]
    edges: list[StoredEdge]
    usable_tool_ids: set[uuid.UUID] = Field(default_factory=set)
    usable_agent_ids: set[uuid.UUID] = Field(default_factory=set)
