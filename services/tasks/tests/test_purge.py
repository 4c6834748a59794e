"""PurgeTasks (account deletion): every task of the caller goes, nobody else's, and a retry
purges nothing more."""

from __future__ import annotations

from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.tasks import NewTaskCaller


async def test_purge_deletes_only_the_callers_tasks_and_is_safe_to_retry(
    new_task_caller: NewTaskCaller,
) -> None:
    alice = await new_task_caller()
    bob = await new_task_caller()
    for n in range(3):
        await alice.create(title=f"alice {n}", tags=["home"], request_id=f"req-{n}")
    bobs = await bob.create(title="bob's", tags=["home"])

    purged = await alice.stub.PurgeTasks(pb.PurgeTasksRequest(), metadata=alice.metadata, timeout=5)
    assert purged.purge_count == 3
    assert await alice.list_all() == []
    again = await alice.stub.PurgeTasks(pb.PurgeTasksRequest(), metadata=alice.metadata, timeout=5)
    assert again.purge_count == 0
    assert [t.id for t in await bob.list_all()] == [bobs.id]
    # The idempotency records went too: the same request id creates a new task now.
    fresh = await alice.create(title="alice 0", tags=["home"], request_id="req-0")
    assert [t.id for t in await alice.list_all()] == [fresh.id]
