"""Nodes: the steps of a workflow, each of one NodeType."""

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, Union, cast

from annotated_types import Ge, Le
from pydantic import ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from sqlalchemy import Column, Index, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, Relationship, SQLModel
from sqlmodel._compat import SQLModelConfig

from service.config_documents import (
    CONFIG_BY_NODE_TYPE,
    RetryConfig,
    RetryConfigJson,
    required_in_schema,
    validate_document,
)
from service.shared_models import (
    PUBLIC_CONFIG,
    WHOLE_NUMBER,
    WRITE_CONFIG,
    FiniteFloat,
    IdMixin,
    JsonObject,
    NodeType,
    SafeStr,
    StrictInt,
    TimestampsMixin,
    document_read_only,
    documented_as,
)
from service.workflows.models import jsonb_object_field

if TYPE_CHECKING:
    from service.graph.edges.models import Edge
    from service.workflows.models import Workflow

# Stored as validation stores every retry_config (delay a float), whichever path writes it.
DEFAULT_RETRY_CONFIG = validate_document(RetryConfig, {"max_retries": 3, "delay": 1})
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
TimeoutSeconds = Annotated[StrictInt, Ge(1), Le(MAX_TIMEOUT_SECONDS), WHOLE_NUMBER]


def enum_column(enum: type[Any], name: str) -> Any:
    """A NOT NULL PostgreSQL enum column storing the members' values."""
    return Column(
        SAEnum(enum, name=name, values_callable=lambda members: [m.value for m in members]),
        nullable=False,
    )


class NodeBase(SQLModel):
    """Shared base of the node table and schemas."""

    name: SafeStr = Field(min_length=1, max_length=255, schema_extra={"examples": ["Buy signal"]})
    node_type: NodeType = Field(sa_column=enum_column(NodeType, "node_type_enum"))
    position_x: FiniteFloat = Field(default=0.0)
    position_y: FiniteFloat = Field(default=0.0)
    config: JsonObject = jsonb_object_field("Type-specific settings; unknown keys are kept.")
    input_schema: JsonObject | None = Field(default=None, sa_type=JSONB)
    output_schema: JsonObject | None = Field(default=None, sa_type=JSONB)
    tool_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="tools.id",
        ondelete="SET NULL",
        description="One of your live tools; required on tool nodes.",
    )
    agent_id: uuid.UUID | None = Field(
        default=None,
        foreign_key="agents.id",
        ondelete="SET NULL",
        description="One of your live agents; required on agent nodes.",
    )
    timeout_seconds: TimeoutSeconds = Field(default=300, sa_column_kwargs={"server_default": "300"})
    retry_config: RetryConfigJson = Field(
        default_factory=lambda: dict(DEFAULT_RETRY_CONFIG),
        sa_type=JSONB,
        sa_column_kwargs={"server_default": json.dumps(DEFAULT_RETRY_CONFIG)},
    )


class Node(NodeBase, IdMixin, TimestampsMixin, table=True):
    """The node row."""

    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("workflow_id", "id", name="uq_nodes_workflow_id_id"),
        Index("idx_nodes_workflow", "workflow_id"),
        Index("idx_nodes_type", "workflow_id", "node_type"),
        Index("idx_nodes_config", "config", postgresql_using="gin"),
    )

    workflow_id: uuid.UUID = Field(foreign_key="workflows.id", ondelete="CASCADE")

    workflow: "Workflow" = Relationship(
        back_populates="nodes", sa_relationship_kwargs={"lazy": "raise_on_sql"}
    )
    outgoing_edges: list["Edge"] = Relationship(
        back_populates="source_node",
        sa_relationship_kwargs={
            "lazy": "raise_on_sql",
            "foreign_keys": "[Edge.source_node_id]",
            "cascade": "save-update, merge, delete",
            "passive_deletes": True,
        },
    )
    incoming_edges: list["Edge"] = Relationship(
        back_populates="target_node",
        sa_relationship_kwargs={
            "lazy": "raise_on_sql",
            "foreign_keys": "[Edge.target_node_id]",
            "cascade": "save-update, merge, delete",
            "passive_deletes": True,
        },
    )


def node_type_problems(
    node_type: NodeType, config: dict[str, Any], tool_id: uuid.UUID | None, agent_id: Any
) -> list[str]:
    """What a node of this type lacks to be runnable (SPEC-003 REQ-008)."""
    if node_type is NodeType.TOOL and tool_id is None:
        return ["a tool node needs tool_id"]
    if node_type is NodeType.AGENT and agent_id is None:
        return ["an agent node needs agent_id"]
    if node_type is NodeType.TRIGGER and not config.get("trigger_type"):
        return ["a trigger node needs config.trigger_type"]
    if node_type is NodeType.CONDITION and not config.get("condition_expression"):
        return ["a condition node needs config.condition_expression"]
    return []


# Where a node type's unmet requirement is reported, as a location in the node body.
REQUIREMENT_LOCATIONS: dict[NodeType, tuple[str, ...]] = {
    NodeType.TOOL: ("tool_id",),
    NodeType.AGENT: ("agent_id",),
    NodeType.TRIGGER: ("config", "trigger_type"),
    NodeType.CONDITION: ("config", "condition_expression"),
}


