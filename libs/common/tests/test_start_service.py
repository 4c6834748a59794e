"""`start_service`, how every service starts: one service on the address and with the limits
its settings give, and what it holds closed in order, at stop or when it cannot start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
import pytest
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2_grpc as pb_grpc
from todo_common.grpc_server import ServiceRegistration, create_server, start_service
from todo_common.settings import GrpcServerSettings

SERVICE = "todo.tasks.v1.TaskService"


class Echo(pb_grpc.TaskServiceServicer):
    """GetTask answers the task it was asked for."""

    async def GetTask(self, request: pb.GetTaskRequest, context: object) -> pb.GetTaskResponse:
        return pb.GetTaskResponse(task=pb.Task(id=request.id))


def registration() -> ServiceRegistration:
    return ServiceRegistration.of(SERVICE, pb_grpc.add_TaskServiceServicer_to_server, Echo())


def recorder(closed: list[str], name: str) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        closed.append(name)

    return close


async def test_the_settings_give_the_address_and_the_request_size_limit() -> None:
    settings = GrpcServerSettings(port=0, max_receive_message_bytes=1024)
    running = await start_service(settings, registration())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = pb_grpc.TaskServiceStub(channel)
            assert (await stub.GetTask(pb.GetTaskRequest(id="small"))).task.id == "small"
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetTask(pb.GetTaskRequest(id="x" * 2048))
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert running.service_names == [SERVICE]
    finally:
        await running.stop(0)


async def test_what_the_service_holds_is_closed_in_order_when_it_stops() -> None:
    closed: list[str] = []
    running = await start_service(
        GrpcServerSettings(port=0),
        registration(),
        on_stop=[recorder(closed, "channels"), recorder(closed, "database")],
    )
    assert closed == []
    await running.stop(0)
    assert closed == ["channels", "database"]


async def test_a_server_that_cannot_bind_closes_what_it_holds_and_raises() -> None:
    taken = await create_server("127.0.0.1:0", [])
    closed: list[str] = []
    try:
        # grpc refuses the port itself (create_server's own OSError is for a port it reports 0).
        with pytest.raises(RuntimeError, match="Failed to bind"):
            await start_service(
                GrpcServerSettings(port=taken.port),
                registration(),
                on_stop=[recorder(closed, "channels"), recorder(closed, "database")],
            )
        assert closed == ["channels", "database"]
    finally:
        await taken.stop(0)
