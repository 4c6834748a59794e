"""The first connection to a new SQLite file switches it to WAL, which needs the file's
exclusive lock. Another process migrating the same file holds a lock for as long as its
migration takes (`make token` in a second terminal while `make run` migrates): the connection
waits for it, as a migration would, instead of failing with "database is locked" after the
5 s a query waits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text
from todo_common.db import SQLITE_QUERY_WAIT_MS, create_engine


async def test_a_new_file_locked_by_a_migration_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    # Another process's migration: a rollback-journal file with its write lock held.
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE alembic_version (version_num TEXT)")
    other.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")

    async def first_query() -> str:
        async with engine.connect() as connection:
            return str((await connection.execute(text("PRAGMA journal_mode"))).scalar_one())

    try:
        connecting = asyncio.create_task(first_query())
        # Longer than a query waits: before the fix the connection had failed by now.
        done, _ = await asyncio.wait({connecting}, timeout=SQLITE_QUERY_WAIT_MS / 1000 + 1)
        assert not done, connecting.exception()
        other.execute("COMMIT")
        assert await connecting == "wal"
    finally:
        other.close()
        await engine.dispose()
