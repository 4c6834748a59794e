"""Runs a service's Alembic migrations, programmatically or from its env.py.

Each service keeps its own `migrations/` folder (env.py + versions/). Its env.py is three lines
that call `run_env`, so the async engine set-up, the PostgreSQL schema, SQLite batch mode and
the migration lock live here once. `rename_index` is the one way a migration renames an index
on both backends, `serial_id_column` the one 64-bit auto-increment key a migration creates;
`declared_names`/`database_names` let a test check that the names in a migrated database are
the ones the tables declare.

Two migrations of one database may run at once (`make token` migrates the auth database while
`make run` does; replicas start together): each takes a lock first and holds it to its commit,
so the second waits, then finds the database at head and does nothing. Without it both create
the same tables and one fails.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.engine import Connection

from todo_common.db import SQLITE_LOCK_WAIT_MS, create_engine, normalise_url


def _advisory_lock_key(schema: str | None) -> int:
    """A PostgreSQL advisory-lock key per schema, so different services migrate in parallel."""
    digest = hashlib.sha256(f"todo-migrations:{schema or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def alembic_config(script_location: Path, url: str, schema: str | None) -> Config:
    """An Alembic config for one service's migrations and database."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["database_url"] = url
    config.attributes["database_schema"] = schema
    return config


def upgrade(script_location: Path, url: str, schema: str | None, revision: str = "head") -> None:
    """Migrates the database to `revision`. Blocking: call from a thread inside a running loop."""
    command.upgrade(alembic_config(script_location, url, schema), revision)


async def upgrade_async(
    script_location: Path, url: str, schema: str | None, revision: str = "head"
) -> None:
    """`upgrade` without blocking the event loop (Alembic runs its own loop in a thread)."""
    await asyncio.to_thread(upgrade, script_location, url, schema, revision)


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass one through alembic_config() or sqlalchemy.url")
    schema = config.attributes.get("database_schema")
    is_sqlite = normalise_url(url).get_backend_name() == "sqlite"

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_engine(url, None if is_sqlite else schema, pool_size=1)
        try:
            async with engine.connect() as connection:
                # One transaction from the lock to the commit; Alembic joins it (it sees a
                # transaction already begun), so the version check happens under the lock.
                if is_sqlite:
                    await connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_LOCK_WAIT_MS}")
                    # The write lock up front, not at the first write: the schema is read
                    # under it too.
                    await connection.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": _advisory_lock_key(schema)},
                    )
                    if schema:
                        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await connection.run_sync(run)
                await connection.commit()
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())


def rename_index(
    table: str, old: str, new: str, columns: Sequence[str], *, unique: bool = False
) -> None:
    """Renames an index of `table` inside a migration: in place on PostgreSQL (no rebuild, no
    long lock), by re-creating it on SQLite (which cannot rename an index)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(text(f'ALTER INDEX "{old}" RENAME TO "{new}"'))
        return
    op.drop_index(old, table_name=table)
    op.create_index(new, table, list(columns), unique=unique)


def serial_id_column(name: str = "id") -> Column[int]:
    """A 64-bit auto-increment key column for `op.create_table` (the table names it in its
    primary key): BIGINT on PostgreSQL; INTEGER on SQLite, which auto-increments only an
    INTEGER PRIMARY KEY.

    Migrations that already ran create their tables with it, so what it returns must never
    change: a different key column is a new helper (and a new migration), not an edit here."""
    return Column(
        name, BigInteger().with_variant(Integer(), "sqlite"), autoincrement=True, nullable=False
    )


# (table, kind, name) for every named index and constraint.
NamedObjects = set[tuple[str, str, str]]


def declared_names(metadata: MetaData) -> NamedObjects:
    """The names of the indexes, unique, foreign-key and primary-key constraints `metadata`
    declares (after the naming convention has named them)."""
    names: NamedObjects = set()
    for table in metadata.tables.values():
        names.add((table.name, "pk", str(table.primary_key.name)))
        names.update((table.name, "ix", str(index.name)) for index in table.indexes)
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                names.add((table.name, "uq", str(constraint.name)))
            elif isinstance(constraint, ForeignKeyConstraint):
                names.add((table.name, "fk", str(constraint.name)))
    return names


def database_names(connection: Connection, tables: Sequence[str]) -> NamedObjects:
    """The same names as the database has them (current schema; SQLite and PostgreSQL)."""
    inspector = inspect(connection)
    names: NamedObjects = set()
    for table in tables:
        names.add((table, "pk", str(inspector.get_pk_constraint(table)["name"])))
        names.update(
            (table, "ix", str(i["name"]))
            for i in inspector.get_indexes(table)
            # PostgreSQL lists the index behind each unique constraint too.
            if not i.get("duplicates_constraint")
        )
        names.update((table, "uq", str(u["name"])) for u in inspector.get_unique_constraints(table))
        names.update((table, "fk", str(f["name"])) for f in inspector.get_foreign_keys(table))
    return names
