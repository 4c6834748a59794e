"""Pytest fixtures shared by every suite. Service fixtures start real servers on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from todo_testing.databases import TestDatabase, drop_database, new_database

DatabaseFactory = Callable[[str], Awaitable[TestDatabase]]


@pytest.fixture
async def database_factory(tmp_path: Path) -> AsyncIterator[DatabaseFactory]:
    """Makes isolated databases for the test (`await database_factory("tasks")`); dropped after."""
    created: list[TestDatabase] = []

    async def make(service: str) -> TestDatabase:
        database = new_database(service, tmp_path)
        created.append(database)
        return database

    yield make
    for database in created:
        await drop_database(database)


# Service fixtures, registered here so every suite can use them.
from todo_testing.agent import agent_service  # noqa: E402, F401
from todo_testing.auth import auth_service, sign_up  # noqa: E402, F401
from todo_testing.edge import edge_service  # noqa: E402, F401
from todo_testing.tasks import new_task_caller, tasks_service  # noqa: E402, F401
