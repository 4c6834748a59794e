"""Reminders: `tasks.reminders` (what the owner asked for), `task_reminders` (the moments they
go off, claimed by the scheduler) and `task_events.reminder_time` (a reminder event's moment).
"""

import sqlalchemy as sa
from alembic import op
from todo_common.migrations import serial_id_column
from todo_common.tables import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("reminders", sa.JSON(), nullable=False, server_default="[]"))
    # The default only fills the existing rows; the models always write the column.
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("reminders", server_default=None)
    with op.batch_alter_table("task_events") as batch:
        batch.add_column(sa.Column("reminder_time", UtcDateTime(), nullable=True))
    op.create_table(
        "task_reminders",
        serial_id_column(),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("fire_at", UtcDateTime(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_task_reminders"),
        sa.UniqueConstraint("task_id", "fire_at", name="uq_task_reminders_task_id_fire_at"),
    )
    op.create_index("ix_task_reminders_fired_at_fire_at", "task_reminders", ["fired_at", "fire_at"])
    op.create_index("ix_task_reminders_owner_id_task_id", "task_reminders", ["owner_id", "task_id"])


def downgrade() -> None:
    op.drop_index("ix_task_reminders_owner_id_task_id", table_name="task_reminders")
    op.drop_index("ix_task_reminders_fired_at_fire_at", table_name="task_reminders")
    op.drop_table("task_reminders")
    with op.batch_alter_table("task_events") as batch:
        batch.drop_column("reminder_time")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("reminders")
