"""`todo-edge serve`: run the HTTP edge with uvicorn (EDGE_HOST/EDGE_PORT, default
127.0.0.1:8000). Logs one JSON line `serving` with the bound port once listening.
`todo-edge migrate`: create or upgrade the edge's own tables (EDGE_DATABASE_URL/_SCHEMA).

The process runs in UTC: the ChatKit SDK stamps thread items with naive `datetime.now()`, and
the store keeps naive UTC, so local time must be UTC for the two to agree."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
import time
from collections.abc import Sequence

import uvicorn
from todo_common.cli import CommandError, ProcessCli
from todo_common.logs import announce_serving

from todo_edge.app import create_app
from todo_edge.http_protocol import MAX_REQUEST_HEAD_BYTES, LimitedHttpToolsProtocol
from todo_edge.settings import EdgeSettings


def bound_port(server: uvicorn.Server) -> int:
    """The TCP port uvicorn listens on (the real one when configured with port 0)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("uvicorn is not listening")


def uvicorn_config(settings: EdgeSettings) -> uvicorn.Config:
    """The uvicorn configuration of the edge (our own JSON logs; no uvicorn access log; request
    heads capped by the protocol, see `http_protocol`)."""
    return uvicorn.Config(
        create_app(settings),
        http=LimitedHttpToolsProtocol,
        # The same cap if someone runs the app under uvicorn's h11 protocol instead.
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
    )


async def serve(settings: EdgeSettings) -> None:
    """Serves until SIGINT/SIGTERM, then drains in-flight requests and exits 0."""
    server = uvicorn.Server(uvicorn_config(settings))
    # uvicorn's own handlers re-raise the signal after draining, so the process would end
    # "killed by SIGTERM"; a clean drain should exit 0 like the gRPC services do.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _request_exit, server)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # Start-up failed: surface uvicorn's error (it logged why).
            raise CommandError("the HTTP server did not start")
        await asyncio.sleep(0.02)
    announce_serving("edge", settings.host, bound_port(server))
    await task


def _request_exit(server: uvicorn.Server) -> None:
    if server.should_exit:
        server.force_exit = True  # A second signal: stop waiting for open connections.
    server.should_exit = True


async def migrate(settings: EdgeSettings) -> None:
    """Creates or upgrades the edge's own tables."""
    from todo_edge.db import migrate_async

    await migrate_async(settings.database_url, settings.database_schema)


CLI = ProcessCli(
    name="edge", description=__doc__ or "", settings=EdgeSettings, serve=serve, migrate=migrate
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `todo-edge` command."""
    # Before anything reads the clock (see the module docstring).
    os.environ["TZ"] = "UTC"
    time.tzset()
    return CLI.main(argv)


if __name__ == "__main__":
    sys.exit(main())
