"""Issue 10 benchmark: chat turns under load, with replies paced like a real model.

The whole stack runs for real (`bench.stack.backend_stack`: todo-auth, todo-tasks, todo-agent
and todo-edge as processes on fresh PostgreSQL schemas), the agent pointed at
`bench.paced_model` (an OpenAI-compatible server in its own process: think time, then N text
chunks at a fixed interval, optionally a tool call first), so streams are open together
because the model is slow, as in real use. Then, over real HTTP to the edge:

- **burst**: N `threads.create` streams written at the same moment (100, 250, 500, 1000, 2000
  by default), spread over many signed-up users;
- **steady**: Poisson arrivals of `threads.create` at a fixed rate for a fixed time.

Reported per run: streams held, errors by kind (HTTP status, `error` events, deadlines), first
byte and first text delta p50/p99, wall time, CPU milliseconds per turn of every service
process (psutil, user + system, over the run), peak RSS per process while the streams are
open, RSS growth per open stream at the edge and agent, and sustained turns/s. The load
generator runs in worker processes of its own (`--workers`) and reports its own CPU, so it is
visible when it, and not the services, is the limit.

    uv run python -m bench.chat_load [--streams 100,250,500,1000] [--variant plain,tool]
        [--rate 20 --seconds 60] [--workers 2] [--users 100] [--env NAME=VALUE] ...

Prints Markdown for bench/README.md ("Chat turns under load").
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from todo_testkit.chatkit import user_message

from bench.chatkit_sse import Edge, StreamError
from bench.load import add_env_option, env_overrides, machine_note
from bench.paced_model import PacedReply, paced_model
from bench.stack import RATE_LIMIT_NOTE, backend_stack

PASSWORD = "benchmark password 1"
STREAM_DEADLINE_SECONDS = 120.0
SAMPLE_SECONDS = 0.05
SERVICES = ("edge", "agent", "auth", "tasks")
PROMPTS = {"plain": "hello there", "tool": "add buy milk"}


# ---- the load generator (worker processes) ----


@dataclass
class Record:
    """One stream as a worker saw it; times in seconds on the shared monotonic clock."""

    kind: str
    written: float
    first_byte: float | None
    first_delta: float | None
    ended: float


async def _one_stream(edge: Edge, connection: Any, request: bytes) -> Record:
    written = time.monotonic()
    try:
        async with asyncio.timeout(STREAM_DEADLINE_SECONDS):
            stream = await edge.stream(connection, request)
    except TimeoutError:
        return Record("deadline", written, None, None, time.monotonic())
    except StreamError as exc:
        return Record(str(exc), written, None, None, time.monotonic())
    except (OSError, ValueError) as exc:
        return Record(type(exc).__name__, written, None, None, time.monotonic())
    # Monotonic offsets: the stream's own perf_counter stamps, moved onto the shared clock.
    shift = written - stream.written
    first_byte = stream.first_byte + shift if stream.first_byte is not None else None
    first_delta = stream.first_delta + shift if stream.first_delta is not None else None
    kind = "ok" if first_delta is not None else "no text delta"
    return Record(kind, written, first_byte, first_delta, stream.ended + shift)


async def _worker(job: dict[str, Any]) -> None:
    """Runs one worker's share of a run: reads `go <start>` on stdin, writes JSON records."""
    port = int(job["port"])
    edges = [Edge(port, token) for token in job["tokens"]]
    body = {"input": user_message(job["prompt"])}
    requests = [edge.request("threads.create", body) for edge in edges]
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    records: list[Record] = []
    began = os.times()
    if job["mode"] == "burst":
        connections: list[Any] = []
        for i in range(int(job["count"])):
            try:
                connections.append((i, await edges[i % len(edges)].connect()))
            except OSError:
                records.append(Record("connect", time.monotonic(), None, None, time.monotonic()))
        print("ready", flush=True)
        start = float((await reader.readline()).split()[1])
        began = os.times()
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        results = await asyncio.gather(
            *(
                _one_stream(edges[i % len(edges)], c, requests[i % len(edges)])
                for i, c in connections
            )
        )
        records.extend(results)
    else:
        print("ready", flush=True)
        start = float((await reader.readline()).split()[1])
        began = os.times()
        rate, seconds = float(job["rate"]), float(job["seconds"])
        chooser = random.Random(int(job["seed"]))
        pending: list[asyncio.Task[Record]] = []
        at = start
        i = 0
        while True:
            at += chooser.expovariate(rate)
            if at > start + seconds:
                break
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            edge = edges[i % len(edges)]
            request = requests[i % len(edges)]
            i += 1

            async def arrival(edge: Edge = edge, request: bytes = request) -> Record:
                try:
                    connection = await edge.connect()
                except OSError:
                    now = time.monotonic()
                    return Record("connect", now, None, None, now)
                return await _one_stream(edge, connection, request)

            pending.append(asyncio.create_task(arrival()))
        records.extend(await asyncio.gather(*pending))
    usage = os.times()
    print(
        json.dumps(
            {
                "records": [r.__dict__ for r in records],
                # From the start signal on: the worker's start-up and connecting are not load.
                "cpu_seconds": usage.user + usage.system - began.user - began.system,
            }
        ),
        flush=True,
    )


