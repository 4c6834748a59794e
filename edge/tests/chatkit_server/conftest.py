"""Fixtures of the ChatKit endpoint suite: a real edge over HTTP with its own migrated
database, in front of the module's real auth, tasks and agent (offline model) servers.

Tests speak the protocol through `todo_testkit.chatkit.ChatClient` (raw bodies, strict SSE).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from todo_edge.db import migrate_async
from todo_testkit.agent import AgentServiceHandle
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.chatkit import (
    ChatClient,
    ChatStack,
    HeldLookupChat,
    OwnAgentChat,
    chat_edge_settings,
    chatting_with_a_held_lookup,
    chatting_with_own_agent,
)
from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.edge import EdgeHandle, running_edge
from todo_testkit.tasks import TasksServiceHandle

# The SDK stamps items with naive local time; the edge runs in UTC (its CLI sets TZ).
os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(scope="module")
async def edge_database(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[IsolatedDatabase]:
    """The edge's database for the module, migrated by its real Alembic scripts."""
    database = new_database("edge", Path(tmp_path_factory.mktemp("edge-db")))
    await migrate_async(database.url, database.schema)
    yield database
    await drop_database(database)


@pytest.fixture(scope="module")
async def chat_edge(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    agent_service: AgentServiceHandle,
    edge_database: IsolatedDatabase,
) -> AsyncIterator[EdgeHandle]:
    """The module's edge with ChatKit wired to the real agent."""
    settings = chat_edge_settings(auth_service, tasks_service, agent_service.address, edge_database)
    async with running_edge(settings) as handle:
        yield handle


@pytest.fixture
async def alice_chat(chat_edge: EdgeHandle, alice: SignedUpUser) -> AsyncIterator[ChatClient]:
    """alice's ChatKit client."""
    async with chat_edge.client(alice.access_token, timeout=30.0) as http:
        yield ChatClient(http)


@pytest.fixture
async def bob_chat(chat_edge: EdgeHandle, bob: SignedUpUser) -> AsyncIterator[ChatClient]:
    """bob's ChatKit client."""
    async with chat_edge.client(bob.access_token, timeout=30.0) as http:
        yield ChatClient(http)


@pytest.fixture
def chat_stack(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    edge_database: IsolatedDatabase,
) -> ChatStack:
    """The module's auth and tasks and the edge database, for agents and edges of the test's
    own (`async with chat_stack.agent(…) as agent, chat_stack.edge(agent) as edge:`)."""
    return ChatStack(auth_service, tasks_service, edge_database)


@pytest.fixture
def own_agent_chat(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    edge_database: IsolatedDatabase,
    alice: SignedUpUser,
) -> OwnAgentChat:
    """`async with own_agent_chat(**agent_options) as (agent, chat)`: alice chatting through
    an edge of her own to an agent of the test's own (`chatting_with_own_agent`)."""
    return functools.partial(
        chatting_with_own_agent, auth_service, tasks_service, edge_database, alice
    )


@pytest.fixture
def held_lookup_chat(own_agent_chat: OwnAgentChat) -> HeldLookupChat:
    """`async with held_lookup_chat(**options) as (agent, chat, lookup, hook)`: alice chatting
    to an agent of her own whose ListTasks calls wait until `lookup.release()`."""
    return functools.partial(chatting_with_a_held_lookup, own_agent_chat)
