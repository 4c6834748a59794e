"""Issue 2 benchmark: the tasks service over a real channel with the auth interceptor on, on
PostgreSQL (GetTask and ListTasks(50) at concurrency 1, 16, 64), and the auth service (SignIn
latency, token verification cost per call).

    uv run python -m bench.backends_grpc [--seconds 10]
    uv run python -m bench.backends_grpc --baseline DIR [--seconds 10] [--rounds 3]

`--baseline DIR` (issue 11) measures only GetTask and ListTasks(50) at concurrency 16, on two
stacks at once: one whose auth and tasks import `todo_common` and `todo_tasks` from the
checkout DIR (e.g. an export of main), one of this checkout; rounds alternate between them, so
both see the same background load. Besides RPS it reports the tasks process's CPU
milliseconds per call (psutil), the fairer number on a shared machine.

Prints Markdown for bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
import psutil
from todo.auth.v1 import auth_service_pb2 as auth_pb
from todo.auth.v1 import auth_service_pb2_grpc as auth_grpc
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc
from todo_common.settings import TokenSettings
from todo_common.tokens import TokenVerifier, grpc_jwks_fetcher

from bench.load import HEADER, machine_note, run_load, summarise
from bench.stack import backend_stack

PASSWORD = "benchmark password 1"


async def measure_verification(
    auth_channel: grpc.aio.Channel, token: str
) -> tuple[str, str, float]:
    """Token verification per call: full (signature checked) and cached (same token again)."""
    settings = TokenSettings()
    full = TokenVerifier(
        grpc_jwks_fetcher(auth_channel),
        issuer=settings.issuer,
        audience=settings.audience,
        cache_size=0,
    )
    cached = TokenVerifier(
        grpc_jwks_fetcher(auth_channel), issuer=settings.issuer, audience=settings.audience
    )
    await full.verify(token)
    await cached.verify(token)
    samples: dict[str, list[float]] = {"full": [], "cached": []}
    for name, verifier in (("full", full), ("cached", cached)):
        for _ in range(3000):
            started = time.perf_counter()
            await verifier.verify(token)
            samples[name].append((time.perf_counter() - started) * 1e6)
    full_median = sorted(samples["full"])[len(samples["full"]) // 2]
    return summarise(samples["full"]), summarise(samples["cached"]), full_median


def read_calls(
    tasks: tasks_grpc.TaskServiceStub, token: str, ids: list[str]
) -> tuple[Callable[[int], Awaitable[object]], Callable[[int], Awaitable[object]]]:
    """The two hot reads as load calls: GetTask of a random one of `ids`, and ListTasks(50)
    (which checks it got 50). `bench.rest_compare` measures the same two."""
    metadata = (("authorization", f"Bearer {token}"),)

    async def get_task(_: int) -> object:
        return await tasks.GetTask(
            tasks_pb.GetTaskRequest(id=random.choice(ids)), metadata=metadata, timeout=5
        )

    async def list_tasks(_: int) -> object:
        reply = await tasks.ListTasks(
            tasks_pb.ListTasksRequest(page_size=50), metadata=metadata, timeout=5
        )
        assert len(reply.tasks) == 50
        return reply

    return get_task, list_tasks


@dataclass
class Seeded:
    """A running auth + tasks pair with a signed-up user owning 60 tasks."""

    auth_channel: grpc.aio.Channel
    auth: auth_grpc.AuthServiceStub
    email: str
    token: str
    get_task: Callable[[int], Awaitable[object]]
    list_tasks: Callable[[int], Awaitable[object]]
    tasks_pid: int


@asynccontextmanager
async def seeded_stack(env: dict[str, str] | None = None) -> AsyncIterator[Seeded]:
    """auth + tasks on fresh schemas (`env` added to both processes), seeded for the reads."""
    async with backend_stack("auth", "tasks", extra_env=env) as stack:
        auth_channel = grpc.aio.insecure_channel(stack["auth"].address)
        tasks_channel = grpc.aio.insecure_channel(stack["tasks"].address)
        auth = auth_grpc.AuthServiceStub(auth_channel)
        tasks = tasks_grpc.TaskServiceStub(tasks_channel)
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        signed_up = await auth.SignUp(
            auth_pb.SignUpRequest(email=email, password=PASSWORD), timeout=10
        )
        token = signed_up.tokens.access_token
        metadata = (("authorization", f"Bearer {token}"),)
        ids = []
        for i in range(60):
            created = await tasks.CreateTask(
                tasks_pb.CreateTaskRequest(
                    task=tasks_pb.Task(
                        title=f"benchmark task {i}", notes="some notes", tags=["bench"]
                    )
                ),
                metadata=metadata,
                timeout=5,
            )
            ids.append(created.task.id)
        get_task, list_tasks = read_calls(tasks, token, ids)
        try:
            yield Seeded(
                auth_channel,
                auth,
                email,
                token,
                get_task,
                list_tasks,
                stack["tasks"].process.pid,
            )
        finally:
            await auth_channel.close()
            await tasks_channel.close()


async def compare(baseline: str, seconds: float, rounds: int) -> None:
    """GetTask and ListTasks(50) at 16 on the baseline's code and this checkout's, alternating."""
    source = os.path.abspath(baseline)
    paths = [
        f"{source}/services/tasks/src",
        f"{source}/services/auth/src",
        f"{source}/libs/common/src",
    ]
    base_env = {"PYTHONPATH": os.pathsep.join(p for p in paths if os.path.isdir(p))}
    async with seeded_stack(base_env) as base, seeded_stack() as this:
        print(
            f"### GetTask / ListTasks(50) at concurrency 16: baseline ({baseline}) vs this "
            f"checkout, {rounds} alternating rounds of {seconds:.0f} s\n"
        )
        print(
            "| call | code | round | RPS | p50 ms | p99 ms | errors | tasks CPU ms/call |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|"
        )
        totals: dict[tuple[str, str], list[float]] = {}
        for name in ("GetTask", "ListTasks(50)"):
            for round_ in range(1, rounds + 1):
                for code, seeded in (("baseline", base), ("this", this)):
                    call = seeded.get_task if name == "GetTask" else seeded.list_tasks
                    process = psutil.Process(seeded.tasks_pid)
                    before = sum(process.cpu_times()[:2])
                    result = await run_load(name, call, concurrency=16, seconds=seconds)
                    cpu_ms = (sum(process.cpu_times()[:2]) - before) * 1000 / max(1, result.calls)
                    totals.setdefault((name, code), []).extend([result.rps, cpu_ms])
                    print(
                        f"| {name} | {code} | {round_} | {result.rps:,.0f} | "
                        f"{result.percentile(50):.2f} | {result.percentile(99):.2f} | "
                        f"{result.errors} | {cpu_ms:.3f} |",
                        flush=True,
                    )
        print(
            "\n| call | baseline RPS (mean) | this RPS | ratio | baseline CPU ms/call | this | ratio |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name in ("GetTask", "ListTasks(50)"):
            base_rps = totals[name, "baseline"][0::2]
            this_rps = totals[name, "this"][0::2]
            base_cpu = totals[name, "baseline"][1::2]
            this_cpu = totals[name, "this"][1::2]
            b_rps, t_rps = sum(base_rps) / rounds, sum(this_rps) / rounds
            b_cpu, t_cpu = sum(base_cpu) / rounds, sum(this_cpu) / rounds
            print(
                f"| {name} | {b_rps:,.0f} | {t_rps:,.0f} | {t_rps / b_rps:.2f} | "
                f"{b_cpu:.3f} | {t_cpu:.3f} | {t_cpu / b_cpu:.2f} |"
            )
    print(
        "\n- One Python load client (one channel per stack, 16 workers) shares the 2 cores with "
        "both stacks and PostgreSQL; the idle stack costs little while the other is measured."
        f"\n- {machine_note()}"
    )


async def main(seconds: float) -> None:
    async with seeded_stack() as seeded:
        auth_channel, auth, email, token = (
            seeded.auth_channel,
            seeded.auth,
            seeded.email,
            seeded.token,
        )
        get_task, list_tasks = seeded.get_task, seeded.list_tasks
        print(f"### Tasks service over gRPC (PostgreSQL), {seconds:.0f} s per row\n")
        print(HEADER)
        get_p50_c1 = 0.0
        for name, call in (("GetTask", get_task), ("ListTasks(50)", list_tasks)):
            for concurrency in (1, 16, 64):
                result = await run_load(name, call, concurrency=concurrency, seconds=seconds)
                if name == "GetTask" and concurrency == 1:
                    get_p50_c1 = result.percentile(50)
                print(result.row(), flush=True)

        full, cached, full_median_us = await measure_verification(auth_channel, token)
        print("\n### Token verification (in-process TokenVerifier, EdDSA)\n")
        print(f"- full verification (header parse, Ed25519 signature, claims): {full}")
        print(f"- repeat of an already verified token (the interceptor's cache): {cached}")
        print(
            f"- share of a GetTask call at concurrency 1 (p50 {get_p50_c1:.2f} ms) if every call "
            f"verified in full: {full_median_us / 10 / get_p50_c1:.1f} %"
        )

        print("\n### SignIn (argon2id, m=19 MiB, t=2, p=1)\n")
        print(HEADER)

        async def sign_in(_: int) -> object:
            return await auth.SignIn(
                auth_pb.SignInRequest(email=email, password=PASSWORD), timeout=10
            )

        for concurrency in (1, 4):
            print(
                (
                    await run_load("SignIn", sign_in, concurrency=concurrency, seconds=seconds / 2)
                ).row(),
                flush=True,
            )
    print(
        f"\nMachine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline", default=None, help="a checkout to compare with, e.g. main")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (--baseline)")
    arguments = parser.parse_args()
    if arguments.baseline:
        asyncio.run(compare(arguments.baseline, arguments.seconds, arguments.rounds))
    else:
        asyncio.run(main(arguments.seconds))
