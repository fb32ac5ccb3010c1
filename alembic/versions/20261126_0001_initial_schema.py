"""Initial schema: users, tool and agent registries, workflows, nodes, edges (SPEC-003).

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:30:29.214387
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Dropping the tables leaves PostgreSQL enum types behind; downgrade removes them explicitly.
ENUM_TYPES = ("node_type_enum", "tool_type_enum", "model_provider_enum")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "users",
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "agents",
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "config",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "model_provider",
            sa.Enum("anthropic", "openai", "glm", name="model_provider_enum"),
            nullable=False,
        ),
        sa.Column("model_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_agents_config", "agents", ["config"], unique=False, postgresql_using="gin")
    op.create_index("idx_agents_owner", "agents", ["owner_id", "created_at", "id"], unique=False)
    op.create_table(
        "tools",
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "config",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "tool_type",
            sa.Enum("http", "mcp", "python", "shell", "builtin", name="tool_type_enum"),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_tools_config", "tools", ["config"], unique=False, postgresql_using="gin")
    op.create_index("idx_tools_owner", "tools", ["owner_id", "created_at", "id"], unique=False)
    op.create_table(
        "workflows",
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "config",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "variables",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "idx_workflows_config", "workflows", ["config"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "idx_workflows_owner", "workflows", ["owner_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "idx_workflows_owner_active",
        "workflows",
        ["owner_id", "is_active"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "nodes",
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column(
            "node_type",
            sa.Enum(
                "trigger",
                "tool",
                "agent",
                "condition",
                "adapter",
                "aggregator",
                name="node_type_enum",
            ),
            nullable=False,
        ),
        sa.Column("position_x", sa.Float(), nullable=False),
        sa.Column("position_y", sa.Float(), nullable=False),
        sa.Column(
            "config",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("input_schema", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("output_schema", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("tool_id", sa.Uuid(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), server_default="300", nullable=False),
        sa.Column(
            "retry_config",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text('\'{"max_retries": 3, "delay": 1}\'::jsonb'),
            nullable=False,
        ),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tool_id"], ["tools.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "id", name="uq_nodes_workflow_id_id"),
    )
    op.create_index("idx_nodes_config", "nodes", ["config"], unique=False, postgresql_using="gin")
    op.create_index("idx_nodes_type", "nodes", ["workflow_id", "node_type"], unique=False)
    op.create_index("idx_nodes_workflow", "nodes", ["workflow_id"], unique=False)
    op.create_table(
        "edges",
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_handle", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("target_handle", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("condition", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("source_node_id", sa.Uuid(), nullable=False),
        sa.Column("target_node_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("source_node_id <> target_node_id", name="ck_no_self_loop"),
        sa.ForeignKeyConstraint(
            ["workflow_id", "source_node_id"],
            ["nodes.workflow_id", "nodes.id"],
            name="fk_edges_source_node",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id", "target_node_id"],
            ["nodes.workflow_id", "nodes.id"],
            name="fk_edges_target_node",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "source_node_id",
            "target_node_id",
            "source_handle",
            "target_handle",
            name="uq_edge_connection",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("idx_edges_source", "edges", ["source_node_id"], unique=False)
    op.create_index("idx_edges_target", "edges", ["target_node_id"], unique=False)
    op.create_index("idx_edges_workflow", "edges", ["workflow_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("idx_edges_workflow", table_name="edges")
    op.drop_index("idx_edges_target", table_name="edges")
    op.drop_index("idx_edges_source", table_name="edges")
    op.drop_table("edges")
    op.drop_index("idx_nodes_workflow", table_name="nodes")
    op.drop_index("idx_nodes_type", table_name="nodes")
    op.drop_index("idx_nodes_config", table_name="nodes", postgresql_using="gin")
    op.drop_table("nodes")
    op.drop_index(
        "idx_workflows_owner_active",
        table_name="workflows",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index("idx_workflows_owner", table_name="workflows")
    op.drop_index("idx_workflows_config", table_name="workflows", postgresql_using="gin")
    op.drop_table("workflows")
    op.drop_index("idx_tools_owner", table_name="tools")
    op.drop_index("idx_tools_config", table_name="tools", postgresql_using="gin")
    op.drop_table("tools")
    op.drop_index("idx_agents_owner", table_name="agents")
    op.drop_index("idx_agents_config", table_name="agents", postgresql_using="gin")
    op.drop_table("agents")
    op.drop_table("users")
    for enum_name in ENUM_TYPES:
        sa.Enum(name=enum_name).drop(op.get_bind(), checkfirst=True)
