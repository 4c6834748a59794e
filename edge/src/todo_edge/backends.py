"""gRPC channels to the backends, opened once per app and closed on shutdown.

Each channel has keepalive pings (so a dead peer is noticed between calls), short reconnect
backoff (service resumes quickly once a backend is back), and a service config that retries
idempotent reads on UNAVAILABLE. A client interceptor stamps every call with the request id
and records its latency. Deadlines are per call (see `Backends.timeout`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from todo.agent.v1 import agent_service_pb2_grpc
from todo.auth.v1 import auth_service_pb2_grpc
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.grpc_server import REQUEST_ID_KEY
from todo_common.logs import request_id_var

from todo_edge.metrics import EdgeMetrics
from todo_edge.settings import EdgeSettings

# Reads that are safe to repeat. Writes are not retried by the channel: CreateTask is
# idempotent only with a request id, and a retried UpdateTask could apply twice.
_IDEMPOTENT_READS = {
    "todo.auth.v1.AuthService": ("GetMe", "GetJwks"),
    "todo.tasks.v1.TaskService": ("GetTask", "ListTasks"),
}


def service_config(load_balancing: str) -> str:
    """The channel's service config: load balancing and the retry policy for reads."""
    names = [
        {"service": service, "method": method}
        for service, methods in _IDEMPOTENT_READS.items()
        for method in methods
    ]
    config = {
        "loadBalancingConfig": [{load_balancing: {}}],
        "methodConfig": [
            {
                "name": names,
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.5s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
    return json.dumps(config)


def channel_options(load_balancing: str) -> list[tuple[str, Any]]:
    """Options of every backend channel."""
    return [
        ("grpc.service_config", service_config(load_balancing)),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # gRPC's default backoff grows to two minutes: a restarted backend would stay
        # unreachable long after it is back. Keep reconnect attempts frequent.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2_000),
    ]


class ClientCallInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds `x-request-id` to every outbound call and observes its latency by method."""

    def __init__(self, metrics: EdgeMetrics) -> None:
        self._metrics = metrics

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        request_id = request_id_var.get()
        if request_id:
            metadata = grpc.aio.Metadata(*(details.metadata or ()))
            metadata[REQUEST_ID_KEY] = request_id
            details = grpc.aio.ClientCallDetails(
                details.method,
                details.timeout,
                metadata,
                details.credentials,
                details.wait_for_ready,
            )
        started = time.perf_counter()
        call = await continuation(details, request)
        # `code()` waits for the call to finish without raising; the caller awaits the call.
        code = await call.code()
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        self._metrics.grpc_latency.labels(method, code.name).observe(time.perf_counter() - started)
        return call


@dataclass
class Backends:
    """Channels and stubs of every backend, with the per-call deadlines."""

    settings: EdgeSettings
    channels: dict[str, grpc.aio.Channel]
    auth: auth_service_pb2_grpc.AuthServiceStub
    tasks: tasks_service_pb2_grpc.TaskServiceStub
    # Respond is server-streaming: the unary interceptor above does not see it, so the ChatKit
    # server adds the request id to its metadata itself.
    agent: agent_service_pb2_grpc.AgentServiceStub

    @classmethod
    def open(cls, settings: EdgeSettings, metrics: EdgeMetrics) -> Backends:
        """Opens one channel per backend (connections are made lazily, on first use)."""
        options = channel_options(settings.grpc_load_balancing)
        interceptors = [ClientCallInterceptor(metrics)]
        channels = {
            name: grpc.aio.insecure_channel(
                settings.backend_address(name), options=options, interceptors=interceptors
            )
            for name in ("auth", "tasks", "agent")
        }
        return cls(
            settings=settings,
            channels=channels,
            auth=auth_service_pb2_grpc.AuthServiceStub(channels["auth"]),
            tasks=tasks_service_pb2_grpc.TaskServiceStub(channels["tasks"]),
            agent=agent_service_pb2_grpc.AgentServiceStub(channels["agent"]),
        )

    @property
    def timeout(self) -> float:
        """The deadline of a task call, in seconds."""
        return self.settings.grpc_timeout_seconds

    @property
    def auth_timeout(self) -> float:
        """The deadline of an auth call (sign-in hashes a password: give it longer if needed)."""
        return self.settings.auth_timeout_seconds

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
