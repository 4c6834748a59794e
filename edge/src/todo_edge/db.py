"""The edge's own database: its table metadata, its Alembic migrations and how to run them.

The edge owns the ChatKit tables (threads, items, feedback, attachment metadata); no other
process reads them. On PostgreSQL they live in the `edge` schema (the connection's search_path,
see `todo_common.db`); on SQLite the edge has its own file.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import DeclarativeBase
from todo_common.tables import table_metadata

# Where `todo-edge migrate` and the tests find the edge's Alembic scripts.
MIGRATIONS_PATH = Path(__file__).resolve().parent / "migrations"

# The PostgreSQL schema the edge owns by default.
DEFAULT_SCHEMA = "edge"


class Base(DeclarativeBase):
    """Declarative base of every table the edge owns (constraint names from the shared rule)."""

    metadata = table_metadata()


async def migrate_async(
    url: str, schema: str | None = DEFAULT_SCHEMA, revision: str = "head"
) -> None:
    """Migrates the edge's database to `revision` (the `migrate` command, tests)."""
    # Alembic is imported only here, so serving (which imports the models) never loads it.
    from todo_common.migrations import upgrade_async

    await upgrade_async(MIGRATIONS_PATH, url, schema, revision)
