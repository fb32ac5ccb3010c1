"""Edges: directed connections between two nodes of the same workflow."""

import uuid
from typing import TYPE_CHECKING, Annotated

from annotated_types import Ge, Le
from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Relationship, SQLModel

from service.config_documents import EdgeConditionJson
from service.shared_models import (
    INT32_MAX,
    PUBLIC_CONFIG,
    WHOLE_NUMBER,
    IdMixin,
    SafeStr,
    StrictInt,
    TimestampsMixin,
)

if TYPE_CHECKING:
    from service.graph.nodes.models import Node
    from service.workflows.models import Workflow

PRIORITY_LIMIT = INT32_MAX
Priority = Annotated[StrictInt, Ge(-PRIORITY_LIMIT), Le(PRIORITY_LIMIT), WHOLE_NUMBER]
# What makes two edges the same connection (uq_edge_connection).
CONNECTION_FIELDS = ("source_node_id", "target_node_id", "source_handle", "target_handle")


class EdgeBase(SQLModel):
    """Shared base of the edge table and schemas."""

    source_node_id: uuid.UUID
    target_node_id: uuid.UUID
    source_handle: SafeStr | None = Field(default=None, max_length=50)
    target_handle: SafeStr | None = Field(default=None, max_length=50)
    condition: EdgeConditionJson | None = Field(default=None, sa_type=JSONB)
    priority: Priority = Field(default=0, sa_column_kwargs={"server_default": "0"})
    label: SafeStr | None = Field(default=None, max_length=100)


class Edge(EdgeBase, IdMixin, TimestampsMixin, table=True):
    """The edge row; the database keeps both nodes inside the edge's workflow."""

    __tablename__ = "edges"
    __table_args__ = (
        UniqueConstraint(
            *CONNECTION_FIELDS,
            name="uq_edge_connection",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("source_node_id <> target_node_id", name="ck_no_self_loop"),
        ForeignKeyConstraint(
            ["workflow_id", "source_node_id"],
            ["nodes.workflow_id", "nodes.id"],
            name="fk_edges_source_node",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["workflow_id", "target_node_id"],
            ["nodes.workflow_id", "nodes.id"],
            name="fk_edges_target_node",
            ondelete="CASCADE",
        ),
        Index("idx_edges_workflow", "workflow_id"),
        Index("idx_edges_source", "source_node_id"),
        Index("idx_edges_target", "target_node_id"),
    )

    workflow_id: uuid.UUID = Field(foreign_key="workflows.id", ondelete="CASCADE")

    workflow: "Workflow" = Relationship(
        back_populates="edges", sa_relationship_kwargs={"lazy": "raise_on_sql"}
    )
    source_node: "Node" = Relationship(
        back_populates="outgoing_edges",
        sa_relationship_kwargs={
            "lazy": "raise_on_sql",
            "foreign_keys": "[Edge.source_node_id]",
            "primaryjoin": "Edge.source_node_id == Node.id",
            "overlaps": "edges,workflow",
        },
    )
    target_node: "Node" = Relationship(
        back_populates="incoming_edges",
        sa_relationship_kwargs={
            "lazy": "raise_on_sql",
            "foreign_keys": "[Edge.target_node_id]",
            "primaryjoin": "Edge.target_node_id == Node.id",
            "overlaps": "edges,workflow,source_node",
        },
    )


class EdgeCreate(EdgeBase):
    """Body of POST /workflows/{id}/edges."""


class EdgeUpdate(SQLModel):
    """Body of PATCH .../edges/{id}: the fields it names replace the stored ones."""

    source_node_id: uuid.UUID = Field(default=None)
    target_node_id: uuid.UUID = Field(default=None)
    source_handle: SafeStr | None = Field(default=None, max_length=50)
    target_handle: SafeStr | None = Field(default=None, max_length=50)
    condition: EdgeConditionJson | None = None
    priority: Priority = Field(default=None)
    label: SafeStr | None = Field(default=None, max_length=100)


class EdgePublic(TimestampsMixin, EdgeBase, IdMixin):
    """An edge as the API shows it."""

    model_config = PUBLIC_CONFIG

    workflow_id: uuid.UUID


class EdgeBatchCreate(SQLModel):
    """Body of POST .../edges/batch: edges created together, all or nothing."""

    edges: list[EdgeCreate] = Field(
        min_length=1, description="At most MAX_BATCH_ITEMS (default 100) edges."
    )


class EdgeBatchPublic(SQLModel):
    """The edges a batch created, in request order."""

    model_config = PUBLIC_CONFIG

    items: list[EdgePublic]