# ---- the run (parent process) ----


@dataclass
class Sampler:
    """Peak RSS of each service process while a run lasts (sampled every SAMPLE_SECONDS)."""

    pids: dict[str, int]
    peak: dict[str, int] = field(default_factory=dict)
    before: dict[str, int] = field(default_factory=dict)
    running: bool = True

    async def run(self) -> None:
        processes = {name: psutil.Process(pid) for name, pid in self.pids.items()}
        for name, process in processes.items():
            self.before[name] = self.peak[name] = process.memory_info().rss
        while self.running:
            for name, process in processes.items():
                self.peak[name] = max(self.peak[name], process.memory_info().rss)
            await asyncio.sleep(SAMPLE_SECONDS)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds of each process so far."""
    out = {}
    for name, pid in pids.items():
        times = psutil.Process(pid).cpu_times()
        out[name] = times.user + times.system
    return out


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL process on the machine (other users' queries too)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] == "postgres" and process.info["cpu_times"] is not None:
            total += process.info["cpu_times"].user + process.info["cpu_times"].system
    return total


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def peak_open(records: list[Record]) -> int:
    """The most streams open at once (first byte received, response not finished)."""
    moments = []
    for r in records:
        if r.first_byte is not None:
            moments += [(r.first_byte, 1), (r.ended, -1)]
    open_now = best = 0
    for _, step in sorted(moments):
        open_now += step
        best = max(best, open_now)
    return best


@dataclass
class RunResult:
    label: str
    variant: str
    streams: int
    records: list[Record]
    wall: float
    cpu: dict[str, float]
    rss_before: dict[str, int]
    rss_peak: dict[str, int]
    generator_cpu: float

    @property
    def held(self) -> int:
        return sum(1 for r in self.records if r.kind == "ok")

    @property
    def errors(self) -> Counter[str]:
        return Counter(r.kind for r in self.records if r.kind != "ok")

    def first_byte_ms(self) -> list[float]:
        return [(r.first_byte - r.written) * 1000 for r in self.records if r.first_byte]

    def first_delta_ms(self) -> list[float]:
        return [(r.first_delta - r.written) * 1000 for r in self.records if r.first_delta]


async def run_load(
    *,
    label: str,
    variant: str,
    port: int,
    tokens: list[str],
    pids: dict[str, int],
    workers: int,
    mode: str,
    count: int = 0,
    rate: float = 0.0,
    seconds: float = 0.0,
    profile: dict[str, Path] | None = None,
    native: bool = False,
) -> RunResult:
    """One burst of `count` streams or one steady run, spread over `workers` processes.
    `profile` names processes to sample with py-spy during the run (collapsed stacks);
    `native` adds C frames (py-spy must then pause the process for each sample)."""
    profile = profile or {}
    jobs = []
    for w in range(workers):
        share = count // workers + (1 if w < count % workers else 0)
        jobs.append(
            {
                "port": port,
                "tokens": tokens[w::workers] or tokens,
                "prompt": PROMPTS[variant],
                "mode": mode,
                "count": share,
                "rate": rate / workers,
                "seconds": seconds,
                "seed": w,
            }
        )
    procs = []
    for job in jobs:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.chat_load",
            "--worker",
            json.dumps(job),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        procs.append(proc)
    for proc in procs:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"load worker did not start: {line!r}")
    spies = []
    for name in profile:
        spies.append(
            await asyncio.create_subprocess_exec(
                os.path.join(os.path.dirname(sys.executable), "py-spy"),
                "record",
                "--pid",
                str(pids[name]),
                "--format",
                "raw",
                "--rate",
                "200",
                "--native" if native else "--nonblocking",
                "--output",
                str(profile[name]),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        )
    sampler = Sampler(pids)
    sampling = asyncio.create_task(sampler.run())
    await asyncio.sleep(SAMPLE_SECONDS * 2)
    cpu_before = cpu_seconds(pids)
    pg_before = postgres_cpu_seconds()
    start = time.monotonic() + 0.2
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"go {start}\n".encode())
        await proc.stdin.drain()
    outputs = await asyncio.gather(*(proc.communicate() for proc in procs))
    wall = time.monotonic() - start
    cpu_after = cpu_seconds(pids)
    pg_after = postgres_cpu_seconds()
    sampler.running = False
    await sampling
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        await spy.wait()
    records: list[Record] = []
    generator_cpu = 0.0
    for stdout, _ in outputs:
        result = json.loads(stdout.decode().strip().splitlines()[-1])
        records += [Record(**r) for r in result["records"]]
        generator_cpu += result["cpu_seconds"]
    cpu = {name: cpu_after[name] - cpu_before[name] for name in pids}
    cpu["postgres"] = pg_after - pg_before
    return RunResult(
        label=label,
        variant=variant,
        streams=len(records),
        records=records,
        wall=wall,
        cpu=cpu,
        rss_before=sampler.before,
        rss_peak=sampler.peak,
        generator_cpu=generator_cpu,
    )


async def sign_up_users(url: str, users: int) -> list[str]:
    """`users` new accounts (a few sign-ups at a time: each is an argon2id hash)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        gate = asyncio.Semaphore(4)

        async def one() -> str:
            async with gate:
                response = await http.post(
                    "/api/auth/signup",
                    json={
                        "email": f"load-{uuid.uuid4().hex[:12]}@example.com",
                        "password": PASSWORD,
                    },
                )
                response.raise_for_status()
                return str(response.json()["access_token"])

        return list(await asyncio.gather(*(one() for _ in range(users))))


