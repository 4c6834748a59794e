"""The agent suite's own fixtures: a module agent server on the corpus clock, and one-call
agents of a test's own."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest
from todo_testkit.agent import (
    AgentServiceHandle,
    AskOwnAgent,
    ToolTurnFor,
    ask_one_tool_call,
    fixed_clock,
    respond_with_own_agent,
    running_agent_service,
)
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.tasks import TasksServiceHandle


@pytest.fixture(scope="module")
async def fixed_agent(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle
) -> AsyncIterator[AgentServiceHandle]:
    """An offline agent server whose users live on Wednesday 15 January 2031, 09:00 London."""
    async with running_agent_service(
        auth_service, tasks_service.address, clock=fixed_clock
    ) as handle:
        yield handle


@pytest.fixture
def ask_own_agent(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle
) -> AskOwnAgent:
    """`await ask_own_agent(metadata, text, agent={...})`: one Respond call to an agent started
    for it alone (`respond_with_own_agent`) on the module's auth and tasks servers."""
    return functools.partial(respond_with_own_agent, auth_service, tasks_service.address)


@pytest.fixture
def alice_tool_turn(ask_own_agent: AskOwnAgent, alice: SignedUpUser) -> ToolTurnFor:
    """`await alice_tool_turn(text, tool, arguments, reply=…)`: alice asks `text` of an agent
    of the test's own whose scripted model calls `tool` once (`ask_one_tool_call`)."""
    return functools.partial(ask_one_tool_call, ask_own_agent, alice.metadata)
