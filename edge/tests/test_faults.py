"""Backend faults: down → 503 within the deadline and recovery once it is back; slow past the
deadline → 504. Request id and token reach the backend in gRPC metadata."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import httpx
import pytest
from todo.tasks.v1 import tasks_service_pb2, tasks_service_pb2_grpc
from todo_tasks.server import start_tasks_server
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.edge import assert_problem, edge_settings_for, running_edge
from todo_testkit.tasks import running_tasks_service
from todo_testkit.waiting import eventually

DEADLINE_SECONDS = 0.5


async def test_tasks_down_is_503_then_service_resumes_when_it_is_back(
    auth_service: AuthServiceHandle,
    alice: SignedUpUser,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("restart")
    async with running_tasks_service(folder, auth_service) as tasks:
        settings = edge_settings_for(auth_service, tasks, grpc_timeout_seconds=DEADLINE_SECONDS)
        async with running_edge(settings) as edge, edge.client(alice.access_token) as client:
            created = await client.post("/api/tasks", json={"title": "survives restarts"})
            assert created.status_code == 201

            await tasks.running.stop(0)
            # No hang: the client gives up well after the edge's own deadline would have.
            for method, path in [("GET", "/api/tasks"), ("POST", "/api/tasks")]:
                response = await client.request(
                    method, path, json={"title": "x"}, timeout=DEADLINE_SECONDS + 5
                )
                body = assert_problem(response, 503)
                assert "unavailable" in body["detail"].lower()
            ready = await client.get("/readyz")
            assert assert_problem(ready, 503)["not_serving"] == ["tasks"]

            # Same port, same database: the edge's channel reconnects by itself.
            restarted = await start_tasks_server(
                tasks.settings.model_copy(update={"port": tasks.port}), tasks.token_settings
            )
            try:

                async def tasks_listed() -> httpx.Response:
                    response = await client.get("/api/tasks", timeout=DEADLINE_SECONDS + 5)
                    assert response.status_code != 503, "still unavailable"
                    return response

                response = await eventually(
                    tasks_listed, within=15, what="the edge to reach the restarted tasks service"
                )
                assert response.status_code == 200, response.text
                ids = [t["id"] for t in response.json()["tasks"]]
                assert created.json()["id"] in ids
                assert (await client.get("/readyz")).status_code == 200
            finally:
                await restarted.stop(0)


async def test_auth_down_is_503(auth_service: AuthServiceHandle, alice: SignedUpUser) -> None:
    # An auth address where nothing listens: sign-in cannot be answered, and a valid bearer
    # token cannot be verified (the signing keys cannot be fetched) — 503, not 401.
    settings = edge_settings_for(auth_service, auth_address="127.0.0.1:1")
    async with running_edge(settings) as edge, edge.client() as client:
        login = await client.post(
            "/api/auth/login", json={"email": "a@example.com", "password": "whatever-pw"}
        )
        assert_problem(login, 503)
        tasks = await client.get(
            "/api/tasks", headers={"Authorization": f"Bearer {alice.access_token}"}
        )
        assert_problem(tasks, 503)


# A test double of the *network*, not of our service's logic: a real gRPC server on port 0
# that implements TaskService by answering only when released (never, here: the edge's
# deadline passes first), and records the metadata the edge sent.
@dataclass
class SlowTaskService(tasks_service_pb2_grpc.TaskServiceServicer):  # type: ignore[misc]
    released: asyncio.Event = field(default_factory=asyncio.Event)
    seen_metadata: list[dict[str, str]] = field(default_factory=list)

    async def GetTask(
        self, request: tasks_service_pb2.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> tasks_service_pb2.GetTaskResponse:
        self.seen_metadata.append({m.key: m.value for m in context.invocation_metadata()})
        await self.released.wait()
        return tasks_service_pb2.GetTaskResponse(task=tasks_service_pb2.Task(id=request.id))


@pytest.fixture
async def slow_tasks() -> AsyncIterator[tuple[str, SlowTaskService]]:
    servicer = SlowTaskService()
    server = grpc.aio.server()
    tasks_service_pb2_grpc.add_TaskServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        servicer.released.set()
        await server.stop(0)


async def test_backend_slower_than_the_deadline_is_504(
    auth_service: AuthServiceHandle,
    alice: SignedUpUser,
    slow_tasks: tuple[str, SlowTaskService],
) -> None:
    address, servicer = slow_tasks
    settings = edge_settings_for(
        auth_service, tasks_address=address, grpc_timeout_seconds=DEADLINE_SECONDS
    )
    async with running_edge(settings) as edge, edge.client(alice.access_token) as client:
        response = await client.get(
            "/api/tasks/some-id", headers={"X-Request-ID": "slow-call-1"}, timeout=5
        )
    body = assert_problem(response, 504)
    assert "did not answer in time" in body["detail"]
    # The edge forwarded the caller's token and the request id to the backend.
    assert servicer.seen_metadata[0]["authorization"] == f"Bearer {alice.access_token}"
    assert servicer.seen_metadata[0]["x-request-id"] == "slow-call-1"
