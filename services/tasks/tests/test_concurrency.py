"""Concurrent writers: etags make exactly one of several conflicting writes win."""

from __future__ import annotations

import asyncio

import grpc
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.errors import parse_rpc_error


async def test_only_one_of_many_writes_with_the_same_etag_wins(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="contended")
    results = await asyncio.gather(
        *(
            alice.update(pb.Task(id=task.id, title=f"writer {i}", etag=task.etag), "title")
            for i in range(8)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, pb.Task)]
    losers = [parse_rpc_error(r) for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(winners) == 1, results
    assert len(losers) == 7
    assert {(e.code, e.reason) for e in losers} == {(grpc.StatusCode.ABORTED, "ETAG_MISMATCH")}
    assert await alice.get(task.id) == winners[0]


async def test_writes_without_etag_all_apply(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="counter")
    done = await asyncio.gather(
        alice.update(pb.Task(id=task.id, notes="n"), "notes"),
        alice.update(pb.Task(id=task.id, priority=pb.TASK_PRIORITY_HIGH), "priority"),
        alice.update(pb.Task(id=task.id, tags=["x"]), "tags"),
        alice.complete(task.id),
    )
    assert all(isinstance(t, pb.Task) for t in done)
    final = await alice.get(task.id)
    assert (final.notes, final.priority, list(final.tags), final.state) == (
        "n",
        pb.TASK_PRIORITY_HIGH,
        ["x"],
        pb.TASK_STATE_COMPLETED,
    )


async def test_many_concurrent_writes_without_etag_queue_instead_of_failing(new_task_caller):
    """Without an etag the caller asked for no conflict check: every write must apply, however
    many arrive at once (PostgreSQL queues them on the row lock)."""
    alice = await new_task_caller()
    task = await alice.create(title="busy")
    notes = [f"note {i}" for i in range(12)]
    done = await asyncio.gather(
        *(alice.update(pb.Task(id=task.id, notes=n), "notes") for n in notes)
    )
    assert sorted(t.notes for t in done) == sorted(notes)
    assert (await alice.get(task.id)).notes in notes
