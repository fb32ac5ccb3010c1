"""nodes.retry_config defaults to what validation stores: delay as a float (1.0, not 1).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Default to the validated document."""
    op.alter_column("nodes", "retry_config", server_default='{"max_retries": 3, "delay": 1.0}')


def downgrade() -> None:
    """Back to the integer delay."""
    op.alter_column("nodes", "retry_config", server_default='{"max_retries": 3, "delay": 1}')