def errors_under(error: ValidationError, prefix: tuple[str, ...]) -> ValidationError:
    """The same errors located under `prefix` (pydantic reports nested documents at the root)."""
    details: list[InitErrorDetails] = []
    for item in error.errors():
        detail: InitErrorDetails = {
            "type": item["type"],
            "loc": (*prefix, *item["loc"]),
            "input": item["input"],
        }
        if "ctx" in item:
            detail["ctx"] = item["ctx"]
        details.append(detail)
    return ValidationError.from_exception_data(error.title, details)


class NodeCreate(NodeBase):
    """Body of POST /workflows/{id}/nodes; config is checked against the node type."""

    model_config = WRITE_CONFIG

    @model_validator(mode="after")
    def _meets_node_type(self) -> Self:
        config_model = CONFIG_BY_NODE_TYPE.get(self.node_type.value)
        if config_model is not None:
            try:
                self.config = validate_document(config_model, self.config)
            except ValidationError as error:
                raise errors_under(error, ("config",)) from None
        problems = node_type_problems(self.node_type, self.config, self.tool_id, self.agent_id)
        if problems:
            requirement = PydanticCustomError("node_type_requirement", "; ".join(problems))
            location = REQUIREMENT_LOCATIONS[self.node_type]
            raise ValidationError.from_exception_data(
                type(self).__name__, [{"type": requirement, "loc": location, "input": None}]
            )
        return self


# Where each node type's requirement lives in the schema (node_type_problems enforces it).
REQUIRED_BY_NODE_TYPE: dict[NodeType, tuple[str, ...]] = {
    NodeType.TOOL: ("tool_id",),
    NodeType.AGENT: ("agent_id",),
    NodeType.TRIGGER: ("config",),
    NodeType.CONDITION: ("config",),
}


def variant_schema_extra(node_type: NodeType) -> Callable[[dict[str, Any], type[Any]], None]:
    """A variant's `json_schema_extra`: its type's requirements, its base's read-only members."""
    require = required_in_schema(*REQUIRED_BY_NODE_TYPE.get(node_type, ()))

    def extra(schema: dict[str, Any], model: type[Any]) -> None:
        document_read_only(schema, model)
        require(schema)

    return extra


def node_variant(base: type[SQLModel], node_type: NodeType) -> type[SQLModel]:
    """`base` as one node type shows it in the schema: its node_type, config and requirements."""
    annotations: dict[str, Any] = {"node_type": cast(Any, Literal)[node_type]}
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": f"A {node_type} node: {(base.__doc__ or '').splitlines()[0]}",
        "__annotations__": annotations,
        "model_config": SQLModelConfig(json_schema_extra=variant_schema_extra(node_type)),
    }
    config_model = CONFIG_BY_NODE_TYPE.get(node_type.value)
    if config_model is not None:
        annotations["config"] = Annotated[dict[str, Any], documented_as(config_model)]
        namespace["config"] = Field(
            default_factory=dict, description=f"{config_model.__name__}; unknown keys are kept."
        )
    variant_name = f"{node_type.value.capitalize()}{base.__name__}"
    metaclass: Any = type(base)
    return cast(type[SQLModel], metaclass(variant_name, (base,), namespace))


def by_node_type(base: type[SQLModel]) -> Any:
    """The schema of `base` as a union of its node types, discriminated by node_type."""
    variants = tuple(node_variant(base, node_type) for node_type in NodeType)
    return Annotated[cast(Any, Union)[variants], Field(discriminator="node_type")]


NodeCreateIn = Annotated[NodeCreate, documented_as(by_node_type(NodeCreate))]

CONFIG_BY_TYPE_DESCRIPTION = (
    "Checked against the node type after the merge: trigger nodes take a TriggerConfig "
    "(trigger_type required), condition nodes a ConditionConfig (condition_expression "
    "required), adapter nodes an AdapterConfig, aggregator nodes an AggregatorConfig, tool "
    "and agent nodes any object. Unknown keys are kept."
)


class NodeUpdate(SQLModel):
    """Body of PATCH .../nodes/{id}: named fields replace stored ones, then the whole is checked.

    The merged node must meet its type's requirements, as in the create body's variants.
    """

    model_config = WRITE_CONFIG

    name: SafeStr = Field(default=None, min_length=1, max_length=255)
    node_type: NodeType = Field(
        default=None, description="A new type re-checks config, tool_id and agent_id."
    )
    position_x: FiniteFloat = Field(default=None)
    position_y: FiniteFloat = Field(default=None)
    config: JsonObject = Field(default=None, description=CONFIG_BY_TYPE_DESCRIPTION)
    input_schema: JsonObject | None = None
    output_schema: JsonObject | None = None
    tool_id: uuid.UUID | None = Field(
        default=None, description="Tool nodes only, and required there: one of your live tools."
    )
    agent_id: uuid.UUID | None = Field(
        default=None, description="Agent nodes only, and required there: one of your live agents."
    )
    timeout_seconds: TimeoutSeconds = Field(default=None)
    retry_config: RetryConfigJson = Field(default=None)


class NodePublic(TimestampsMixin, NodeBase, IdMixin):
    """A node as the API shows it."""

    model_config = PUBLIC_CONFIG

    workflow_id: uuid.UUID


class NodeBatchCreate(SQLModel):
    """Body of POST .../nodes/batch: nodes created together, all or nothing."""

    model_config = WRITE_CONFIG

    nodes: list[NodeCreateIn] = Field(
        min_length=1, description="At most MAX_BATCH_ITEMS (default 100) nodes."
    )


class NodeBatchPublic(SQLModel):
    """The nodes a batch created, in request order."""

    model_config = PUBLIC_CONFIG

    items: list[NodePublic]
