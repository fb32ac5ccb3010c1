"""Revisions: immutable JSONB snapshots per workflow, and the workflow's published revision.

The primary key (workflow_id, number) is the unique pair and, scanned backwards, serves the
newest-first list. workflows.published_revision references one of the workflow's own
revisions, so the published one cannot be deleted while published; a permanent delete of the
workflow takes its revisions with it (the reference is checked at the end of the statement).
Snapshots are compressed with lz4 where the server has it (faster than pglz, and smaller).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORIGINS = ("save", "manual", "publish", "restore")


def upgrade() -> None:
    """Create the revisions table and the published reference."""
    op.create_table(
        "revisions",
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("origin", sa.Enum(*ORIGINS, name="revision_origin_enum"), nullable=False),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column("edge_count", sa.Integer(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workflow_id", "number"),
    )
    op.create_index("idx_revisions_author", "revisions", ["author_id"])
    if lz4_available():
        # lz4 stores a 500-node snapshot several times faster than pglz, and smaller.
        op.execute("ALTER TABLE revisions ALTER COLUMN snapshot SET COMPRESSION lz4")
    op.add_column("workflows", sa.Column("published_revision", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_workflows_published_revision",
        "workflows",
        "revisions",
        ["id", "published_revision"],
        ["workflow_id", "number"],
    )


def lz4_available() -> bool:
    """Whether the server was built with lz4 (PostgreSQL's own builds are)."""
    query = sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    return "lz4" in (op.get_bind().execute(query).scalar() or [])


def downgrade() -> None:
    """Drop them, and the enum type the table leaves behind."""
    op.drop_constraint("fk_workflows_published_revision", "workflows", type_="foreignkey")
    op.drop_column("workflows", "published_revision")
    op.drop_index("idx_revisions_author", table_name="revisions")
    op.drop_table("revisions")
    op.execute("DROP TYPE revision_origin_enum")
