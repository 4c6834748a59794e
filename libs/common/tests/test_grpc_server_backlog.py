"""Calls that wait for a busy server to accept them are served, not cancelled by gRPC.

gRPC's core cancels a call the Python server has not accepted within
`grpc.server_max_unrequested_time_in_server` (30 s by default): the caller sees CANCELLED and
the handler never runs. `create_server` raises that limit above any caller's deadline
(`MAX_UNACCEPTED_SECONDS`). The server's event loop is made busy here by blocking it, as a
burst of chat turns does on a loaded machine, while another thread sends the calls; the age
check is gRPC's own clock, so the block has to outlast the (1 s) limit under test.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from todo_common.grpc_server import MAX_UNACCEPTED_SECONDS, create_server

CALLS = 4


def _send_calls(port: int, sent: threading.Event, results: Future[list[grpc.StatusCode]]) -> None:
    """Health checks from a plain (thread) client, while the server's loop is blocked."""
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            stub = health_pb2_grpc.HealthStub(channel)
            calls = [
                stub.Check.future(health_pb2.HealthCheckRequest(), timeout=30) for _ in range(CALLS)
            ]
            sent.set()
            codes = []
            for call in calls:
                try:
                    call.result()
                    codes.append(grpc.StatusCode.OK)
                except grpc.RpcError as error:
                    codes.append(error.code())
            results.set_result(codes)
    except BaseException as exc:
        sent.set()
        results.set_exception(exc)


async def _codes_while_busy(max_unaccepted_seconds: float) -> list[grpc.StatusCode]:
    running = await create_server("127.0.0.1:0", [], max_unaccepted_seconds=max_unaccepted_seconds)
    try:
        sent = threading.Event()
        results: Future[list[grpc.StatusCode]] = Future()
        client = threading.Thread(target=_send_calls, args=(running.port, sent, results))
        client.start()
        # The loop waits (without running) until the calls are out, then stays busy past the
        # 1 s limit: the calls queue in gRPC's core meanwhile, as under a burst.
        assert sent.wait(timeout=10)
        time.sleep(2.5)  # noqa: ASYNC251 - the point is a loop that does not run
        codes = await asyncio.wrap_future(results)
        client.join()
        return codes
    finally:
        await running.stop(0)


@pytest.mark.asyncio
async def test_grpcs_default_cancels_calls_a_busy_server_has_not_accepted() -> None:
    """The failure being guarded against: with a short limit, queued calls end CANCELLED."""
    codes = await _codes_while_busy(1.0)
    assert grpc.StatusCode.CANCELLED in codes


@pytest.mark.asyncio
async def test_calls_queued_while_the_server_is_busy_are_served() -> None:
    codes = await _codes_while_busy(MAX_UNACCEPTED_SECONDS)
    assert codes == [grpc.StatusCode.OK] * CALLS