MIB = 1024 * 1024


def _errors(result: RunResult) -> str:
    """Errors by kind, most common first, e.g. `5 x HTTP 503`."""
    return ", ".join(f"{n} x {kind}" for kind, n in result.errors.most_common()) or "0"


def burst_row(result: RunResult) -> str:
    turns = max(1, result.streams)
    errors = _errors(result)
    fb, fd = result.first_byte_ms(), result.first_delta_ms()
    opened = peak_open(result.records)
    growth = {
        name: (result.rss_peak[name] - result.rss_before[name]) / max(1, opened) / 1024
        for name in ("edge", "agent")
    }
    return (
        f"| {result.label} | {result.variant} | {result.streams} | {result.held} | {errors} | "
        f"{result.wall:.1f} | {pct(fb, 50) / 1000:.2f} | {pct(fb, 99) / 1000:.2f} | "
        f"{pct(fd, 50) / 1000:.2f} | {pct(fd, 99) / 1000:.2f} | "
        f"{result.cpu['edge'] * 1000 / turns:.1f} | {result.cpu['agent'] * 1000 / turns:.1f} | "
        f"{result.cpu['auth'] * 1000 / turns:.2f} | {result.cpu['tasks'] * 1000 / turns:.2f} | "
        f"{result.cpu['postgres'] * 1000 / turns:.1f} | "
        f"{result.generator_cpu * 1000 / turns:.1f} | "
        f"{result.rss_peak['edge'] / MIB:.0f} | {result.rss_peak['agent'] / MIB:.0f} | "
        f"{opened} | {growth['edge']:.0f} | {growth['agent']:.0f} |"
    )


BURST_HEADER = (
    "| code | variant | streams | held | errors | wall s | first byte p50 s | p99 s | "
    "first text delta p50 s | p99 s | CPU ms/turn edge | agent | auth | tasks | postgres | "
    "load generator | peak RSS MiB edge | agent | peak open | RSS KiB/open stream edge | "
    "agent |\n" + "|---|---|" + "---:|" * 19
)

STEADY_HEADER = (
    "| code | variant | rate /s | seconds | turns | held | errors | sustained turns/s | "
    "first byte p50 s | p99 s | first text delta p50 s | p99 s | CPU ms/turn edge | agent | "
    "peak RSS MiB edge | agent |\n" + "|---|---|" + "---:|" * 14
)


