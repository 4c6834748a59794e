"""The opt-in suite against a real OpenAI-compatible model server (`make test-llm`).

The server (`todo_testkit.llm_server`) is started once for the session on a free loopback
port. Where its environment could not be built, every test skips and says why; nothing here is
faked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from todo_edge.db import migrate_async
from todo_testkit.auth import SignedUpUser
from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.llm_server import ModelServer, running_model_server, why_not_built
from todo_testkit.tasks import TaskCaller, TasksServiceHandle


@pytest.fixture(scope="session")
async def model_server() -> AsyncIterator[ModelServer]:
    """llama-cpp-python's server with SmolLM2-135M-Instruct, for the session."""
    reason = why_not_built()
    if reason is not None:
        pytest.skip(reason)
    async with running_model_server() as server:
        yield server


@pytest.fixture
async def edge_database(tmp_path: Path) -> AsyncIterator[IsolatedDatabase]:
    """An edge database for the test, migrated by its real Alembic scripts."""
    database = new_database("edge", tmp_path)
    await migrate_async(database.url, database.schema)
    yield database
    await drop_database(database)


@pytest.fixture
def alice_tasks(tasks_service: TasksServiceHandle, alice: SignedUpUser) -> TaskCaller:
    """alice's tasks, straight from the tasks service."""
    return TaskCaller(user=alice, stub=tasks_service.stub)
