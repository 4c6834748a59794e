"""Issue 2 benchmark: the tasks service over a real channel with the auth interceptor on, on
PostgreSQL (GetTask and ListTasks(50) at concurrency 1, 16, 64), and the auth service (SignIn
latency, token verification cost per call).

    uv run python -m bench.backends_grpc [--seconds 10]

Prints Markdown for bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import time
import uuid
from collections.abc import Awaitable, Callable

import grpc
from todo.auth.v1 import auth_service_pb2 as auth_pb
from todo.auth.v1 import auth_service_pb2_grpc as auth_grpc
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc
from todo_common.settings import TokenSettings
from todo_common.tokens import TokenVerifier, grpc_jwks_fetcher

from bench.load import HEADER, run_load, summarise
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


async def main(seconds: float) -> None:
    async with backend_stack("auth", "tasks") as stack:
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
        await auth_channel.close()
        await tasks_channel.close()
    print(
        f"\nMachine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args().seconds))
