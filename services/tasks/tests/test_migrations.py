"""The tasks migrations build exactly the tables the models declare, with the names the shared
naming rule gives them, and downgrade cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from todo_common.db import Database
from todo_common.migrations import NamedObjects, alembic_config, database_names, declared_names
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


# The tables 0001 and 0002 know (0003 added task_events).
FIRST_TABLES = ["create_requests", "task_tags", "tasks"]


async def names_in(url: str, schema: str, tables: list[str] | None = None) -> NamedObjects:
    """The index and constraint names the database has for the tasks tables."""
    database = Database.from_url(url, schema, pool_size=1)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(database_names, tables or sorted(Base.metadata.tables))
    finally:
        await database.dispose()


# What 0001 named by hand, and what the naming rule calls them (0002 renames them).
HAND_NAMED = {
    ("tasks", "ix", "ix_tasks_owner_create"),
    ("tasks", "ix", "ix_tasks_owner_due"),
    ("tasks", "ix", "ix_tasks_owner_priority"),
    ("task_tags", "ix", "ix_task_tags_owner_tag"),
}
BY_THE_RULE = {
    ("tasks", "ix", "ix_tasks_owner_id_create_time_id"),
    ("tasks", "ix", "ix_tasks_owner_id_due_time_id"),
    ("tasks", "ix", "ix_tasks_owner_id_priority_id"),
    ("task_tags", "ix", "ix_task_tags_owner_id_tag_task_id"),
}


async def test_every_name_follows_the_rule_after_renaming_the_hand_named_indexes(
    database_factory,
) -> None:
    target = await database_factory("tasks")
    config = alembic_config(MIGRATIONS, target.url, target.schema)
    await asyncio.to_thread(command.upgrade, config, "0001")
    before = await names_in(target.url, target.schema, FIRST_TABLES)
    assert before >= HAND_NAMED
    assert not BY_THE_RULE & before

    await asyncio.to_thread(command.upgrade, config, "0002")
    after = await names_in(target.url, target.schema, FIRST_TABLES)
    assert after >= BY_THE_RULE
    assert after - BY_THE_RULE == before - HAND_NAMED  # nothing else changed

    await migrate(tasks_test_settings(target))
    assert await names_in(target.url, target.schema) == declared_names(Base.metadata)

    await asyncio.to_thread(command.downgrade, config, "0001")
    assert await names_in(target.url, target.schema, FIRST_TABLES) == before
