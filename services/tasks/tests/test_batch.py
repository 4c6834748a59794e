"""Bulk changes: BatchUpdateTasks, BatchDeleteTasks and BatchCompleteTasks are all-or-nothing
(a missing or another user's id changes nothing), idempotent by request_id, emit one change
event per task and complete repeating tasks through the single-task path (each next
occurrence exactly once); bad input is INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TaskCaller, stamp

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
MISSING_ID = "0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10"
# A bound on a hang (the test fails), not a latency claim.
WAIT_SECONDS = 10.0


async def batch_update(caller: TaskCaller, **fields: object) -> pb.BatchUpdateTasksResponse:
    response: pb.BatchUpdateTasksResponse = await caller.stub.BatchUpdateTasks(
        pb.BatchUpdateTasksRequest(**fields), metadata=caller.metadata, timeout=caller.timeout
    )
    return response


async def batch_delete(caller: TaskCaller, ids: list[str], request_id: str = "") -> list[pb.Task]:
    response: pb.BatchDeleteTasksResponse = await caller.stub.BatchDeleteTasks(
        pb.BatchDeleteTasksRequest(ids=ids, request_id=request_id),
        metadata=caller.metadata,
        timeout=caller.timeout,
    )
    return list(response.tasks)


async def batch_complete(
    caller: TaskCaller, ids: list[str], request_id: str = ""
) -> pb.BatchCompleteTasksResponse:
    response: pb.BatchCompleteTasksResponse = await caller.stub.BatchCompleteTasks(
        pb.BatchCompleteTasksRequest(ids=ids, request_id=request_id),
        metadata=caller.metadata,
        timeout=caller.timeout,
    )
    return response


async def test_batch_update_reschedules_retags_and_reprioritises_in_request_order(
    new_task_caller,
):
    alice = await new_task_caller()
    one = await alice.create("one", tags=["home", "old"])
    two = await alice.create("two", tags=["work"])
    due = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    changed = await batch_update(
        alice,
        ids=[two.id, one.id],
        update_mask=FieldMask(paths=["due_time", "priority"]),
        due_time=stamp(due),
        priority=pb.TASK_PRIORITY_HIGH,
        add_tags=["#Urgent", "home"],
        remove_tags=["old"],
    )

    assert [task.id for task in changed.tasks] == [two.id, one.id]
    assert [list(task.tags) for task in changed.tasks] == [
        ["work", "urgent", "home"],
        ["home", "urgent"],
    ]
    for task in changed.tasks:
        assert task.due_time.ToDatetime(tzinfo=UTC) == due
        assert task.priority == pb.TASK_PRIORITY_HIGH
        assert await alice.get(task.id) == task
    # The tag filter sees the new tags (the tag rows were rewritten too).
    assert {t.id for t in await alice.list_all(tag="urgent")} == {one.id, two.id}
    assert await alice.list_all(tag="old") == []


async def test_batch_update_can_clear_due_times_and_changes_nothing_that_is_already_so(
    new_task_caller,
):
    alice = await new_task_caller()
    due = stamp(datetime(2027, 3, 1, tzinfo=UTC))
    dated = await alice.create("dated", due_time=due)
    undated = await alice.create("undated")

    cleared = await batch_update(
        alice, ids=[dated.id, undated.id], update_mask=FieldMask(paths=["due_time"])
    )

    assert not cleared.tasks[0].HasField("due_time")
    # Already without a due time: the same version, the same etag.
    assert cleared.tasks[1].etag == undated.etag


async def test_a_missing_or_foreign_id_fails_the_whole_batch_and_changes_nothing(
    new_task_caller,
):
    alice, bob = await new_task_caller(), await new_task_caller()
    mine = await alice.create_numbered(3)
    theirs = await bob.create("bob's")
    ids = [task.id for task in mine]

    for stranger in (theirs.id, MISSING_ID, "not-an-id"):
        for call in (
            batch_complete(alice, [*ids, stranger]),
            batch_delete(alice, [*ids, stranger]),
            batch_update(
                alice,
                ids=[stranger, *ids],
                update_mask=FieldMask(paths=["priority"]),
                priority=pb.TASK_PRIORITY_LOW,
            ),
        ):
            info = await expect_rpc_error(call, NOT_FOUND)
            assert info.reason == "TASK_NOT_FOUND"

    assert [await alice.get(task.id) for task in mine] == mine
    assert await bob.get(theirs.id) == theirs


async def test_batch_delete_returns_the_tasks_as_they_were_and_deletes_them(new_task_caller):
    alice = await new_task_caller()
    doomed = await alice.create_numbered(3)
    kept = await alice.create("kept")

    deleted = await batch_delete(alice, [task.id for task in doomed])

    assert deleted == doomed
    assert [task.id for task in await alice.list_all()] == [kept.id]


async def test_a_repeated_request_id_replays_the_first_response_and_changes_nothing_again(
    new_task_caller,
):
    alice = await new_task_caller()
    tasks = await alice.create_numbered(2)
    ids = [task.id for task in tasks]

    first = await batch_complete(alice, ids, request_id="confirm-1")
    # Someone reopens one in between: a repeat of the same call must not complete it again.
    await alice.reopen(ids[0])
    again = await batch_complete(alice, ids, request_id="confirm-1")
    assert again == first
    assert (await alice.get(ids[0])).state == pb.TASK_STATE_OPEN

    deleted = await batch_delete(alice, ids, request_id="delete-1")
    assert await batch_delete(alice, ids, request_id="delete-1") == deleted
    assert await alice.list_all() == []

    # The same id for a different payload (or another method) is refused.
    other = await alice.create("other")
    info = await expect_rpc_error(
        batch_complete(alice, [other.id], request_id="confirm-1"), grpc.StatusCode.ALREADY_EXISTS
    )
    assert info.reason == "REQUEST_ID_REUSED"
    info = await expect_rpc_error(
        batch_delete(alice, [other.id], request_id="confirm-1"), grpc.StatusCode.ALREADY_EXISTS
    )
    assert (await alice.get(other.id)).state == pb.TASK_STATE_OPEN


async def test_concurrent_repeats_of_one_request_id_change_the_tasks_once(new_task_caller):
    alice = await new_task_caller()
    tasks = await alice.create_numbered(5)
    ids = [task.id for task in tasks]
    request = {"ids": ids, "update_mask": FieldMask(paths=["priority"])}

    answers = await asyncio.gather(
        *(
            batch_update(alice, **request, priority=pb.TASK_PRIORITY_LOW, request_id="same")
            for _ in range(4)
        )
    )

    assert all(answer == answers[0] for answer in answers)
    # One write per task: version 2, whatever the number of repeats.
    assert [(await alice.get(task_id)).etag for task_id in ids] == [
        task.etag for task in answers[0].tasks
    ]


async def test_a_request_id_is_per_user(new_task_caller):
    alice, bob = await new_task_caller(), await new_task_caller()
    a = await alice.create("a")
    b = await bob.create("b")
    await batch_complete(alice, [a.id], request_id="shared")
    done = await batch_complete(bob, [b.id], request_id="shared")
    assert [task.id for task in done.tasks] == [b.id]


async def test_batch_complete_creates_each_next_occurrence_exactly_once(new_task_caller):
    alice = await new_task_caller()
    monday = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # in the future: the next is a week on
    weekly = await alice.create("sync", due_time=stamp(monday), recurrence="FREQ=WEEKLY")
    daily = await alice.create("water", due_time=stamp(monday), recurrence="FREQ=DAILY")
    plain = await alice.create("once")
    ids = [weekly.id, daily.id, plain.id]

    results = await asyncio.gather(*(batch_complete(alice, ids) for _ in range(3)))

    first = results[0]
    assert [task.state for task in first.tasks] == [pb.TASK_STATE_COMPLETED] * 3
    assert [task.previous_occurrence_id for task in first.next_tasks] == [weekly.id, daily.id]
    assert [task.due_time.ToDatetime(tzinfo=UTC) for task in first.next_tasks] == [
        monday + timedelta(weeks=1),
        monday + timedelta(days=1),
    ]
    # Concurrent batches and the single-task RPC all find the same occurrences.
    for result in results[1:]:
        assert [t.id for t in result.next_tasks] == [t.id for t in first.next_tasks]
    single = await alice.stub.CompleteTask(
        pb.CompleteTaskRequest(id=weekly.id), metadata=alice.metadata, timeout=alice.timeout
    )
    assert single.next_task.id == first.next_tasks[0].id
    open_now = await alice.list_all(state=pb.TASK_STATE_OPEN)
    assert sorted(t.id for t in open_now) == sorted(t.id for t in first.next_tasks)


async def test_each_changed_task_is_one_event_in_the_feed(new_task_caller):
    alice = await new_task_caller()
    repeating = await alice.create(
        "sync", due_time=stamp(datetime.now(UTC) + timedelta(days=1)), recurrence="FREQ=WEEKLY"
    )
    plain = await alice.create("once")
    call = alice.stub.WatchTaskEvents(
        pb.WatchTaskEventsRequest(), metadata=alice.metadata, timeout=60
    )
    try:
        await asyncio.wait_for(call.read(), WAIT_SECONDS)  # where the stream starts
        done = await batch_complete(alice, [repeating.id, plain.id])
        await batch_delete(alice, [plain.id])
        events: list[pb.TaskEvent] = []
        while len(events) < 4:
            events.extend((await asyncio.wait_for(call.read(), WAIT_SECONDS)).events)
    finally:
        call.cancel()

    assert sorted((event.kind, event.task_id) for event in events[:3]) == sorted(
        [
            (pb.TASK_EVENT_KIND_COMPLETED, repeating.id),
            (pb.TASK_EVENT_KIND_CREATED, done.next_tasks[0].id),
            (pb.TASK_EVENT_KIND_COMPLETED, plain.id),
        ]
    )
    assert [(e.kind, e.task_id) for e in events[3:]] == [(pb.TASK_EVENT_KIND_DELETED, plain.id)]


async def test_bad_batches_are_invalid_argument_naming_the_field(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create("a", tags=[f"t{n}" for n in range(20)])
    priority = FieldMask(paths=["priority"])
    cases: list[tuple[object, str]] = [
        (batch_complete(alice, []), "ids"),
        (batch_delete(alice, [task.id] * 2), "ids[1]"),
        (batch_complete(alice, [MISSING_ID[:-2] + f"{n:02x}" for n in range(101)]), "ids"),
        (batch_complete(alice, [task.id, ""]), "ids[1]"),
        (batch_complete(alice, [task.id], request_id="x" * 129), "request_id"),
        (batch_update(alice, ids=[task.id]), "update_mask"),
        (batch_update(alice, ids=[task.id], update_mask=FieldMask(paths=["title"])), "update_mask"),
        (batch_update(alice, ids=[task.id], update_mask=priority), "priority"),
        (batch_update(alice, ids=[task.id], update_mask=priority, priority=9), "priority"),
        (batch_update(alice, ids=[task.id], add_tags=["no spaces"]), "add_tags[0]"),
        (batch_update(alice, ids=[task.id], add_tags=["a"], remove_tags=["A"]), "remove_tags"),
        (batch_update(alice, ids=[task.id], add_tags=["one-more"]), "add_tags"),
        (
            batch_update(
                alice,
                ids=[task.id],
                update_mask=FieldMask(paths=["due_time"]),
                due_time=Timestamp(seconds=5_000_000_000),
            ),
            "due_time",
        ),
    ]
    for call, field in cases:
        info = await expect_rpc_error(call, INVALID)  # type: ignore[arg-type]
        assert field in [v.field for v in info.field_violations], (field, info.message)
    assert await alice.get(task.id) == task


async def test_account_deletion_forgets_the_batch_request_ids(new_task_caller):
    alice = await new_task_caller()
    first = await alice.create("first")
    await batch_complete(alice, [first.id], request_id="r1")
    await alice.stub.PurgeTasks(
        pb.PurgeTasksRequest(), metadata=alice.metadata, timeout=alice.timeout
    )
    # Nothing of the purged account's batches is kept: the id starts afresh.
    second = await alice.create("second")
    done = await batch_complete(alice, [second.id], request_id="r1")
    assert [task.id for task in done.tasks] == [second.id]


async def test_one_undo_token_reverts_a_whole_batch(new_task_caller):
    alice = await new_task_caller()
    first, second = await alice.create_numbered(2)
    weekly = await alice.create(
        title="weekly",
        due_time=stamp(datetime(2027, 3, 1, 9, tzinfo=UTC)),
        recurrence="FREQ=WEEKLY",
    )
    done = await batch_complete(alice, [first.id, second.id, weekly.id])
    assert done.undo_token and len(done.next_tasks) == 1

    undone: pb.UndoChangeResponse = await alice.stub.UndoChange(
        pb.UndoChangeRequest(undo_token=done.undo_token),
        metadata=alice.metadata,
        timeout=alice.timeout,
    )
    assert sorted(t.id for t in undone.tasks) == sorted([first.id, second.id, weekly.id])
    tasks = await alice.list_all()
    # Every task open again, and the next occurrence the batch made is gone.
    assert sorted(t.id for t in tasks) == sorted([first.id, second.id, weekly.id])
    assert {t.state for t in tasks} == {pb.TASK_STATE_OPEN}

    deleted = await alice.stub.BatchDeleteTasks(
        pb.BatchDeleteTasksRequest(ids=[first.id, second.id]),
        metadata=alice.metadata,
        timeout=alice.timeout,
    )
    await alice.stub.UndoChange(
        pb.UndoChangeRequest(undo_token=deleted.undo_token),
        metadata=alice.metadata,
        timeout=alice.timeout,
    )
    assert len(await alice.list_all()) == 3
