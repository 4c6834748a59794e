"""Faults a user would notice: oversized messages, and the database going away and coming back."""

from __future__ import annotations

import grpc
from todo_testkit import databases
from todo_testkit.postgres_server import throwaway_postgres
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TaskCaller, running_tasks_service


async def test_oversized_message_is_refused_and_the_service_keeps_serving(new_task_caller):
    alice = await new_task_caller()
    error = await expect_rpc_error(
        alice.create(title="huge", notes="n" * (2 * 1024 * 1024)),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    assert "larger than max" in error.message.lower() or "message" in error.message.lower()
    # Same connection, next call: still serving, and nothing was stored.
    assert await alice.list_all() == []
    task = await alice.create(title="normal")
    assert [t.id for t in await alice.list_all()] == [task.id]


async def test_database_outage_is_unavailable_then_recovers_by_itself(
    auth_service, sign_up, tmp_path
):
    async with throwaway_postgres() as postgres:
        database = databases.IsolatedDatabase(url=postgres.url, schema="tasks")
        async with running_tasks_service(tmp_path, auth_service, database=database) as tasks:
            alice = TaskCaller(user=await sign_up(), stub=tasks.stub, timeout=15)
            task = await alice.create(title="before the outage")

            await postgres.stop()
            for call in (
                alice.get(task.id),
                alice.list_tasks(),
                alice.create(title="during the outage"),
                alice.complete(task.id),
            ):
                # The deadline bounds the wait: the call must fail, not hang.
                error = await expect_rpc_error(call, grpc.StatusCode.UNAVAILABLE)
                assert error.reason == "DATABASE_UNAVAILABLE"
                assert "database" in error.message.lower()

            await postgres.start()
            # No restart of the tasks service: it reconnects on its own.
            assert await alice.get(task.id) == task
            after = await alice.create(title="after the outage")
            assert [t.id for t in await alice.list_all()] == [task.id, after.id]
