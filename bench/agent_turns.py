"""Issue 10 benchmark, the agent half: what one chat turn costs the agent process.

todo-auth, todo-tasks and todo-agent run as real processes on fresh PostgreSQL schemas
(`bench.stack.backend_stack`); the agent's model is `bench.paced_model` in its own process
(the real `openai` client and the Agents SDK's Chat Completions path: 0.3 s think time, then
20 text chunks 0.1 s apart, by default), so streams stay open because the model is slow. One
client process opens N `Respond` streams over gRPC at the same moment and reads each to the
end, for N in `--streams` (100, 500, 2000), in two variants:

- **plain**: "hello there": one model call, text only;
- **tool**: "add buy milk": the model calls `add_task` (a real CreateTask on the tasks
  service), then answers with text after the tool result: two model calls.

Reported per run: streams held (ended with run_finished) and errors by kind; first text
delta p50/p99 from the call's start; wall time; **CPU ms of the agent process per turn**
(user + system from psutil, before the streams open to after the last one ends, divided by
N); agent RSS before, peak while the streams are open (sampled every 50 ms), and the growth
per open stream.

`--baseline DIR` runs every row twice in one invocation, first with the agent (and
todo_common) imported from the checkout at DIR (e.g. a worktree of main), then with this
checkout, so before and after share the machine's state.

    uv run python -m bench.agent_turns [--streams 100,500,2000] [--variant plain,tool]
        [--baseline /path/to/main-checkout] [--profile DIR] [--env NAME=VALUE ...]

Prints Markdown for bench/README.md ("Agent turn cost").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil
from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo.agent.v1 import agent_service_pb2_grpc as agent_grpc
from todo.auth.v1 import auth_service_pb2_grpc as auth_grpc

from bench.agent_grpc import sign_up
from bench.load import machine_note
from bench.paced_model import PacedModel, PacedReply, paced_model
from bench.stack import backend_stack

PROMPTS = {"plain": "hello there", "tool": "add buy milk"}
TOOL_TRIGGER = "add "
STREAM_DEADLINE_SECONDS = 120.0
SAMPLE_SECONDS = 0.05
WARMUP_TURNS = 20
HEADER = (
    "| code | variant | streams | held | errors | wall s | first delta p50 ms | "
    "first delta p99 ms | agent CPU ms/turn | CPU ms/held turn | agent RSS before MiB | "
    "peak MiB | KiB/stream |\n|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


class TurnError(Exception):
    """A turn that did not end as the variant expects."""


@dataclass
class RunResult:
    """N streams of one variant opened together."""

    code: str
    variant: str
    streams: int
    held: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    wall_seconds: float = 0.0
    first_delta_ms: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    rss_before: int = 0
    rss_peak: int = 0

    def percentile(self, q: float) -> float:
        """The q-th percentile of first text delta latency (nearest rank)."""
        if not self.first_delta_ms:
            return float("nan")
        ordered = sorted(self.first_delta_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def row(self) -> str:
        """One Markdown row."""
        errors = ", ".join(f"{k}: {v}" for k, v in self.errors.most_common()) or "0"
        per_stream = (self.rss_peak - self.rss_before) / 1024 / self.streams
        return (
            f"| {self.code} | {self.variant} | {self.streams} | {self.held} | {errors} | "
            f"{self.wall_seconds:.1f} | {self.percentile(50):.0f} | {self.percentile(99):.0f} | "
            f"{self.cpu_seconds * 1000 / self.streams:.2f} | "
            f"{self.cpu_seconds * 1000 / max(1, self.held):.2f} | {self.rss_before / 2**20:.0f} | "
            f"{self.rss_peak / 2**20:.0f} | {per_stream:.0f} |"
        )


async def turn(
    agent: agent_grpc.AgentServiceStub, metadata: tuple[tuple[str, str], ...], variant: str
) -> float:
    """One Respond turn read to the end; the seconds from the call to its first text delta."""
    started = time.perf_counter()
    first: float | None = None
    tools: list[str] = []
    finished = False
    call = agent.Respond(
        agent_pb.RespondRequest(thread_id="bench", input=PROMPTS[variant], time_zone="UTC"),
        metadata=metadata,
        timeout=STREAM_DEADLINE_SECONDS,
    )
    async for event in call:
        kind = event.WhichOneof("event")
        if kind == "text_delta" and first is None:
            first = time.perf_counter() - started
        elif kind == "tool_call_finished":
            tools.append(event.tool_call_finished.name)
            if not event.tool_call_finished.ok:
                raise TurnError("tool failed")
        elif kind == "run_failed":
            raise TurnError(f"run_failed {agent_pb.FailureCode.Name(event.run_failed.code)}")
        elif kind == "run_finished":
            finished = True
    if not finished:
        raise TurnError("no run_finished")
    if tools != (["add_task"] if variant == "tool" else []):
        raise TurnError(f"tools {tools}")
    if first is None:
        raise TurnError("no text")
    return first


class RssSampler:
    """Samples a process's RSS until stopped; keeps the peak."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.before = self.peak = process.memory_info().rss
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(SAMPLE_SECONDS)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self.process.memory_info().rss)


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of the process so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _frame_name(frame: str) -> str:
    """`function (path/to/site-packages/pkg/module.py:12)` → `function (pkg/module.py)`."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def summarise_profile(path: Path, top: int = 25) -> str:
    """Markdown of a py-spy raw profile (collapsed stacks): the frames with the most samples
    on the stack (inclusive) and at its top (self), as % of all samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(f) for f in stack.split(";")]
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    if not total:
        return f"(no samples in {path})"
    lines = [f"{total} samples; inclusive (on the stack) and self (top of the stack):", ""]
    lines += ["| inclusive % | frame |", "|---:|---|"]
    lines += [f"| {n * 100 / total:.1f} | `{name}` |" for name, n in inclusive.most_common(top)]
    lines += ["", "| self % | frame |", "|---:|---|"]
    lines += [f"| {n * 100 / total:.1f} | `{name}` |" for name, n in own.most_common(top)]
    return "\n".join(lines)


