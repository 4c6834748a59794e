"""Rename the hand-named indexes to the names the shared naming convention gives them.

Every constraint and index name now follows one rule (`todo_common.tables`), so later
migrations can name them from their columns. PostgreSQL renames in place; SQLite re-creates.
"""

from todo_common.migrations import rename_index

revision: str = "0002"
down_revision: str | None = "0001"

# (table, the name 0001 gave by hand, the columns). The rule names an index
# ix_<table>_<every column> (written out here: a migration must not change with the code).
HAND_NAMED = [
    ("tasks", "ix_tasks_owner_create", ["owner_id", "create_time", "id"]),
    ("tasks", "ix_tasks_owner_due", ["owner_id", "due_time", "id"]),
    ("tasks", "ix_tasks_owner_priority", ["owner_id", "priority", "id"]),
    ("task_tags", "ix_task_tags_owner_tag", ["owner_id", "tag", "task_id"]),
]


def _by_the_rule(table: str, columns: list[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    for table, hand_named, columns in HAND_NAMED:
        rename_index(table, hand_named, _by_the_rule(table, columns), columns)


def downgrade() -> None:
    for table, hand_named, columns in HAND_NAMED:
        rename_index(table, _by_the_rule(table, columns), hand_named, columns)
