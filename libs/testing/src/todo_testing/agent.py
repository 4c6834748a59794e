"""Agent fixtures: a real agent server on a free port, calling the module's real tasks server
and verifying tokens against the module's real auth server.

    async def test_something(agent_service, sign_up):
        alice = await sign_up()
        events = await collect(agent_service.stub.Respond(
            RespondRequest(input="add buy milk"), metadata=alice.metadata, timeout=10))

`running_agent_service` starts extra servers with other settings (a scripted model, a fixed
clock, a tasks address that is down, interceptors on the tasks channel) for fault tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import grpc
import pytest
from agents.models.interface import Model
from todo.agent.v1 import agent_service_pb2 as pb
from todo.agent.v1 import agent_service_pb2_grpc
from todo_agent.server import start_agent_server
from todo_agent.service import Clock, _system_clock
from todo_agent.settings import AgentSettings
from todo_common.grpc_server import RunningServer

from todo_testing.auth import AuthServiceHandle
from todo_testing.tasks import TasksServiceHandle, token_settings_for


@dataclass
class AgentServiceHandle:
    """A running agent server, its settings, and a channel + stub to it."""

    address: str
    port: int
    settings: AgentSettings
    running: RunningServer
    channel: grpc.aio.Channel
    stub: agent_service_pb2_grpc.AgentServiceAsyncStub


def test_agent_settings(tasks_address: str, **overrides: Any) -> AgentSettings:
    """Settings for a test server: port 0, the offline model, the given tasks address."""
    values: dict[str, Any] = {
        "environment": "test",
        "host": "127.0.0.1",
        "port": 0,
        "tasks_address": tasks_address,
        "model": "offline",
        "shutdown_grace_seconds": 0.5,
    }
    values.update(overrides)
    return AgentSettings(**values)


test_agent_settings.__test__ = False  # type: ignore[attr-defined]


@asynccontextmanager
async def running_agent_service(
    auth: AuthServiceHandle,
    tasks_address: str,
    *,
    model: Model | None = None,
    clock: Clock = _system_clock,
    tasks_interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    **overrides: Any,
) -> AsyncIterator[AgentServiceHandle]:
    """Starts an agent server and stops it after. `overrides` are AgentSettings fields."""
    settings = test_agent_settings(tasks_address, **overrides)
    running = await start_agent_server(
        settings,
        token_settings_for(auth),
        model=model,
        clock=clock,
        tasks_interceptors=tasks_interceptors,
    )
    address = f"127.0.0.1:{running.port}"
    channel = grpc.aio.insecure_channel(address)
    try:
        yield AgentServiceHandle(
            address=address,
            port=running.port,
            settings=settings,
            running=running,
            channel=channel,
            stub=cast(
                "agent_service_pb2_grpc.AgentServiceAsyncStub",
                agent_service_pb2_grpc.AgentServiceStub(channel),
            ),
        )
    finally:
        await channel.close()
        await running.stop(0.5)


@pytest.fixture(scope="module")
async def agent_service(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle
) -> AsyncIterator[AgentServiceHandle]:
    """A real agent server for the module (offline model), calling the module's
    `tasks_service` and trusting the module's `auth_service`."""
    async with running_agent_service(auth_service, tasks_service.address) as handle:
        yield handle


async def respond_events(
    stub: agent_service_pb2_grpc.AgentServiceAsyncStub,
    request: pb.RespondRequest,
    metadata: tuple[tuple[str, str], ...],
    deadline_seconds: float = 20.0,
) -> list[pb.RespondEvent]:
    """Calls Respond and collects every event of the stream."""
    call = stub.Respond(request, metadata=metadata, timeout=deadline_seconds)
    return [event async for event in call]
