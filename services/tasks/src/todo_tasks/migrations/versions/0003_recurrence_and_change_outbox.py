"""Recurring tasks (rule, time zone, series start, previous occurrence) and the change outbox."""

import sqlalchemy as sa
from alembic import op
from todo_common.migrations import serial_id_column
from todo_common.tables import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("recurrence", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("series_start", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("previous_occurrence_id", sa.String(36), nullable=True))
        batch.create_unique_constraint(
            "uq_tasks_previous_occurrence_id", ["previous_occurrence_id"]
        )
    # The defaults only fill the existing rows; the models always write both columns.
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("recurrence", server_default=None)
        batch.alter_column("time_zone", server_default=None)
    op.create_table(
        "task_events",
        serial_id_column(),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("task", sa.LargeBinary(), nullable=True),
        sa.Column("event_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_events"),
    )
    op.create_index("ix_task_events_owner_id_id", "task_events", ["owner_id", "id"])
    op.create_index("ix_task_events_event_time", "task_events", ["event_time"])


def downgrade() -> None:
    op.drop_index("ix_task_events_event_time", table_name="task_events")
    op.drop_index("ix_task_events_owner_id_id", table_name="task_events")
    op.drop_table("task_events")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint("uq_tasks_previous_occurrence_id", type_="unique")
        batch.drop_column("previous_occurrence_id")
        batch.drop_column("series_start")
        batch.drop_column("time_zone")
        batch.drop_column("recurrence")
