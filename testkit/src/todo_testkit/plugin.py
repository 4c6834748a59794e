"""Pytest fixtures shared by every suite. Service fixtures start real servers on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from todo_testkit.databases import IsolatedDatabase, drop_database, new_database

DatabaseFactory = Callable[[str], Awaitable[IsolatedDatabase]]


@pytest.fixture
async def database_factory(tmp_path: Path) -> AsyncIterator[DatabaseFactory]:
    """Makes isolated databases for the test (`await database_factory("tasks")`); dropped after."""
    created: list[IsolatedDatabase] = []

    async def make(service: str) -> IsolatedDatabase:
        database = new_database(service, tmp_path)
        created.append(database)
        return database

    yield make
    for database in created:
        await drop_database(database)


# Service fixtures, registered here so every suite can use them.
from todo_testkit.agent import agent_service  # noqa: E402, F401
from todo_testkit.auth import alice, auth_service, bob, sign_up  # noqa: E402, F401
from todo_testkit.edge import edge_service  # noqa: E402, F401
from todo_testkit.tasks import (  # noqa: E402, F401
    alice_tasks,
    bob_tasks,
    new_task_caller,
    tasks_service,
)
