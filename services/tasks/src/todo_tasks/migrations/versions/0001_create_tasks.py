"""Create tasks, task_tags and create_requests."""

import sqlalchemy as sa
from alembic import op
from todo_common.tables import UtcDateTime

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("due_time", UtcDateTime(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.Column("complete_time", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_owner_create", "tasks", ["owner_id", "create_time", "id"])
    op.create_index("ix_tasks_owner_due", "tasks", ["owner_id", "due_time", "id"])
    op.create_index("ix_tasks_owner_priority", "tasks", ["owner_id", "priority", "id"])
    op.create_table(
        "task_tags",
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_task_tags_task_id_tasks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "tag", name="pk_task_tags"),
    )
    op.create_index("ix_task_tags_owner_tag", "task_tags", ["owner_id", "tag", "task_id"])
    op.create_table(
        "create_requests",
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "request_id", name="pk_create_requests"),
    )


def downgrade() -> None:
    op.drop_table("create_requests")
    op.drop_index("ix_task_tags_owner_tag", table_name="task_tags")
    op.drop_table("task_tags")
    op.drop_index("ix_tasks_owner_priority", table_name="tasks")
    op.drop_index("ix_tasks_owner_due", table_name="tasks")
    op.drop_index("ix_tasks_owner_create", table_name="tasks")
    op.drop_table("tasks")
