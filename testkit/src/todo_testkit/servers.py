"""In-process gRPC servers for fixtures: the address of a started server and a client channel
to it, closed and stopped together afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from todo_common.grpc_server import RunningServer

# Fixture servers drain for half a second at most: tests leave no call in flight that matters.
STOP_GRACE_SECONDS = 0.5


@asynccontextmanager
async def connected(running: RunningServer) -> AsyncIterator[tuple[str, grpc.aio.Channel]]:
    """`(address, channel)` of `running` (listening on 127.0.0.1); after the block the channel
    is closed and the server stopped."""
    address = f"127.0.0.1:{running.port}"
    channel = grpc.aio.insecure_channel(address)
    try:
        yield address, channel
    finally:
        await channel.close()
        await running.stop(STOP_GRACE_SECONDS)
