"""Rename the hand-named indexes to the names the shared naming convention gives them.

Every constraint and index name now follows one rule (`todo_common.tables`), so later
migrations can name them from their columns. PostgreSQL renames in place; SQLite re-creates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from todo_common.migrations import rename_index

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, name before, name after, columns)
RENAMES = [
    (
        "tasks",
        "ix_tasks_owner_create",
        "ix_tasks_owner_id_create_time_id",
        ["owner_id", "create_time", "id"],
    ),
    (
        "tasks",
        "ix_tasks_owner_due",
        "ix_tasks_owner_id_due_time_id",
        ["owner_id", "due_time", "id"],
    ),
    (
        "tasks",
        "ix_tasks_owner_priority",
        "ix_tasks_owner_id_priority_id",
        ["owner_id", "priority", "id"],
    ),
    (
        "task_tags",
        "ix_task_tags_owner_tag",
        "ix_task_tags_owner_id_tag_task_id",
        ["owner_id", "tag", "task_id"],
    ),
]


def upgrade() -> None:
    for table, before, after, columns in RENAMES:
        rename_index(table, before, after, columns)


def downgrade() -> None:
    for table, before, after, columns in RENAMES:
        rename_index(table, after, before, columns)
