"""In-process gRPC servers for fixtures: their settings, and a handle on a started server (its
address, a client channel and a stub), closed and stopped together afterwards.

The auth, tasks and agent fixtures differ only in which server they start and which extra
things their handle carries (a database, token settings); this module is the rest, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from pydantic_settings import BaseSettings
from todo_common.grpc_server import RunningServer
from todo_common.settings import GrpcServerSettings

from todo_testkit.databases import IsolatedDatabase

# Fixture servers drain for half a second at most: tests leave no call in flight that matters.
STOP_GRACE_SECONDS = 0.5

SettingsT = TypeVar("SettingsT", bound=BaseSettings)
StubT = TypeVar("StubT")


@dataclass
class ServerHandle(Generic[SettingsT, StubT]):
    """A running in-process gRPC server, its settings, and a channel + stub to it."""

    address: str
    port: int
    settings: SettingsT
    running: RunningServer
    channel: grpc.aio.Channel
    stub: StubT


HandleT = TypeVar("HandleT", bound=ServerHandle[Any, Any])


def fixture_settings(
    settings_type: type[SettingsT], database: IsolatedDatabase | None = None, **values: Any
) -> SettingsT:
    """Settings for a process a fixture starts: the test environment on 127.0.0.1, port 0 (a
    free one), a gRPC server's drain cut to STOP_GRACE_SECONDS, `database` with a small pool;
    then `values`, which win over all of these."""
    base: dict[str, Any] = {"environment": "test", "host": "127.0.0.1", "port": 0}
    if issubclass(settings_type, GrpcServerSettings):
        base["shutdown_grace_seconds"] = STOP_GRACE_SECONDS
    if database is not None:
        base |= {
            "database_url": database.url,
            "database_schema": database.schema,
            "database_pool_size": 5,
        }
    return settings_type(**(base | values))


@asynccontextmanager
async def serving(
    running: RunningServer,
    handle_type: Callable[..., HandleT],
    stub_type: Callable[[grpc.aio.Channel], Any],
    **fields: Any,
) -> AsyncIterator[HandleT]:
    """A `handle_type` for `running` (listening on 127.0.0.1): its address, a channel and a
    `stub_type` stub on it, plus `fields` (the settings and what else the handle carries).
    After the block the channel is closed and the server stopped."""
    address = f"127.0.0.1:{running.port}"
    channel = grpc.aio.insecure_channel(address)
    try:
        yield handle_type(
            address=address,
            port=running.port,
            running=running,
            channel=channel,
            stub=stub_type(channel),
            **fields,
        )
    finally:
        await channel.close()
        await running.stop(STOP_GRACE_SECONDS)
