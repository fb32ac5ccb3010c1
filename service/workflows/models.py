"""Workflows: named DAGs of nodes and edges, versioned as one unit."""

import uuid
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema
from sqlalchemy import Column, ForeignKeyConstraint, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Relationship, SQLModel

from service.config_documents import WorkflowConfigJson, inline_json_schema
from service.shared_models import (
    PUBLIC_CONFIG,
    WRITE_CONFIG,
    FiniteFloat,
    IdMixin,
    JsonObject,
    SafeStr,
    SoftDeleteMixin,
    StrictBool,
    TimestampsMixin,
)

if TYPE_CHECKING:
    from service.graph.edges.models import Edge
    from service.graph.nodes.models import Node

EMPTY_JSONB = text("'{}'::jsonb")


def jsonb_object_field(description: str) -> Any:
    """A NOT NULL JSONB object column defaulting to {}."""
    return Field(
        default_factory=dict,
        sa_type=JSONB,
        sa_column_kwargs={"server_default": EMPTY_JSONB},
        description=description,
    )


class Viewport(BaseModel):
    """The editor's pan and zoom (React Flow's viewport), kept so the canvas reopens as left."""

    model_config = ConfigDict(extra="forbid")

    x: FiniteFloat = Field(default=0.0)
    y: FiniteFloat = Field(default=0.0)
    zoom: FiniteFloat = Field(default=1.0, gt=0, le=1000)


DEFAULT_VIEWPORT = text("""'{"x": 0, "y": 0, "zoom": 1}'::jsonb""")


def stored_viewport(value: dict[str, Any]) -> dict[str, Any]:
    """A viewport as stored in JSONB: validated, every member present."""
    return Viewport.model_validate(value).model_dump(mode="json")


# Stored as a plain JSON object (the ORM writes JSONB from dicts), validated as a Viewport.
ViewportJson = Annotated[
    dict[str, Any], AfterValidator(stored_viewport), WithJsonSchema(inline_json_schema(Viewport))
]


class WorkflowBase(SQLModel):
    """Shared base of the workflow table and schemas."""

    name: SafeStr = Field(min_length=1, max_length=255, schema_extra={"examples": ["BTC momentum"]})
    description: SafeStr | None = Field(default=None, max_length=10_000, sa_type=Text)
    config: WorkflowConfigJson = jsonb_object_field(
        "Run settings: timeout, retry_policy, max_concurrent_nodes, error_handling; "
        "unknown keys are kept."
    )
    variables: JsonObject = jsonb_object_field("Workflow variables, free-form JSON.")
    is_active: StrictBool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    viewport: ViewportJson = Field(
        default_factory=lambda: Viewport().model_dump(mode="json"),
        sa_type=JSONB,
        sa_column_kwargs={"server_default": DEFAULT_VIEWPORT},
        description="The editor's viewport; not part of the definition (no revision records it).",
    )


_version_column = Column("version", Integer, nullable=False, server_default=text("1"))


class Workflow(WorkflowBase, IdMixin, TimestampsMixin, SoftDeleteMixin, table=True):
    """The workflow row; `version` is the optimistic-lock token for it and its graph."""

    __tablename__ = "workflows"
    __table_args__ = (
        # Serves owner lookups and the default keyset order (created_at, id) of the list.
        Index("idx_workflows_owner", "owner_id", "created_at", "id"),
        Index(
            "idx_workflows_owner_active",
            "owner_id",
            "is_active",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("idx_workflows_config", "config", postgresql_using="gin"),
        # The published revision is one of the workflow's own: it cannot be pruned while
        # published, and goes with the workflow (revisions cascade, checked at statement end).
        ForeignKeyConstraint(
            ["id", "published_revision"],
            ["revisions.workflow_id", "revisions.number"],
            name="fk_workflows_published_revision",
            use_alter=True,
        ),
    )
    __mapper_args__ = {"version_id_col": _version_column}

    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    version: int = Field(default=1, sa_column=_version_column)
    published_revision: int | None = Field(default=None)

    nodes: list["Node"] = Relationship(
        back_populates="workflow",
        sa_relationship_kwargs={
            "lazy": "selectin",
            "cascade": "all, delete-orphan",
            "passive_deletes": True,
            "order_by": "Node.created_at",
        },
    )
    edges: list["Edge"] = Relationship(
        back_populates="workflow",
        sa_relationship_kwargs={
            "lazy": "selectin",
            "cascade": "all, delete-orphan",
            "passive_deletes": True,
            "order_by": "Edge.created_at",
        },
    )


class WorkflowCreate(WorkflowBase):
    """Body of POST /workflows."""

    model_config = WRITE_CONFIG


class WorkflowUpdate(SQLModel):
    """Body of PATCH /workflows/{id}: the fields it names replace the stored ones."""

    model_config = WRITE_CONFIG

    name: SafeStr = Field(default=None, min_length=1, max_length=255)
    description: SafeStr | None = Field(default=None, max_length=10_000)
    config: WorkflowConfigJson = Field(default=None)
    variables: JsonObject = Field(default=None)
    is_active: StrictBool = Field(default=None)
    viewport: ViewportJson = Field(default=None)


class WorkflowPublication(SQLModel):
    """What publishing and unpublishing write: the published revision's number, or null."""

    published_revision: int | None = Field(ge=1)


class WorkflowPublic(SoftDeleteMixin, TimestampsMixin, WorkflowBase, IdMixin):
    """A workflow as the API shows it."""

    model_config = PUBLIC_CONFIG

    owner_id: uuid.UUID
    version: int = Field(ge=1, schema_extra={"examples": [3]})
    published_revision: int | None = Field(
        ge=1, description="The number of the published revision; null when none is."
    )
    has_unpublished_changes: bool = Field(
        description=(
            "Whether the working copy's definition differs from the published revision's "
            "(true when nothing is published)."
        )
    )
