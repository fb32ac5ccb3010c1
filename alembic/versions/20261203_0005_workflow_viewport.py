"""The editor's viewport per workflow (React Flow's pan and zoom), default {x: 0, y: 0, zoom: 1}.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add workflows.viewport; existing workflows get the default."""
    op.add_column(
        "workflows",
        sa.Column(
            "viewport",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("""'{"x": 0, "y": 0, "zoom": 1}'::jsonb"""),
            nullable=False,
        ),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_column("workflows", "viewport")
