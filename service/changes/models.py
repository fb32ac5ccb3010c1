"""Change log entries: what one version step of a workflow did, by whom and when."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import PrimaryKeyConstraint, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.shared_models import PUBLIC_CONFIG, utc_timestamp


class Operation(StrEnum):
    """The stable name of what a version step did."""

    WORKFLOW_CREATED = "workflow.created"
    WORKFLOW_DUPLICATED = "workflow.duplicated"
    WORKFLOW_UPDATED = "workflow.updated"
    WORKFLOW_DELETED = "workflow.deleted"
    WORKFLOW_RESTORED = "workflow.restored"
    WORKFLOW_PUBLISHED = "workflow.published"
    WORKFLOW_UNPUBLISHED = "workflow.unpublished"
    NODE_CREATED = "node.created"
    NODES_BATCH_CREATED = "nodes.batch_created"
    NODE_UPDATED = "node.updated"
    NODE_DELETED = "node.deleted"
    EDGE_CREATED = "edge.created"
    EDGES_BATCH_CREATED = "edges.batch_created"
    EDGE_UPDATED = "edge.updated"
    EDGE_DELETED = "edge.deleted"
    GRAPH_SAVED = "graph.saved"
    REVISION_RESTORED = "revision.restored"
    TOOL_PURGED = "tool.purged"
    AGENT_PURGED = "agent.purged"


OPERATION_DOC = (
    "What the step did: workflow.created/duplicated/updated/deleted/restored/published/"
    "unpublished, node.created/updated/deleted, nodes.batch_created, edge.created/updated/"
    "deleted, edges.batch_created, graph.saved, revision.restored, and tool.purged or "
    "agent.purged when purging a tool or agent emptied nodes' references to it."
)


class ItemChanges(SQLModel):
    """The ids of one kind of item (nodes or edges) a step created, updated and deleted."""

    model_config = PUBLIC_CONFIG

    created: list[uuid.UUID] = Field(default_factory=list)
    updated: list[uuid.UUID] = Field(default_factory=list)
    deleted: list[uuid.UUID] = Field(default_factory=list)


def touched(
    created: list[uuid.UUID] | None = None,
    updated: list[uuid.UUID] | None = None,
    deleted: list[uuid.UUID] | None = None,
) -> ItemChanges:
    """The ItemChanges of these ids."""
    return ItemChanges(created=created or [], updated=updated or [], deleted=deleted or [])


class ChangeBase(SQLModel):
    """What the table and the API share of an entry."""

    version: int = Field(ge=1, description="The version the step produced.")
    actor_id: uuid.UUID = Field(description="The user whose request made the step.")
    operation: Operation = Field(sa_type=String(64), description=OPERATION_DOC)


class Change(ChangeBase, table=True):
    """One change log entry; the primary key (workflow_id, version) serves every read."""

    __tablename__ = "workflow_changes"
    __table_args__ = (PrimaryKeyConstraint("workflow_id", "version"),)

    workflow_id: uuid.UUID = Field(foreign_key="workflows.id", ondelete="CASCADE")
    at: datetime = utc_timestamp()
    nodes: dict[str, Any] = Field(sa_type=JSONB)
    edges: dict[str, Any] = Field(sa_type=JSONB)
    fields: list[str] = Field(sa_type=JSONB)


class ChangePublic(ChangeBase):
    """One change log entry as the API shows it."""

    model_config = PUBLIC_CONFIG

    at: datetime = Field(description="When the step's transaction began.")
    nodes: ItemChanges = Field(description="Node ids the step created, updated and deleted.")
    edges: ItemChanges = Field(description="Edge ids the step created, updated and deleted.")
    fields: list[str] = Field(description="The workflow fields the step wrote.")


class ChangeEntry(SQLModel):
    """What a write path records of its step; the version and actor come from the write."""

    operation: Operation
    nodes: ItemChanges = Field(default_factory=ItemChanges)
    edges: ItemChanges = Field(default_factory=ItemChanges)
    fields: list[str] = Field(default_factory=list)
