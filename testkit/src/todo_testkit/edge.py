"""Edge fixtures: the real HTTP edge served by uvicorn on a free port, in-process, in front of
the module's real auth and tasks servers.

    async def test_something(edge_service, sign_up):
        alice = await sign_up()
        async with edge_service.client(alice.access_token) as http:
            assert (await http.get("/api/tasks")).status_code == 200

`running_edge(settings)` starts extra edges with other settings (tiny deadlines, low rate
limits, a backend address that is down).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from todo_edge.__main__ import bound_port, uvicorn_config
from todo_edge.settings import EdgeSettings

from todo_testkit.auth import AuthServiceHandle
from todo_testkit.servers import fixture_settings
from todo_testkit.tasks import TasksServiceHandle
from todo_testkit.waiting import eventually


@dataclass
class EdgeHandle:
    """A running edge: its base URL, settings and where its metrics are served."""

    url: str
    port: int
    settings: EdgeSettings
    server: uvicorn.Server
    metrics_url: str | None = None

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client for the edge, sending `token` as the bearer token if given."""
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=kwargs.pop("timeout", 15.0), **kwargs
        )


def edge_settings_for(
    auth: AuthServiceHandle, tasks: TasksServiceHandle | None = None, **overrides: Any
) -> EdgeSettings:
    """Settings for a test edge on port 0 in front of `auth` (and `tasks`), with rate limits
    high enough not to get in the way of tests that are not about them."""
    values: dict[str, Any] = {
        "auth_address": auth.address,
        "tasks_address": tasks.address if tasks else "127.0.0.1:1",
        "token": {
            "issuer": auth.settings.token.issuer,
            "audience": auth.settings.token.audience,
            "jwks_refetch_cooldown_seconds": 1.0,
        },
        "cors_origins": ["https://app.example.com"],
        "auth_attempts_per_account": 1000,
        "auth_attempts_per_address": 10_000,
        "requests_per_user": 100_000,
        "grpc_timeout_seconds": 5.0,
        "metrics_port": 0,
    }
    return fixture_settings(EdgeSettings, **(values | overrides))


@asynccontextmanager
async def running_edge(settings: EdgeSettings) -> AsyncIterator[EdgeHandle]:
    """Serves the edge with uvicorn on `settings.host:settings.port` (0 = a free port) in this
    event loop; shuts it down (lifespan included) after."""
    server = uvicorn.Server(uvicorn_config(settings))
    # The test process owns its signals; uvicorn must not take SIGINT from pytest.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or task.done(), within=60, what="uvicorn to start")
        if not server.started:
            await task
            raise RuntimeError("the edge did not start")
        port = bound_port(server)
        app = server.config.app
        assert isinstance(app, FastAPI)
        metrics_port = app.state.metrics_port
        yield EdgeHandle(
            url=f"http://127.0.0.1:{port}",
            port=port,
            settings=settings,
            server=server,
            metrics_url=f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else None,
        )
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def edge_service(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle
) -> AsyncIterator[EdgeHandle]:
    """A real edge for the module over real HTTP, in front of the module's auth and tasks."""
    async with running_edge(edge_settings_for(auth_service, tasks_service)) as handle:
        yield handle


def assert_problem(
    response: httpx.Response, status: int, reason: str | None = None
) -> dict[str, Any]:
    """Asserts an RFC 9457 problem response (status, media type, members, request id, no stack
    trace) and returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:todo-assistant:problem:")
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    if reason is not None:
        assert body.get("reason") == reason, body
    return body
