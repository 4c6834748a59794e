"""Builds the agent gRPC server: AgentService behind the shared bootstrap and auth interceptor."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

import grpc
from agents import Agent, set_tracing_disabled
from agents.models.interface import Model
from todo.agent.v1 import agent_service_pb2, agent_service_pb2_grpc
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.channels import open_channel
from todo_common.grpc_server import RunningServer, ServiceRegistration, start_service
from todo_common.settings import TokenSettings
from todo_common.tokens import AuthInterceptor, remote_token_verifier

from todo_agent.context import AgentContext
from todo_agent.models import build_model_choices
from todo_agent.service import AgentService, Clock, system_clock
from todo_agent.settings import AgentSettings

log = logging.getLogger(__name__)

SERVICE_NAME = agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name


async def start_agent_server(
    settings: AgentSettings,
    token_settings: TokenSettings | None = None,
    *,
    model: Model | None = None,
    clock: Clock = system_clock,
    tasks_interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    agent: Agent[AgentContext] | None = None,
) -> RunningServer:
    """Starts AgentService on `settings.address` (port 0 binds a free port).

    Tokens are verified with the auth service's public keys (fetched from
    `token_settings.auth_address`); the tools call the tasks service at
    `settings.tasks_address` with the caller's token. `model` overrides the model chosen by
    `settings.model` (tests script one; the offline model and `settings.extra_models` can still
    be picked per turn); `clock` gives the user's local time (tests fix it);
    `tasks_interceptors` wrap the channel to the tasks service (tests slow it down); `agent`
    replaces the assistant's agents (tests force a tool call with its model settings).
    """
    token_settings = token_settings or TokenSettings()
    if not settings.tracing_enabled:
        # No trace export, and no network, unless asked for.
        set_tracing_disabled(True)
    choices = build_model_choices(settings, default=[model] if model is not None else None)
    balancing = settings.grpc_load_balancing
    auth_channel = open_channel(token_settings.auth_address, load_balancing=balancing)
    tasks_channel = open_channel(
        settings.tasks_address, load_balancing=balancing, interceptors=tasks_interceptors
    )
    verifier = remote_token_verifier(token_settings, auth_channel)
    tasks_stub = cast(
        "tasks_service_pb2_grpc.TaskServiceAsyncStub",
        tasks_service_pb2_grpc.TaskServiceStub(tasks_channel),
    )
    servicer = AgentService(settings, choices, tasks_stub, clock=clock, agent=agent)

    async def close_channels() -> None:
        await verifier.aclose()
        await tasks_channel.close()
        await auth_channel.close()
        for models in choices.values():
            for each in models:
                await each.close()

    return await start_service(
        settings,
        ServiceRegistration.of(
            SERVICE_NAME, agent_service_pb2_grpc.add_AgentServiceServicer_to_server, servicer
        ),
        interceptors=[AuthInterceptor(verifier)],
        on_stop=[close_channels],
    )
