"""The server bootstrap: health, reflection, request ids, error mapping, limits, graceful drain.

The servicer here is a minimal TaskService whose handlers exercise the bootstrap (raise domain
errors, crash, sleep); the real tasks service has its own suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2_grpc as pb_grpc
from todo_common.errors import FieldViolation, InvalidArgument, parse_rpc_error
from todo_common.grpc_server import (
    BehaviorInterceptor,
    RunningServer,
    ServiceRegistration,
    create_server,
)
from todo_common.logs import request_id_var

SERVICE = "todo.tasks.v1.TaskService"


class BootstrapProbe(pb_grpc.TaskServiceServicer):
    """GetTask behaves according to the requested id."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def GetTask(self, request: pb.GetTaskRequest, context: Any) -> pb.GetTaskResponse:
        if request.id == "invalid":
            raise InvalidArgument(
                "bad title",
                reason="TITLE_EMPTY",
                field_violations=[FieldViolation("task.title", "must not be empty")],
            )
        if request.id == "crash":
            raise RuntimeError("secret internals: password=hunter2")
        if request.id == "slow":
            self.started.set()
            await self.release.wait()
        return pb.GetTaskResponse(task=pb.Task(id=request.id, title="ok"))


class StatusRecorder:
    """Stands in for the servicer context of a Health.Watch call: the servicer writes each
    status change to it, and the test awaits them one by one."""

    def __init__(self) -> None:
        self._written: asyncio.Queue[health_pb2.HealthCheckResponse] = asyncio.Queue()

    async def write(self, response: health_pb2.HealthCheckResponse) -> None:
        await self._written.put(response)

    async def next(self) -> Any:
        """The next status written (waits for it, 5 s at most)."""
        return (await asyncio.wait_for(self._written.get(), 5)).status


async def start(probe: BootstrapProbe, **kwargs: Any) -> RunningServer:
    return await create_server(
        "127.0.0.1:0",
        [
            ServiceRegistration(
                SERVICE, lambda s: pb_grpc.add_TaskServiceServicer_to_server(probe, s)
            )
        ],
        **kwargs,
    )


@asynccontextmanager
async def probe_stub(**kwargs: Any) -> AsyncIterator[tuple[BootstrapProbe, Any]]:
    """A probe served with `create_server` options `kwargs`, and a TaskService stub to it."""
    probe = BootstrapProbe()
    running = await start(probe, **kwargs)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            yield probe, pb_grpc.TaskServiceStub(channel)
    finally:
        await running.stop(0)


@pytest.fixture
async def server() -> AsyncIterator[tuple[RunningServer, BootstrapProbe]]:
    probe = BootstrapProbe()
    running = await start(probe)
    yield running, probe
    probe.release.set()
    await running.stop(0)


@pytest.fixture
async def channel(
    server: tuple[RunningServer, BootstrapProbe],
) -> AsyncIterator[grpc.aio.Channel]:
    """A client channel to the test's server."""
    running, _ = server
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield channel


