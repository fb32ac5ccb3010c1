"""Tools and agents: the owner's registries that tool and agent nodes reference."""

import uuid

from sqlalchemy import Column, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from service.graph.nodes.models import enum_column
from service.shared_models import (
    PUBLIC_CONFIG,
    WRITE_CONFIG,
    IdMixin,
    JsonObject,
    ModelProvider,
    SafeStr,
    SoftDeleteMixin,
    StrictBool,
    TimestampsMixin,
    ToolType,
)
from service.workflows.models import jsonb_object_field


def version_column() -> Column[int]:
    """A NOT NULL version column for optimistic locking, starting at 1."""
    return Column("version", Integer, nullable=False, server_default=text("1"))


class RegistryEntryBase(SQLModel):
    """Fields every registry entry shares."""

    name: SafeStr = Field(min_length=1, max_length=255)
    description: SafeStr | None = Field(default=None, max_length=10_000, sa_type=Text)
    config: JsonObject = jsonb_object_field("Entry-specific settings, free-form JSON.")
    is_active: StrictBool = Field(default=True, sa_column_kwargs={"server_default": text("true")})


class RegistryEntryUpdate(SQLModel):
    """PATCH fields every registry entry shares."""

    model_config = WRITE_CONFIG

    name: SafeStr = Field(default=None, min_length=1, max_length=255)
    description: SafeStr | None = Field(default=None, max_length=10_000)
    config: JsonObject = Field(default=None)
    is_active: StrictBool = Field(default=None)


class RegistryEntryPublic(SoftDeleteMixin, TimestampsMixin):
    """Fields the API shows for every registry entry."""

    model_config = PUBLIC_CONFIG

    owner_id: uuid.UUID
    version: int = Field(ge=1)


class ToolBase(RegistryEntryBase):
    """Shared base of the tool table and schemas."""

    tool_type: ToolType = Field(sa_column=enum_column(ToolType, "tool_type_enum"))


_tool_version = version_column()


class Tool(ToolBase, IdMixin, TimestampsMixin, SoftDeleteMixin, table=True):
    """A callable tool that tool nodes reference."""

    __tablename__ = "tools"
    __table_args__ = (
        Index("idx_tools_owner", "owner_id", "created_at", "id"),
        Index("idx_tools_config", "config", postgresql_using="gin"),
    )
    __mapper_args__ = {"version_id_col": _tool_version}

    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    version: int = Field(default=1, sa_column=_tool_version)


class ToolCreate(ToolBase):
    """Body of POST /tools."""

    model_config = WRITE_CONFIG


class ToolUpdate(RegistryEntryUpdate):
    """Body of PATCH /tools/{id}."""

    tool_type: ToolType = Field(default=None)


class ToolPublic(RegistryEntryPublic, ToolBase, IdMixin):
    """A tool as the API shows it."""


class AgentBase(RegistryEntryBase):
    """Shared base of the agent table and schemas."""

    model_provider: ModelProvider = Field(
        sa_column=enum_column(ModelProvider, "model_provider_enum")
    )
    model_name: SafeStr = Field(
        min_length=1, max_length=100, schema_extra={"examples": ["claude-sonnet-4-5"]}
    )


_agent_version = version_column()


class Agent(AgentBase, IdMixin, TimestampsMixin, SoftDeleteMixin, table=True):
    """A language-model agent that agent nodes reference."""

    __tablename__ = "agents"
    __table_args__ = (
        Index("idx_agents_owner", "owner_id", "created_at", "id"),
        Index("idx_agents_config", "config", postgresql_using="gin"),
    )
    __mapper_args__ = {"version_id_col": _agent_version}

    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    version: int = Field(default=1, sa_column=_agent_version)


class AgentCreate(AgentBase):
    """Body of POST /agents."""

    model_config = WRITE_CONFIG


class AgentUpdate(RegistryEntryUpdate):
    """Body of PATCH /agents/{id}."""

    model_provider: ModelProvider = Field(default=None)
    model_name: SafeStr = Field(default=None, min_length=1, max_length=100)


class AgentPublic(RegistryEntryPublic, AgentBase, IdMixin):
    """An agent as the API shows it."""
