"""Connections age out (`create_server(max_connection_age_seconds=…)`): the server closes each
client connection after that age, so clients of a `dns:///` target look it up again and
reach replicas a scale-up added. Shown on a real server and a real `open_channel` client:
the connection is replaced while calls keep succeeding, and a call in flight when its
connection ages out still finishes (there is no grace limit to cut a long reply)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2_grpc as pb_grpc
from todo_common.channels import open_channel
from todo_common.grpc_server import (
    MAX_CONNECTION_AGE_SECONDS,
    RunningServer,
    ServiceRegistration,
    create_server,
)
from todo_testkit.waiting import eventually

# Short, so the test sees several connections in a second or two.
AGE_SECONDS = 0.3


class PeerRecorder(pb_grpc.TaskServiceServicer):
    """GetTask writes down the client connection (peer address and port) each call came on;
    id "held" waits until `release` is set."""

    def __init__(self) -> None:
        self.peers: list[str] = []
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def GetTask(self, request: pb.GetTaskRequest, context: Any) -> pb.GetTaskResponse:
        self.peers.append(context.peer())
        if request.id == "held":
            self.held.set()
            await self.release.wait()
        return pb.GetTaskResponse(task=pb.Task(id=request.id, title="ok"))


@pytest.fixture
async def aging_server() -> AsyncIterator[tuple[RunningServer, PeerRecorder]]:
    recorder = PeerRecorder()
    registration = ServiceRegistration(
        "todo.tasks.v1.TaskService",
        lambda s: pb_grpc.add_TaskServiceServicer_to_server(recorder, s),
    )
    running = await create_server(
        "127.0.0.1:0", [registration], max_connection_age_seconds=AGE_SECONDS
    )
    try:
        yield running, recorder
    finally:
        recorder.release.set()
        await running.stop(grace=1)


def test_services_age_their_connections_by_default() -> None:
    # Long enough that reconnecting costs nothing measurable, short enough for a scale-up.
    assert 10 <= MAX_CONNECTION_AGE_SECONDS <= 300


async def test_an_aged_connection_is_replaced_and_no_call_fails(
    aging_server: tuple[RunningServer, PeerRecorder],
) -> None:
    running, recorder = aging_server
    async with open_channel(f"127.0.0.1:{running.port}", load_balancing="round_robin") as channel:
        stub = pb_grpc.TaskServiceStub(channel)
        held = asyncio.ensure_future(stub.GetTask(pb.GetTaskRequest(id="held"), timeout=30))
        await asyncio.wait_for(recorder.held.wait(), 10)
        first = recorder.peers[0]

        async def on_a_new_connection() -> bool:
            reply = await stub.GetTask(pb.GetTaskRequest(id="t"), timeout=5)
            assert reply.task.title == "ok"  # every call succeeds meanwhile
            return recorder.peers[-1] != first

        await eventually(on_a_new_connection, within=20, what="a call on a new connection")
        # The call that was in flight on the aged connection is not cut.
        recorder.release.set()
        reply = await held
        assert reply.task.id == "held"