async def test_health_and_reflection(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = [s.name async for r in replies for s in r.list_services_response.service]
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names


async def test_request_id_is_echoed_or_generated(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.TaskServiceStub(channel)
    call = stub.GetTask(
        pb.GetTaskRequest(id="a"), metadata=(("x-request-id", "req-123"),), timeout=5
    )
    await call
    assert ("x-request-id", "req-123") in list(await call.trailing_metadata())
    call = stub.GetTask(
        pb.GetTaskRequest(id="a"), metadata=(("x-request-id", "bad id with spaces"),), timeout=5
    )
    await call
    generated = dict(await call.trailing_metadata())["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32


async def test_domain_error_carries_rich_details(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await pb_grpc.TaskServiceStub(channel).GetTask(pb.GetTaskRequest(id="invalid"), timeout=5)
    info = parse_rpc_error(caught.value)
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.message == "bad title"
    assert info.reason == "TITLE_EMPTY"
    assert info.field_violations == [FieldViolation("task.title", "must not be empty")]


async def test_unexpected_error_is_internal_without_details(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.TaskServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetTask(pb.GetTaskRequest(id="crash"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (caught.value.details() or "")
    # The process keeps serving.
    assert (await stub.GetTask(pb.GetTaskRequest(id="a"), timeout=5)).task.title == "ok"


async def test_oversized_message_is_rejected_and_server_keeps_serving() -> None:
    async with probe_stub(max_receive_message_bytes=64 * 1024) as (_, stub):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetTask(pb.GetTaskRequest(id="x" * 100_000), timeout=5)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert (await stub.GetTask(pb.GetTaskRequest(id="a"), timeout=5)).task.id == "a"


async def test_concurrency_limit_rejects_excess_calls() -> None:
    async with probe_stub(maximum_concurrent_rpcs=1) as (probe, stub):
        slow = asyncio.ensure_future(stub.GetTask(pb.GetTaskRequest(id="slow"), timeout=10))
        await asyncio.wait_for(probe.started.wait(), 5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetTask(pb.GetTaskRequest(id="a"), timeout=5)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        probe.release.set()
        assert (await slow).task.id == "slow"


async def test_graceful_stop_flips_health_then_drains_in_flight_calls() -> None:
    probe = BootstrapProbe()
    running = await start(probe)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = pb_grpc.TaskServiceStub(channel)
        in_flight = asyncio.ensure_future(stub.GetTask(pb.GetTaskRequest(id="slow"), timeout=10))
        await asyncio.wait_for(probe.started.wait(), 5)
        # The health servicer's Watch reports every status change as it happens.
        statuses = StatusRecorder()
        watch = asyncio.ensure_future(
            running.health.Watch(health_pb2.HealthCheckRequest(service=SERVICE), statuses)
        )
        assert await statuses.next() == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.ensure_future(running.stop(grace=5))
        # Health already says NOT_SERVING while the in-flight call is still running.
        assert await statuses.next() == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
        assert not in_flight.done()
        probe.release.set()
        assert (await in_flight).task.id == "slow"
        await stopping


class RecordingInterceptor(BehaviorInterceptor):
    """Notes each call its wrapper runs for (and the request id it sees), and how often its
    wrapper was built; GetTask only."""

    def __init__(self, name: str, seen: list[tuple[str, str | None]]) -> None:
        self.name = name
        self.seen = seen
        self.built = 0

    def applies_to(self, method: str) -> bool:
        return method.endswith("/GetTask")

    def _unary(self, behavior: Any, method: str) -> Any:
        self.built += 1

        async def wrapped(request: Any, context: Any) -> Any:
            self.seen.append((self.name, request_id_var.get()))
            if request.id == f"refused-by-{self.name}":
                raise InvalidArgument("refused", reason="REFUSED")
            return await behavior(request, context)

        return wrapped

    def _stream(self, behavior: Any, method: str) -> Any:
        return behavior


async def test_interceptors_run_in_one_pass_built_once_per_method() -> None:
    seen: list[tuple[str, str | None]] = []
    first, second = RecordingInterceptor("first", seen), RecordingInterceptor("second", seen)
    running = await start(BootstrapProbe(), interceptors=[first, second])
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = pb_grpc.TaskServiceStub(channel)
            for number in range(3):
                reply = await _get(stub, f"task-{number}", f"req-{number}")
                assert reply.task.id == f"task-{number}"
            # In the order given, inside the request context (its request id already set).
            assert seen == [(name, f"req-{n}") for n in range(3) for name in ("first", "second")]
            assert (first.built, second.built) == (1, 1)
            # An error raised by one still becomes its status, with its rich details.
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await _get(stub, "refused-by-second", "req-refused")
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert parse_rpc_error(raised.value).reason == "REFUSED"
            # A method they do not apply to, and one the server lacks, pass untouched.
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(2):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            unknown = channel.unary_unary(f"/{SERVICE}/Nope")
            for _ in range(2):
                with pytest.raises(grpc.aio.AioRpcError) as missing:
                    await unknown(b"", timeout=5)
                assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert (first.built, second.built) == (1, 1)
            assert len(seen) == 3 * 2 + 2
    finally:
        await running.stop(0)


async def _get(stub: Any, task_id: str, request_id: str) -> Any:
    return await stub.GetTask(
        pb.GetTaskRequest(id=task_id), metadata=(("x-request-id", request_id),), timeout=5
    )


async def test_health_watch_streams_statuses_through_the_interceptors() -> None:
    """Health.Watch (a streaming handler that writes with `context.write`, not a generator) is
    served through the request-context interceptor: the callers' round_robin health checks
    call it on every replica."""
    running = await start(BootstrapProbe())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=10
            )
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            await running.health.enter_graceful_shutdown()
            second = await watch.read()
            assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
            watch.cancel()
    finally:
        await running.stop(0)
