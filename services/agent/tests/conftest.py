"""The agent suite's own fixture: a module agent server on the corpus clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from todo_testkit.agent import AgentServiceHandle, fixed_clock, running_agent_service
from todo_testkit.auth import AuthServiceHandle
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
