"""Soft deletes (`tasks.deleted_time`) and the undo records (`task_undo_records`)."""

import sqlalchemy as sa
from alembic import op
from todo_common.migrations import serial_id_column
from todo_common.tables import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("deleted_time", UtcDateTime(), nullable=True))
    op.create_table(
        "task_undo_records",
        serial_id_column(),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("snapshots", sa.JSON(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("expire_time", UtcDateTime(), nullable=False),
        sa.Column("use_time", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_task_undo_records"),
        sa.UniqueConstraint("token", name="uq_task_undo_records_token"),
    )
    op.create_index("ix_task_undo_records_owner_id_id", "task_undo_records", ["owner_id", "id"])
    op.create_index("ix_task_undo_records_expire_time", "task_undo_records", ["expire_time"])


def downgrade() -> None:
    op.drop_index("ix_task_undo_records_expire_time", table_name="task_undo_records")
    op.drop_index("ix_task_undo_records_owner_id_id", table_name="task_undo_records")
    op.drop_table("task_undo_records")
    # Deleted tasks kept for undo are gone for good once the column is.
    op.execute(
        sa.text(
            "DELETE FROM task_tags WHERE task_id IN "
            "(SELECT id FROM tasks WHERE deleted_time IS NOT NULL)"
        )
    )
    op.execute(sa.text("DELETE FROM tasks WHERE deleted_time IS NOT NULL"))
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("deleted_time")
