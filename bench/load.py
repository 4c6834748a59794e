"""A closed-loop load generator: N workers call as fast as they can for a fixed time.

Reports throughput and latency percentiles measured from the client. It runs in its own
process, apart from the services, but on the same 2 cores, so its own CPU use is part of
what limits the numbers; the README says so next to them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class LoadResult:
    """What one load run measured."""

    name: str
    concurrency: int
    calls: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def row(self) -> str:
        """A Markdown table row: name | concurrency | RPS | p50 | p99 | errors."""
        return (
            f"| {self.name} | {self.concurrency} | {self.rps:,.0f} | {self.percentile(50):.2f} | "
            f"{self.percentile(99):.2f} | {self.errors} |"
        )


HEADER = "| call | concurrency | RPS | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|"


async def run_load(
    name: str,
    call: Callable[[int], Awaitable[object]],
    *,
    concurrency: int,
    seconds: float,
    warmup_seconds: float = 1.0,
) -> LoadResult:
    """Runs `call(worker_index)` in `concurrency` loops; measures after the warm-up."""

    async def timed(index: int, _started: float) -> dict[str, float]:
        await call(index)
        return {}

    run = await run_stream_load(
        name, timed, concurrency=concurrency, seconds=seconds, warmup_seconds=warmup_seconds
    )
    latencies = run.milestones_ms.get("total", [])
    return LoadResult(name, concurrency, run.calls, run.errors, run.seconds, latencies)


def summarise(values: list[float]) -> str:
    """median and p99 of microbenchmark samples, in microseconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):.1f} µs, p99 {p99:.1f} µs"


@dataclass
class StreamLoadResult:
    """A load run of streaming calls: latency to named milestones (e.g. first event) and to
    the end, per call, measured from the client."""

    name: str
    concurrency: int
    calls: int
    errors: int
    seconds: float
    milestones_ms: dict[str, list[float]]

    @property
    def rps(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def percentile(self, milestone: str, q: float) -> float:
        return percentile(self.milestones_ms.get(milestone, []), q)


async def run_stream_load(
    name: str,
    call: Callable[[int, float], Awaitable[dict[str, float]]],
    *,
    concurrency: int,
    seconds: float,
    warmup_seconds: float = 1.0,
) -> StreamLoadResult:
    """Like `run_load`, for calls that report milestones: `call(worker_index, started)` (with
    `started` from time.perf_counter()) returns {milestone: perf_counter() when reached}, and
    raises on failure. Each milestone is kept in ms after `started`, plus "total"."""
    milestones: dict[str, list[float]] = {}
    errors = 0
    calls = 0
    measuring = False
    stop_at = 0.0

    async def worker(index: int) -> None:
        nonlocal errors, calls
        while True:
            started = time.perf_counter()
            if measuring and started >= stop_at:
                return
            try:
                reached = await call(index, started)
                ok = True
            except Exception:
                ok = False
            ended = time.perf_counter()
            if measuring:
                if ok:
                    calls += 1
                    for key, at in {**reached, "total": ended}.items():
                        milestones.setdefault(key, []).append((at - started) * 1000)
                else:
                    errors += 1

    async def timeline() -> float:
        nonlocal measuring, stop_at
        await asyncio.sleep(warmup_seconds)
        begin = time.perf_counter()
        stop_at = begin + seconds
        measuring = True
        await asyncio.sleep(seconds)
        return time.perf_counter() - begin

    clock = asyncio.ensure_future(timeline())
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = await clock
    return StreamLoadResult(name, concurrency, calls, errors, elapsed, milestones)


def machine_note() -> str:
    """The last line of every benchmark's notes: the machine, and how busy it was at the end
    (other load on the 2 shared cores shows up in every number)."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}; "
        f"load average at the end {load}."
    )


async def release_together(
    gate: asyncio.Event, calls: Iterable[Awaitable[object]], *, settle_seconds: float
) -> float:
    """Starts every call, gives them `settle_seconds` to get ready (connect, build the request)
    and wait on `gate`, then opens the gate so they all go at the same moment. Returns the wall
    seconds from the gate opening until the last call ended."""
    workers = [asyncio.ensure_future(call) for call in calls]
    await asyncio.sleep(settle_seconds)
    began = time.perf_counter()
    gate.set()
    await asyncio.gather(*workers)
    return time.perf_counter() - began


def errors_cell(errors: Mapping[str, int]) -> str:
    """A table cell for errors by kind: "timeout: 3, HTTP 503: 1", or "0"."""
    return ", ".join(f"{kind}: {count}" for kind, count in errors.items()) or "0"


async def ramp(first: int, most: int, run: Callable[[int], Awaitable[bool]]) -> int:
    """Runs `run(level)` at `first`, twice that, and so on up to `most`, stopping after the
    first level at which `run` reports errors (returns False). Returns the highest level
    without errors, 0 when even the first had some."""
    best = 0
    level = first
    while level <= most:
        if not await run(level):
            break
        best = level
        level *= 2
    return best


def closing_notes(*notes: str, processes: str) -> str:
    """The notes under a benchmark's tables, one bullet each, ending with the shared-machine
    note: `processes` (e.g. "auth, tasks, the edge and the load generator") compete for this
    machine's cores, and the machine line says how busy it was."""
    shared = (
        f"{processes} all share this machine's {os.cpu_count()} cores; other load on the "
        "machine shows up in the numbers."
    )
    return "\n" + "\n".join(f"- {note}" for note in (*notes, shared, machine_note()))


def add_env_option(parser: argparse.ArgumentParser) -> None:
    """`--env NAME=VALUE` (repeatable): extra environment for every service process."""
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for every service process, e.g. EDGE_DATABASE_POOL_SIZE=40",
    )


def env_overrides(items: list[str]) -> dict[str, str]:
    """The `--env` items as a mapping; an item without `=` is a usage error, not a crash."""
    overrides: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env wants NAME=VALUE, got {item!r}")
        overrides[name] = value
    return overrides
