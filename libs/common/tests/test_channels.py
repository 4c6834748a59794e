"""The outbound channel factory: reconnect back-off, read retries, and the one interceptor that
sends the request id and the caller's bearer token on unary and streaming calls alike.

The servers here are real gRPC servers (the shared bootstrap) with recording servicers: what
is under test is the client side, so the servicers only write down what reached them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo.agent.v1 import agent_service_pb2_grpc as agent_grpc
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc
from todo_common import channels
from todo_common.channels import bind_caller, channel_options, open_channel
from todo_common.errors import NotFound
from todo_common.grpc_server import RunningServer, ServiceRegistration, create_server
from todo_common.logs import request_id_var

# gRPC spreads each reconnect delay by ±20 % (its fixed jitter).
GRPC_BACKOFF_JITTER = 0.2
# gRPC's defaults, which this factory replaces: 1 s first delay growing to 120 s.
GRPC_DEFAULT_MAX_BACKOFF_MS = 120_000
RECOVERY_TARGET_SECONDS = 2.0


@dataclass
class Recorder(tasks_grpc.TaskServiceServicer, agent_grpc.AgentServiceServicer):  # type: ignore[misc]
    """Answers GetTask and Respond, writing down the metadata and deadline each call had."""

    metadata: list[dict[str, str]] = field(default_factory=list)
    time_remaining: list[float | None] = field(default_factory=list)

    def _record(self, context: grpc.aio.ServicerContext) -> None:
        self.metadata.append({m.key: m.value for m in context.invocation_metadata()})
        self.time_remaining.append(context.time_remaining())

    async def GetTask(
        self, request: tasks_pb.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> tasks_pb.GetTaskResponse:
        self._record(context)
        if request.id == "missing":
            raise NotFound("No such task.")
        return tasks_pb.GetTaskResponse(task=tasks_pb.Task(id=request.id))

    async def Respond(
        self, request: agent_pb.RespondRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[agent_pb.RespondEvent]:
        self._record(context)
        for text in ("one", "two"):
            yield agent_pb.RespondEvent(text_delta=agent_pb.TextDelta(delta=text))


async def _recording_server() -> tuple[Recorder, RunningServer]:
    servicer = Recorder()
    running = await create_server(
        "127.0.0.1:0",
        [
            ServiceRegistration(
                "todo.tasks.v1.TaskService",
                lambda s: tasks_grpc.add_TaskServiceServicer_to_server(servicer, s),
            ),
            ServiceRegistration(
                "todo.agent.v1.AgentService",
                lambda s: agent_grpc.add_AgentServiceServicer_to_server(servicer, s),
            ),
        ],
    )
    return servicer, running


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, RunningServer]]:
    servicer, running = await _recording_server()
    yield servicer, running
    await running.stop(0)


@contextlib.contextmanager
def handling_request(request_id: str) -> Iterator[None]:
    """As inside the handling of a request with this id (what the servers' interceptors set)."""
    reset = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(reset)


async def test_bound_calls_carry_the_token_request_id_and_deadline_unary_and_streaming(
    recorder: tuple[Recorder, RunningServer],
) -> None:
    servicer, running = recorder
    async with open_channel(f"127.0.0.1:{running.port}") as channel:
        with handling_request("turn-42"):
            tasks = bind_caller(tasks_grpc.TaskServiceStub(channel), token="tok-a", timeout=7)
            await tasks.GetTask(tasks_pb.GetTaskRequest(id="t1"))
            agent = bind_caller(agent_grpc.AgentServiceStub(channel), token="tok-b", timeout=7)
            events = [event async for event in agent.Respond(agent_pb.RespondRequest(input="hi"))]
    assert [e.text_delta.delta for e in events] == ["one", "two"]
    unary, streaming = servicer.metadata
    assert unary["authorization"] == "Bearer tok-a"
    assert streaming["authorization"] == "Bearer tok-b"
    assert unary["x-request-id"] == streaming["x-request-id"] == "turn-42"
    # The bound deadline reached the server (the wire rounds it up a little).
    for remaining in servicer.time_remaining:
        assert remaining is not None and 0 < remaining < 8


async def test_calls_outside_a_request_or_unbound_carry_no_token_or_request_id(
    recorder: tuple[Recorder, RunningServer],
) -> None:
    servicer, running = recorder
    async with open_channel(f"127.0.0.1:{running.port}") as channel:
        stub = tasks_grpc.TaskServiceStub(channel)
        await stub.GetTask(tasks_pb.GetTaskRequest(id="t"), timeout=5)
        await bind_caller(stub, token=None, timeout=5).GetTask(tasks_pb.GetTaskRequest(id="t"))
        # Metadata a call passes itself wins over what the interceptor would add.
        with handling_request("from-context"):
            await bind_caller(stub, token="tok", timeout=5).GetTask(
                tasks_pb.GetTaskRequest(id="t"), metadata=(("x-request-id", "explicit"),)
            )
    plain, unbound, explicit = servicer.metadata
    for metadata in (plain, unbound):
        assert "authorization" not in metadata
        assert "x-request-id" not in metadata
    assert explicit["x-request-id"] == "explicit"
    assert explicit["authorization"] == "Bearer tok"


async def test_unary_calls_are_observed_with_method_and_code_streams_are_not(
    recorder: tuple[Recorder, RunningServer],
) -> None:
    _, running = recorder
    seen: list[tuple[str, grpc.StatusCode, float]] = []
    address = f"127.0.0.1:{running.port}"
    async with open_channel(address, observe=lambda m, c, s: seen.append((m, c, s))) as channel:
        stub = tasks_grpc.TaskServiceStub(channel)
        await stub.GetTask(tasks_pb.GetTaskRequest(id="t"), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetTask(tasks_pb.GetTaskRequest(id="missing"), timeout=5)
        agent = agent_grpc.AgentServiceStub(channel)
        [_ async for _ in agent.Respond(agent_pb.RespondRequest(input="hi"), timeout=5)]
    assert [(m, c) for m, c, _ in seen] == [
        ("/todo.tasks.v1.TaskService/GetTask", grpc.StatusCode.OK),
        ("/todo.tasks.v1.TaskService/GetTask", grpc.StatusCode.NOT_FOUND),
    ]
    assert all(seconds >= 0 for _, _, seconds in seen)


def test_reconnect_backoff_is_bounded_well_under_the_recovery_target() -> None:
    options = dict(channel_options())
    initial = options["grpc.initial_reconnect_backoff_ms"]
    ceiling = options["grpc.max_reconnect_backoff_ms"]
    assert initial <= ceiling < GRPC_DEFAULT_MAX_BACKOFF_MS
    # Whatever the outage, the next attempt comes at most one capped delay after the
    # backend is back; with the jitter that is still inside the target.
    assert ceiling * (1 + GRPC_BACKOFF_JITTER) / 1000 < RECOVERY_TARGET_SECONDS
    # A connection attempt is given at least this long before it counts as failed.
    assert options["grpc.min_reconnect_backoff_ms"] >= 100
    assert options["grpc.keepalive_permit_without_calls"] == 1


def test_only_idempotent_reads_are_retried_and_their_names_exist() -> None:
    config = json.loads(dict(channel_options("round_robin"))["grpc.service_config"])
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    [method_config] = config["methodConfig"]
    names = {(n["service"], n["method"]) for n in method_config["name"]}
    assert names == {
        ("todo.auth.v1.AuthService", "GetMe"),
        ("todo.auth.v1.AuthService", "GetJwks"),
        ("todo.tasks.v1.TaskService", "GetTask"),
        ("todo.tasks.v1.TaskService", "ListTasks"),
    }
    assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert method_config["name"] == channels.IDEMPOTENT_READS


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Waits until `await condition()` is true."""
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.02)


async def test_a_backend_back_after_a_long_outage_is_reachable_again() -> None:
    first = await create_server("127.0.0.1:0", [])
    port = first.port
    async with open_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await first.stop(0)

        # The outage: something on the port refuses every connection attempt, while calls keep
        # coming (and failing), so the channel backs off between attempts (an idle channel
        # would not try at all until the next call). It lasts until the back-off has grown to
        # its ceiling (100 ms x 1.6^n passes 1 s by the 6th retry; gRPC's default would be
        # waiting ~27 s by the 8th attempt), so what follows holds for any longer outage too.
        attempts: list[float] = []

        def refuse(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            attempts.append(time.monotonic())
            writer.close()

        async def refused_enough() -> bool:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await health.Check(health_pb2.HealthCheckRequest(), timeout=0.2)
            return len(attempts) >= 8

        refuser = await asyncio.start_server(refuse, "127.0.0.1", port)
        try:
            # ~4 s here; gRPC's default back-off would need ~43 s for these attempts.
            await _until(refused_enough, seconds=30)
        finally:
            refuser.close()
            await refuser.wait_closed()

        restarted = await create_server(f"127.0.0.1:{port}", [])
        try:

            async def serving() -> bool:
                try:
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                except grpc.aio.AioRpcError:
                    return False
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

            # Generous (at most ~1.2 s here, measured in bench/README.md); gRPC's default
            # back-off would have its next attempt up to ~32 s away at this point.
            await _until(serving, seconds=10)
        finally:
            await restarted.stop(0)


def test_no_process_opens_a_channel_any_other_way() -> None:
    # A stub on a channel without the interceptor would send no token and no request id.
    root = Path(__file__).resolve().parents[3]
    sources = [
        *root.glob("services/*/src/**/*.py"),
        *root.glob("edge/src/**/*.py"),
        *root.glob("libs/common/src/**/*.py"),
    ]
    assert len(sources) > 50
    opening = [
        str(path.relative_to(root))
        for path in sources
        if "secure_channel(" in path.read_text()  # insecure_channel( or secure_channel(
    ]
    assert opening == ["libs/common/src/todo_common/channels.py"]


async def test_round_robin_sends_no_new_call_to_a_draining_replica() -> None:
    """A replica that drains says NOT_SERVING and goes on serving for the drain delay; the
    callers' round_robin sees it (client-side health checking) and sends every new call to
    the other replica, none failing. Without `healthCheckConfig` round_robin would keep
    alternating until the draining server stops, and a call reaching it just then is
    cancelled (seen in a rolling restart of the agents)."""
    (draining, draining_server), (other, other_server) = [await _recording_server() for _ in "ab"]
    target = f"ipv4:127.0.0.1:{draining_server.port},127.0.0.1:{other_server.port}"
    stopping: asyncio.Future[None] | None = None
    try:
        async with open_channel(target, load_balancing="round_robin") as channel:
            stub = tasks_grpc.TaskServiceStub(channel)

            async def calls_reach(servicer: Recorder, *, only: bool) -> bool:
                before = len(servicer.metadata)
                for _ in range(4):
                    await stub.GetTask(tasks_pb.GetTaskRequest(id="t"), timeout=5)
                reached = len(servicer.metadata) - before
                return reached == 4 if only else reached > 0

            await _until(lambda: calls_reach(draining, only=False), seconds=10)
            stopping = asyncio.ensure_future(draining_server.stop(5, drain_delay=60))
            await _until(lambda: calls_reach(other, only=True), seconds=10)
            before = len(draining.metadata)
            for _ in range(20):
                await stub.GetTask(tasks_pb.GetTaskRequest(id="t"), timeout=5)
            assert len(draining.metadata) == before
        # Meanwhile the draining replica still serves a call that reaches it.
        async with open_channel(f"127.0.0.1:{draining_server.port}") as direct:
            reply = await tasks_grpc.TaskServiceStub(direct).GetTask(
                tasks_pb.GetTaskRequest(id="late"), timeout=5
            )
            assert reply.task.id == "late"
        assert not stopping.done()
    finally:
        if stopping is not None:
            stopping.cancel()
        await draining_server.server.stop(0)
        await other_server.stop(0)