def steady_row(result: RunResult, rate: float, seconds: float) -> str:
    turns = max(1, result.streams)
    errors = _errors(result)
    fb, fd = result.first_byte_ms(), result.first_delta_ms()
    return (
        f"| {result.label} | {result.variant} | {rate:g} | {seconds:g} | {result.streams} | "
        f"{result.held} | {errors} | {result.held / result.wall:.1f} | "
        f"{pct(fb, 50) / 1000:.2f} | {pct(fb, 99) / 1000:.2f} | "
        f"{pct(fd, 50) / 1000:.2f} | {pct(fd, 99) / 1000:.2f} | "
        f"{result.cpu['edge'] * 1000 / turns:.1f} | {result.cpu['agent'] * 1000 / turns:.1f} | "
        f"{result.rss_peak['edge'] / MIB:.0f} | {result.rss_peak['agent'] / MIB:.0f} |"
    )


async def main(args: argparse.Namespace) -> None:
    extra = env_overrides(args.env)
    levels = [int(x) for x in args.streams.split(",") if x]
    print(f"### Chat turns under load: {args.label}\n")
    burst_rows: list[str] = []
    steady_rows: list[str] = []
    for variant in args.variant.split(","):
        reply = PacedReply(
            think=args.think,
            chunks=args.chunks,
            interval=args.interval,
            tool="add_task" if variant == "tool" else None,
        )
        async with paced_model(reply) as model:
            env = {**model.agent_env(), **extra}
            async with backend_stack("auth", "tasks", "agent", "edge", extra_env=env) as stack:
                edge = stack["edge"]
                pids = {name: stack[name].process.pid for name in SERVICES}
                tokens = await sign_up_users(edge.url, args.users)
                # A warm-up turn per user, so the first level does not pay for first sights
                # (token verification, imports, connection set-up).
                # The same stack, users and load processes for every run of this variant.
                on_stack = functools.partial(
                    run_load,
                    label=args.label,
                    variant=variant,
                    port=edge.port,
                    tokens=tokens,
                    pids=pids,
                    workers=args.workers,
                )
                await on_stack(mode="burst", count=min(len(tokens), 50))
                for index, level in enumerate(levels):
                    profile = {}
                    if args.profile and index == 0:
                        Path(args.profile).mkdir(parents=True, exist_ok=True)
                        profile = {
                            name: Path(args.profile) / f"{args.label}-{variant}-{name}.txt"
                            for name in ("edge", "agent")
                        }
                    result = await on_stack(
                        mode="burst", count=level, profile=profile, native=args.native
                    )
                    burst_rows.append(burst_row(result))
                    print(burst_rows[-1], file=sys.stderr, flush=True)
                if args.rate > 0:
                    result = await on_stack(mode="steady", rate=args.rate, seconds=args.seconds)
                    steady_rows.append(steady_row(result, args.rate, args.seconds))
                    print(steady_rows[-1], file=sys.stderr, flush=True)
    print("#### N streams written at the same moment\n")
    print(BURST_HEADER)
    print("\n".join(burst_rows))
    if steady_rows:
        print("\n#### Poisson arrivals at a fixed rate\n")
        print(STEADY_HEADER)
        print("\n".join(steady_rows))
    print(
        f"\n- Paced model: {args.think:g} s think time, then {args.chunks} chunks "
        f"{args.interval:g} s apart (tool variant: an `add_task` call first, then the answer). "
        f"{args.users} users, requests spread over them round-robin; load from "
        f"{args.workers} worker processes (raw asyncio sockets, one connection per stream)."
        f"\n- {RATE_LIMIT_NOTE}"
        + (
            "\n- Extra environment: " + ", ".join(f"{k}={v}" for k, v in extra.items())
            if extra
            else ""
        )
        + "\n- CPU ms/turn: the process's user + system CPU over the run / streams written; "
        "postgres: every PostgreSQL process on the machine (other users' queries included). "
        "Peak open: most streams open at once (first byte received, not yet ended). RSS "
        "KiB/open stream: (peak RSS - RSS before the run) / peak open."
        f"\n- {machine_note()}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", default="this code", help="names the code in the tables")
    parser.add_argument("--streams", default="100,250,500,1000")
    parser.add_argument("--variant", default="plain", help="plain, tool or plain,tool")
    parser.add_argument("--rate", type=float, default=0.0, help="steady run: arrivals per s")
    parser.add_argument("--seconds", type=float, default=60.0, help="steady run: how long")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--think", type=float, default=0.3)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.1)
    add_env_option(parser)
    parser.add_argument(
        "--profile", help="folder for py-spy profiles (collapsed stacks) of the first level"
    )
    parser.add_argument(
        "--native",
        action="store_true",
        help="with --profile: native frames too (py-spy pauses the process per sample, so "
        "the CPU figures of that level include the sampling's disturbance)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        asyncio.run(_worker(json.loads(arguments.worker)))
    else:
        asyncio.run(main(arguments))
