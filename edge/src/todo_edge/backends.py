"""The edge's channels to its backends, opened once per app and closed on shutdown.

Channels come from the shared factory (`todo_common.channels.open_channel`: keepalive, short
reconnect back-off, retries of idempotent reads, the request id and the caller's token on
every call). The edge adds its per-method latency metric to every unary call. Routes call a
backend through a stub bound to the caller (`tasks_for`, `auth_for`; the ChatKit server binds
the agent's stub itself), which also gives the call its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from todo.agent.v1 import agent_service_pb2_grpc
from todo.auth.v1 import auth_service_pb2_grpc
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.channels import bind_caller, open_channel

from todo_edge.metrics import EdgeMetrics
from todo_edge.settings import EdgeSettings

BACKEND_NAMES = ("auth", "tasks", "agent")


@dataclass
class Backends:
    """Channels and stubs of every backend, with the per-call deadlines."""

    settings: EdgeSettings
    channels: dict[str, grpc.aio.Channel]
    auth: auth_service_pb2_grpc.AuthServiceAsyncStub
    tasks: tasks_service_pb2_grpc.TaskServiceAsyncStub
    agent: agent_service_pb2_grpc.AgentServiceAsyncStub

    @classmethod
    def open(cls, settings: EdgeSettings, metrics: EdgeMetrics) -> Backends:
        """Opens one channel per backend (connections are made lazily, on first use)."""

        def observe(method: str, code: grpc.StatusCode, seconds: float) -> None:
            metrics.grpc_latency.labels(method, code.name).observe(seconds)

        channels = {
            name: open_channel(
                settings.backend_address(name),
                load_balancing=settings.grpc_load_balancing,
                observe=observe,
            )
            for name in BACKEND_NAMES
        }
        return cls(
            settings=settings,
            channels=channels,
            auth=cast(
                "auth_service_pb2_grpc.AuthServiceAsyncStub",
                auth_service_pb2_grpc.AuthServiceStub(channels["auth"]),
            ),
            tasks=cast(
                "tasks_service_pb2_grpc.TaskServiceAsyncStub",
                tasks_service_pb2_grpc.TaskServiceStub(channels["tasks"]),
            ),
            agent=cast(
                "agent_service_pb2_grpc.AgentServiceAsyncStub",
                agent_service_pb2_grpc.AgentServiceStub(channels["agent"]),
            ),
        )

    def tasks_for(self, token: str) -> tasks_service_pb2_grpc.TaskServiceAsyncStub:
        """The tasks service, called for the owner of `token`, with the task-call deadline."""
        return bind_caller(self.tasks, token=token, timeout=self.settings.grpc_timeout_seconds)

    def auth_for(self, token: str | None) -> auth_service_pb2_grpc.AuthServiceAsyncStub:
        """The auth service, for the owner of `token` (None: sign-in, refresh, … which carry
        their own credentials), with the auth-call deadline (sign-in hashes a password)."""
        return bind_caller(self.auth, token=token, timeout=self.settings.auth_timeout_seconds)

    async def health(self, name: str) -> str:
        """The backend's overall `grpc.health.v1` status name, or why it could not be read."""
        stub = health_pb2_grpc.HealthStub(self.channels[name])
        try:
            response = await stub.Check(
                health_pb2.HealthCheckRequest(service=""),
                timeout=self.settings.health_timeout_seconds,
            )
        except grpc.aio.AioRpcError as error:
            return str(error.code().name)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    async def close(self) -> None:
        """Closes every channel, cancelling calls still in flight."""
        for channel in self.channels.values():
            await channel.close()
