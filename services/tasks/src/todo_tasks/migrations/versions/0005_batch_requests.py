"""Idempotency records of batch calls (BatchUpdateTasks, BatchDeleteTasks, BatchCompleteTasks)."""

import sqlalchemy as sa
from alembic import op
from todo_common.tables import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    op.create_table(
        "batch_requests",
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "request_id", name="pk_batch_requests"),
    )


def downgrade() -> None:
    op.drop_table("batch_requests")
