"""The tasks migrations build exactly the tables the models declare, and downgrade cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from todo_common.db import Database
from todo_common.migrations import alembic_config
from todo_tasks.models import Base
from todo_tasks.server import MIGRATIONS, migrate
from todo_testkit.tasks import tasks_test_settings


async def differences(url: str, schema: str) -> list[Any]:
    """What autogenerate would change to make the database match the models."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    database = Database.from_url(url, schema, pool_size=1)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await database.dispose()


async def test_head_matches_the_models_and_downgrades(database_factory) -> None:
    target = await database_factory("tasks")
    await migrate(tasks_test_settings(target))
    assert await differences(target.url, target.schema) == []

    config = alembic_config(MIGRATIONS, target.url, target.schema)
    await asyncio.to_thread(command.downgrade, config, "base")
    await migrate(tasks_test_settings(target))
    assert await differences(target.url, target.schema) == []