@contextmanager
def profiled(pid: int, output: Path | None) -> Iterator[None]:
    """py-spy samples `pid` (100 Hz, without pausing it) while the block runs, into `output`
    as collapsed stacks; nothing when `output` is None."""
    if output is None:
        yield
        return
    import subprocess

    spy = Path(sys.executable).with_name("py-spy")
    process = subprocess.Popen(
        [
            *(str(spy), "record", "--pid", str(pid), "--rate", "100", "--nonblocking"),
            *("--format", "raw", "--output", str(output)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


async def burst(
    code: str,
    variant: str,
    count: int,
    agents: list[agent_grpc.AgentServiceStub],
    users: list[tuple[tuple[str, str], ...]],
    process: psutil.Process,
    profile: Path | None = None,
) -> RunResult:
    """Opens `count` turns of `variant` at the same moment and reads each to the end."""
    result = RunResult(code=code, variant=variant, streams=count)
    gate = asyncio.Event()

    async def one(index: int) -> None:
        await gate.wait()
        try:
            first = await turn(agents[index % len(agents)], users[index % len(users)], variant)
        except grpc.aio.AioRpcError as exc:
            result.errors[f"{exc.code().name} ({(exc.details() or '')[:48]})"] += 1
        except TurnError as exc:
            result.errors[str(exc)] += 1
        else:
            result.held += 1
            result.first_delta_ms.append(first * 1000)

    workers = [asyncio.ensure_future(one(i)) for i in range(count)]
    await asyncio.sleep(0.1)
    with RssSampler(process) as rss, profiled(process.pid, profile):
        cpu_before = cpu_seconds(process)
        started = time.perf_counter()
        gate.set()
        await asyncio.gather(*workers)
        result.wall_seconds = time.perf_counter() - started
        result.cpu_seconds = cpu_seconds(process) - cpu_before
    result.rss_before, result.rss_peak = rss.before, rss.peak
    return result


@asynccontextmanager
async def agent_stack(
    model: PacedModel, source: str | None, extra_env: dict[str, str], channels: int = 1
) -> AsyncIterator[tuple[list[agent_grpc.AgentServiceStub], auth_grpc.AuthServiceStub, int]]:
    """auth + tasks + agent on the paced model; the agent (and todo_common) imported from the
    checkout at `source` when given. Yields stubs on `channels` channels (connections) to the
    agent, the auth stub and the agent's pid."""
    env = {**model.agent_env(), **extra_env}
    if source is not None:
        paths = [f"{source}/services/agent/src", f"{source}/libs/common/src"]
        env["PYTHONPATH"] = os.pathsep.join(paths)
    async with backend_stack("auth", "tasks", "agent", extra_env=env) as stack:
        agent_channels = [
            grpc.aio.insecure_channel(stack["agent"].address, options=[("grpc.channel_id", index)])
            for index in range(channels)
        ]
        auth_channel = grpc.aio.insecure_channel(stack["auth"].address)
        try:
            yield (
                [agent_grpc.AgentServiceStub(channel) for channel in agent_channels],
                auth_grpc.AuthServiceStub(auth_channel),
                stack["agent"].process.pid,
            )
        finally:
            for channel in agent_channels:
                await channel.close()
            await auth_channel.close()


async def measure(
    code: str, source: str | None, args: argparse.Namespace, model: PacedModel
) -> list[RunResult]:
    """Every variant and stream count on one freshly started stack."""
    results: list[RunResult] = []
    profiles: list[Path] = []
    async with agent_stack(model, source, dict(args.env), args.channels) as (agents, auth, pid):
        process = psutil.Process(pid)
        users = [await sign_up(auth) for _ in range(args.users)]
        # Warm-up: imports, first connections, caches; and a check that each variant does
        # what the table says before anything is measured.
        for variant in args.variant:
            await asyncio.gather(
                *(
                    turn(agents[i % len(agents)], users[i % len(users)], variant)
                    for i in range(WARMUP_TURNS)
                )
            )
        for variant in args.variant:
            for count in args.streams:
                profile = None
                if args.profile:
                    profile = Path(args.profile) / f"{code}-{variant}-{count}.txt"
                    profile.parent.mkdir(parents=True, exist_ok=True)
                result = await burst(code, variant, count, agents, users, process, profile)
                print(result.row(), flush=True)
                results.append(result)
                if profile is not None:
                    profiles.append(profile)
    for path in profiles:
        print(f"\n#### py-spy profile of the agent: {path.stem}\n")
        print(summarise_profile(path), flush=True)
    if profiles:
        print("\n" + HEADER)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.agent_turns", description=__doc__)
    parser.add_argument("--streams", default="100,500,2000")
    parser.add_argument("--variant", default="plain,tool")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument(
        "--channels", type=int, default=1, help="gRPC channels to the agent (the edge has one)"
    )
    parser.add_argument("--think", type=float, default=PacedReply.think)
    parser.add_argument("--chunks", type=int, default=PacedReply.chunks)
    parser.add_argument("--interval", type=float, default=PacedReply.interval)
    parser.add_argument("--baseline", default=None, help="a checkout to run first, e.g. main")
    parser.add_argument(
        "--profile",
        default=None,
        help="a folder: py-spy samples the agent during each burst (CPU numbers then include "
        "the sampling's own disturbance)",
    )
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for every process (repeatable)"
    )
    args = parser.parse_args(argv)
    args.streams = [int(n) for n in args.streams.split(",")]
    args.variant = [v for v in args.variant.split(",") if v]
    unknown = set(args.variant) - set(PROMPTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {sorted(PROMPTS)}")
    args.env = [tuple(item.split("=", 1)) for item in args.env]
    return args


async def main(args: argparse.Namespace) -> None:
    """Runs the benchmark and prints the table."""
    reply = PacedReply(
        think=args.think,
        chunks=args.chunks,
        interval=args.interval,
        tool="add_task",
        tool_when=TOOL_TRIGGER,
    )
    async with paced_model(reply) as model:
        model_process = psutil.Process(model.pid)
        model_cpu = cpu_seconds(model_process)
        print(
            f"### Agent turn cost (paced model: {reply.think} s think, {reply.chunks} chunks "
            f"{reply.interval} s apart; PostgreSQL)\n"
        )
        print(HEADER, flush=True)
        runs: list[tuple[str, str | None]] = []
        if args.baseline:
            runs.append(("baseline", os.path.abspath(args.baseline)))
        runs.append(("this", None))
        results: list[RunResult] = []
        for code, source in runs:
            results += await measure(code, source, args, model)
        stats = await model.stats()
        turns = sum(r.streams for r in results)
        print(
            f"\nThe paced model served {stats['requests']} requests "
            f"(peak {stats['peak_streams']} streams at once) with "
            f"{(cpu_seconds(model_process) - model_cpu) * 1000 / max(1, turns):.2f} ms CPU per "
            "turn in its own process."
        )
    print(
        f"\n- CPU per turn: the agent process's user + system CPU from just before the N "
        f"streams open until the last ends, over N (it includes the agent's token checks, the "
        f"openai client's HTTP and SSE parsing, the SDK's run loop and our event mapping; the "
        f"tool variant also the tasks call's client side). RSS sampled every "
        f"{SAMPLE_SECONDS * 1000:.0f} ms; KiB/stream = (peak - before) / N. Errors by kind: "
        f"gRPC status or the turn's failure. One client process (one channel), the services, "
        f"the paced model and PostgreSQL share this machine's {os.cpu_count()} cores."
        f"\n- {machine_note()}"
    )


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
