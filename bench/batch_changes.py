"""Issue 15 item 4 benchmark: one batch call against the same change made task by task, on the
real tasks process over PostgreSQL (BatchCompleteTasks / BatchUpdateTasks of N tasks against N
CompleteTask / UpdateTask calls one after another, as a client without batches would).

    uv run python -m bench.batch_changes [--rounds 5]

Prints Markdown for bench/README.md: the median wall time of each way, per N.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from todo.auth.v1 import auth_service_pb2 as auth_pb
from todo.auth.v1 import auth_service_pb2_grpc as auth_grpc
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc

from bench.load import machine_note
from bench.stack import backend_stack

PASSWORD = "benchmark password 1"
SIZES = (10, 100)


async def timed(run: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await run()
    return (time.perf_counter() - started) * 1000


async def main(rounds: int) -> None:
    async with backend_stack("auth", "tasks") as stack:
        auth = auth_grpc.AuthServiceStub(grpc.aio.insecure_channel(stack["auth"].address))
        tasks = tasks_grpc.TaskServiceStub(grpc.aio.insecure_channel(stack["tasks"].address))
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        signed_up = await auth.SignUp(
            auth_pb.SignUpRequest(email=email, password=PASSWORD), timeout=10
        )
        metadata = (("authorization", f"Bearer {signed_up.tokens.access_token}"),)

        async def fresh(count: int) -> list[str]:
            ids = []
            for n in range(count):
                reply = await tasks.CreateTask(
                    tasks_pb.CreateTaskRequest(task=tasks_pb.Task(title=f"bench {n}")),
                    metadata=metadata,
                    timeout=10,
                )
                ids.append(reply.task.id)
            return ids

        priority = FieldMask(paths=["priority"])
        rows = []
        for count in SIZES:
            samples: dict[str, list[float]] = {key: [] for key in ("bc", "sc", "bu", "su")}
            for _ in range(rounds):
                ids = await fresh(count)

                async def batch_complete(ids: list[str] = ids) -> None:
                    await tasks.BatchCompleteTasks(
                        tasks_pb.BatchCompleteTasksRequest(ids=ids), metadata=metadata, timeout=30
                    )

                samples["bc"].append(await timed(batch_complete))
                ids = await fresh(count)

                async def one_by_one(ids: list[str] = ids) -> None:
                    for task_id in ids:
                        await tasks.CompleteTask(
                            tasks_pb.CompleteTaskRequest(id=task_id), metadata=metadata, timeout=10
                        )

                samples["sc"].append(await timed(one_by_one))

                async def batch_update(ids: list[str] = ids) -> None:
                    await tasks.BatchUpdateTasks(
                        tasks_pb.BatchUpdateTasksRequest(
                            ids=ids, update_mask=priority, priority=tasks_pb.TASK_PRIORITY_HIGH
                        ),
                        metadata=metadata,
                        timeout=30,
                    )

                samples["bu"].append(await timed(batch_update))

                async def update_each(ids: list[str] = ids) -> None:
                    for task_id in ids:
                        await tasks.UpdateTask(
                            tasks_pb.UpdateTaskRequest(
                                task=tasks_pb.Task(id=task_id, priority=tasks_pb.TASK_PRIORITY_LOW),
                                update_mask=priority,
                            ),
                            metadata=metadata,
                            timeout=10,
                        )

                samples["su"].append(await timed(update_each))
            median = {key: statistics.median(values) for key, values in samples.items()}
            rows.append(
                f"| {count} | {median['bc']:.1f} ms | {median['sc']:.1f} ms | "
                f"{median['bu']:.1f} ms | {median['su']:.1f} ms |"
            )
    print(machine_note())
    print(f"Median of {rounds} rounds, each on fresh tasks.\n")
    print(
        "| tasks | BatchCompleteTasks | CompleteTask x N | BatchUpdateTasks (priority) "
        "| UpdateTask x N |"
    )
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
