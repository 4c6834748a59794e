"""Migrations of one database started at the same moment (as `make token` does beside `make run`):
every one succeeds and the schema is made once."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from todo_common.db import create_engine

# The test kit's `database_factory` fixture (libraries' tests import nothing from the kit).
DatabaseFactory = Callable[[str], Awaitable[Any]]

# Separate processes, as in real life: Alembic's context is process-global.
MIGRATORS = 6

ENV_PY = '''"""Alembic environment of the test migrations."""
from sqlalchemy import MetaData
from todo_common.migrations import run_env

run_env(MetaData())
'''

# Several tables, so a migrator that is not kept out finds the schema half-made.
VERSION_PY = '''"""Creates the test tables."""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    for name in ("first", "second", "third", "fourth"):
        op.create_table(name, sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    for name in ("first", "second", "third", "fourth"):
        op.drop_table(name)
'''

# Each migrator imports everything, says "ready" and waits for one "go" to all of them, so
# they reach the database together however long each took to start.
MIGRATE = """
import sys
from pathlib import Path

import aiosqlite, asyncpg  # the drivers, imported before the start line
from todo_common.migrations import upgrade

print("ready", flush=True)
sys.stdin.readline()
upgrade(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
"""


def write_migrations(folder: Path) -> Path:
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(ENV_PY)
    (folder / "versions" / "0001_tables.py").write_text(VERSION_PY)
    return folder


async def start_migrator(migrations: Path, url: str, schema: str) -> asyncio.subprocess.Process:
    """A process that migrates the database once it reads a line; returns when it is ready."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", MIGRATE, str(migrations), url, schema),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    ready = await process.stdout.readline()
    assert ready == b"ready\n", ready + await process.stdout.read()
    return process


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    output, _ = await process.communicate(b"go\n")
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_concurrent_migrations_of_one_database_all_succeed(
    tmp_path: Path, database_factory: DatabaseFactory
) -> None:
    database = await database_factory("migrations")
    migrations = write_migrations(tmp_path / "migrations")

    migrators = await asyncio.gather(
        *(start_migrator(migrations, database.url, database.schema) for _ in range(MIGRATORS))
    )
    results = await asyncio.gather(*(finish(process) for process in migrators))

    failed = [output for code, output in results if code != 0]
    assert not failed, f"{len(failed)} of {MIGRATORS} migrations failed:\n{failed[0][-3000:]}"
    engine = create_engine(database.url, database.schema if database.is_postgres else None)
    try:
        async with engine.connect() as connection:
            version = await connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalars().all() == ["0001"]
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            assert {"first", "second", "third", "fourth"} <= set(tables)
    finally:
        await engine.dispose()
