"""Fixtures of the ChatKit store suite: a freshly migrated edge database per test, two users."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from todo_common.db import Database
from todo_common.migrations import upgrade_async
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_edge.db import MIGRATIONS_PATH
from todo_testkit.plugin import DatabaseFactory


@pytest.fixture
async def database(database_factory: DatabaseFactory) -> AsyncIterator[Database]:
    """The edge's database, migrated to head by its real Alembic scripts."""
    test_database = await database_factory("edge")
    await upgrade_async(MIGRATIONS_PATH, test_database.url, test_database.schema)
    database = Database.from_url(test_database.url, test_database.schema, pool_size=2)
    yield database
    await database.dispose()


@pytest.fixture
def store(database: Database) -> TodoChatKitStore:
    """The store under test."""
    return TodoChatKitStore(database)


def new_user() -> ChatContext:
    """A request context for a user nobody else uses."""
    suffix = uuid.uuid4().hex[:12]
    return ChatContext(user_id=f"user-{suffix}", token=f"token-{suffix}", request_id=suffix)


@pytest.fixture
def alice() -> ChatContext:
    """A user."""
    return new_user()


@pytest.fixture
def bob() -> ChatContext:
    """Another user, who must never see alice's data."""
    return new_user()
