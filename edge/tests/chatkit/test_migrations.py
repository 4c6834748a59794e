"""The edge's Alembic migrations build exactly the tables the models declare, both ways."""

from __future__ import annotations

import asyncio
from typing import Any

import todo_edge.chatkit.models  # noqa: F401  (registers the tables on the metadata)
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from todo_common.db import Database
from todo_common.migrations import alembic_config, upgrade_async
from todo_edge.db import MIGRATIONS_PATH, Base
from todo_testkit.plugin import DatabaseFactory


async def differences(database: Database) -> list[Any]:
    """What autogenerate would change to make the database match the models."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        return await connection.run_sync(compare)


async def test_head_matches_the_models(database: Database) -> None:
    assert await differences(database) == []


async def test_downgrade_to_base_and_upgrade_again(database_factory: DatabaseFactory) -> None:
    target = await database_factory("edge")
    await upgrade_async(MIGRATIONS_PATH, target.url, target.schema)

    config = alembic_config(MIGRATIONS_PATH, target.url, target.schema)
    await asyncio.to_thread(command.downgrade, config, "base")
    await upgrade_async(MIGRATIONS_PATH, target.url, target.schema)
    database = Database.from_url(target.url, target.schema, pool_size=1)
    try:
        assert await differences(database) == []
    finally:
        await database.dispose()
