"""How soon a channel reaches a backend again after the backend restarts, by outage length.

A real gRPC server (the services' bootstrap, health service only) is stopped for N seconds and
started again on the same port. Meanwhile two clients keep calling it every 100 ms, as a busy
caller would (chat tool calls failing during the outage): one on a channel with gRPC's default
options, one on a channel from `todo_common.channels.open_channel` (what every hop uses). The
result is the time from the restarted server accepting calls to each client's first success.

    uv run python -m bench.channel_recovery [--outages 5,15,60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from todo_common.channels import open_channel
from todo_common.grpc_server import create_server

CALL_INTERVAL_SECONDS = 0.1
GIVE_UP_SECONDS = 180.0


@dataclass
class Caller:
    """Calls the server every CALL_INTERVAL_SECONDS on one channel, noting each success."""

    channel: grpc.aio.Channel
    successes: list[float] = field(default_factory=list)
    succeeded: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        stub = health_pb2_grpc.HealthStub(self.channel)
        while True:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5)
                self.successes.append(time.monotonic())
                self.succeeded.set()
            await asyncio.sleep(CALL_INTERVAL_SECONDS)


async def recovery_after(outage_seconds: float) -> dict[str, float | None]:
    """Seconds from the restart to each channel's first successful call (None: gave up)."""
    first = await create_server("127.0.0.1:0", [])
    address = f"127.0.0.1:{first.port}"
    callers = {
        "gRPC default options": Caller(grpc.aio.insecure_channel(address)),
        "open_channel": Caller(open_channel(address)),
    }
    tasks = [asyncio.create_task(caller.run()) for caller in callers.values()]
    try:
        await asyncio.gather(*(caller.succeeded.wait() for caller in callers.values()))
        await first.stop(0)
        await asyncio.sleep(outage_seconds)
        for caller in callers.values():
            caller.succeeded.clear()  # nothing can succeed while the server is down
        restarted = await create_server(address, [])
        back = time.monotonic()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(caller.succeeded.wait() for caller in callers.values())),
                    GIVE_UP_SECONDS,
                )
        finally:
            await restarted.stop(0)
        return {
            name: next((t - back for t in caller.successes if t > back), None)
            for name, caller in callers.items()
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for caller in callers.values():
            await caller.channel.close()


def _cell(seconds: list[float | None]) -> str:
    if any(value is None for value in seconds):
        return f"> {GIVE_UP_SECONDS:.0f} s (gave up)"
    values = [value for value in seconds if value is not None]
    return f"{statistics.median(values):.2f} s / {max(values):.2f} s"


async def main(outages: list[float], repeat: int) -> None:
    print(f"| outage | gRPC default options (median / worst of {repeat}) | open_channel |")
    print("|---|---|---|")
    for outage in outages:
        runs = await asyncio.gather(*(recovery_after(outage) for _ in range(repeat)))
        names = list(runs[0])
        cells = [_cell([run[name] for run in runs]) for name in names]
        print(f"| {outage:g} s | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outages", default="5,15,60", help="outage lengths in seconds")
    parser.add_argument("--repeat", type=int, default=5, help="runs per outage length")
    args = parser.parse_args()
    asyncio.run(main([float(v) for v in args.outages.split(",")], args.repeat))
