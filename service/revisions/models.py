"""Revisions: immutable snapshots of a workflow's definition at one version."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from annotated_types import Ge, Le
from sqlalchemy import Index
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from service.graph.edges.models import EdgePublic
from service.graph.models import GraphPublic
from service.graph.nodes.models import NodePublic, enum_column
from service.shared_models import (
    INT32_MAX,
    PUBLIC_CONFIG,
    WHOLE_NUMBER,
    WRITE_CONFIG,
    CreatedAtMixin,
    SafeStr,
    StrictInt,
)

# The workflow fields a revision captures besides its nodes and edges.
DEFINITION_FIELDS = ("name", "description", "config", "variables")
RevisionNumber = Annotated[StrictInt, Ge(1), Le(INT32_MAX), WHOLE_NUMBER]


class RevisionOrigin(StrEnum):
    """What created a revision."""

    SAVE = "save"
    MANUAL = "manual"
    PUBLISH = "publish"
    RESTORE = "restore"


class RevisionBase(SQLModel):
    """Shared base of the revision table and schemas."""

    message: SafeStr | None = Field(
        default=None,
        max_length=500,
        description="What this revision is; at most 500 characters.",
        schema_extra={"examples": ["Before the stop-loss change"]},
    )


class Revision(RevisionBase, CreatedAtMixin, table=True):
    """The revision row: never updated; deleted with its workflow or by retention pruning."""

    __tablename__ = "revisions"
    # The primary key (workflow_id, number) is the unique pair, and its index, read backwards,
    # serves the newest-first list and the latest-revision lookup.
    __table_args__ = (Index("idx_revisions_author", "author_id"),)

    workflow_id: uuid.UUID = Field(foreign_key="workflows.id", ondelete="CASCADE", primary_key=True)
    number: int = Field(primary_key=True, ge=1, description="1, 2, 3 ... per workflow.")
    version: int = Field(ge=1, description="The workflow version this revision captured.")
    author_id: uuid.UUID = Field(
        foreign_key="users.id", ondelete="CASCADE", description="Who created it."
    )
    origin: RevisionOrigin = Field(sa_column=enum_column(RevisionOrigin, "revision_origin_enum"))
    content_hash: str = Field(
        min_length=64,
        max_length=64,
        description=(
            "SHA-256 (hex) of the canonical definition: workflow name, description, config and "
            "variables, nodes and edges with their ids; no timestamps or versions, keys and "
            "items in a fixed order."
        ),
    )
    node_count: int = Field(ge=0)
    edge_count: int = Field(ge=0)
    snapshot: dict[str, Any] = Field(
        sa_type=JSONB, description="The graph document (GET .../graph) at `version`."
    )


class RevisionCreate(RevisionBase):
    """Body of POST .../revisions: a named checkpoint of the current state."""

    model_config = WRITE_CONFIG


class RevisionPublic(RevisionBase):
    """A revision's metadata, as lists and documents show it (the snapshot is not in it)."""

    model_config = PUBLIC_CONFIG

    workflow_id: uuid.UUID
    number: int = Field(ge=1, schema_extra={"examples": [4]})
    version: int = Field(ge=1, description="The workflow version this revision captured.")
    origin: RevisionOrigin = Field(
        description=(
            "`save`: a PUT .../graph that changed the definition; `manual`: POST .../revisions "
            "(or the first revision of a duplicate); `publish`: publishing a definition no "
            "revision held; `restore`: a restore."
        )
    )
    content_hash: str = Field(min_length=64, max_length=64)
    node_count: int = Field(ge=0)
    edge_count: int = Field(ge=0)
    author_id: uuid.UUID
    created_at: datetime


class RevisionDocument(GraphPublic):
    """A graph (as GET .../graph renders it) and the metadata of the revision holding it."""

    model_config = PUBLIC_CONFIG

    revision: RevisionPublic


class PublishIn(RevisionCreate):
    """Body of POST .../publish (optional)."""

    revision: RevisionNumber | None = Field(
        default=None, description="The revision to publish; the working copy when omitted."
    )


CURRENT = "current"


class FieldChange(SQLModel):
    """One changed value: where (a JSON pointer), and the old and new values.

    `old` is absent when the member was added, `new` when it was removed.
    """

    op: str = Field(description="`add`, `remove` or `replace` (as in RFC 6902).")
    pointer: str = Field(schema_extra={"examples": ["/config/timeout"]})
    old: Any = None
    new: Any = None


class ChangedItem(SQLModel):
    """A node or edge present on both sides with different fields."""

    model_config = PUBLIC_CONFIG

    id: uuid.UUID
    changes: list[FieldChange] = Field(
        description="Pointers relative to the item, e.g. `/config/timeout`."
    )


class NodeChanges(SQLModel):
    """Nodes added, removed and changed between two definitions."""

    model_config = PUBLIC_CONFIG

    added: list[NodePublic]
    removed: list[NodePublic]
    changed: list[ChangedItem]


class EdgeChanges(SQLModel):
    """Edges added, removed and changed between two definitions."""

    model_config = PUBLIC_CONFIG

    added: list[EdgePublic]
    removed: list[EdgePublic]
    changed: list[ChangedItem]


class RevisionDiff(SQLModel):
    """The structural difference between two definitions; all lists empty when identical."""

    model_config = PUBLIC_CONFIG

    from_: int | str = Field(alias="from", description="A revision number, or `current`.")
    to: int | str = Field(description="A revision number, or `current` (the working copy).")
    workflow: list[FieldChange] = Field(
        description="Changed workflow fields, pointers from the workflow, e.g. `/name`."
    )
    nodes: NodeChanges
    edges: EdgeChanges
