"""Every TaskService RPC's happy path and its errors, through a real server and channel."""

from __future__ import annotations

import time

import grpc
from google.protobuf import timestamp_pb2
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.rpc_errors import expect_rpc_error

NOT_FOUND = grpc.StatusCode.NOT_FOUND
INVALID = grpc.StatusCode.INVALID_ARGUMENT
ABORTED = grpc.StatusCode.ABORTED


def ts(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


async def test_create_returns_the_normalised_task(new_task_caller):
    alice = await new_task_caller()
    before = int(time.time()) - 1
    task = await alice.create(
        title="  Buy milk  ",
        notes="2 litres",
        priority=pb.TASK_PRIORITY_HIGH,
        due_time=ts(1_900_000_000, 123_456_789),
        tags=["#Groceries", "groceries", "Home", " urgent_1 "],
        # Output-only fields are ignored on create.
        id="ignored",
        state=pb.TASK_STATE_COMPLETED,
        etag="ignored",
    )
    assert task.id and task.id != "ignored"
    assert task.title == "Buy milk"
    assert task.notes == "2 litres"
    assert task.state == pb.TASK_STATE_OPEN
    assert task.priority == pb.TASK_PRIORITY_HIGH
    assert task.due_time == ts(1_900_000_000, 123_456_000)  # stored to the microsecond
    assert list(task.tags) == ["groceries", "home", "urgent_1"]
    assert task.create_time.seconds >= before
    assert task.update_time == task.create_time
    assert not task.HasField("complete_time")
    assert task.etag


async def test_create_defaults_priority_to_medium_and_no_due_time(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Plain")
    assert task.priority == pb.TASK_PRIORITY_MEDIUM
    assert not task.HasField("due_time")
    assert list(task.tags) == []
    assert task.notes == ""


async def test_get_returns_what_create_returned(new_task_caller):
    alice = await new_task_caller()
    created = await alice.create(title="Read", tags=["books"], due_time=ts(1_800_000_000))
    assert await alice.get(created.id) == created


async def test_get_missing_malformed_and_empty_ids(new_task_caller):
    alice = await new_task_caller()
    missing = await expect_rpc_error(alice.get("01a1ffcd-2089-7735-b456-ac27415da1b7"), NOT_FOUND)
    malformed = await expect_rpc_error(alice.get("not-an-id'; DROP TABLE tasks"), NOT_FOUND)
    # A malformed id answers exactly like a missing one.
    assert (malformed.message, malformed.reason) == (missing.message, missing.reason)
    assert missing.reason == "TASK_NOT_FOUND"
    empty = await expect_rpc_error(alice.get(""), INVALID)
    assert [v.field for v in empty.field_violations] == ["id"]


async def test_update_changes_only_masked_fields(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Old", notes="keep me", tags=["a"], due_time=ts(1_800_000_000))
    updated = await alice.update(
        pb.Task(id=task.id, title=" New ", notes="ignored: not in the mask", tags=["B", "#c"]),
        "title",
        "tags",
    )
    assert updated.title == "New"
    assert updated.notes == "keep me"
    assert list(updated.tags) == ["b", "c"]
    assert updated.due_time == task.due_time
    assert updated.etag != task.etag
    assert updated.create_time == task.create_time
    assert updated.update_time.ToDatetime() >= task.update_time.ToDatetime()
    assert await alice.get(task.id) == updated


async def test_update_clears_due_time_notes_and_tags(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="T", notes="n", tags=["x"], due_time=ts(1_800_000_000))
    updated = await alice.update(pb.Task(id=task.id), "due_time", "notes", "tags")
    assert not updated.HasField("due_time")
    assert updated.notes == ""
    assert list(updated.tags) == []


async def test_update_priority_and_due_time(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="T")
    updated = await alice.update(
        pb.Task(id=task.id, priority=pb.TASK_PRIORITY_LOW, due_time=ts(2_000_000_000)),
        "priority",
        "due_time",
    )
    assert updated.priority == pb.TASK_PRIORITY_LOW
    assert updated.due_time == ts(2_000_000_000)


async def test_update_that_changes_nothing_keeps_the_etag(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Same")
    again = await alice.update(pb.Task(id=task.id, title="Same", etag=task.etag), "title")
    assert again == task


async def test_update_with_current_etag_succeeds_and_stale_etag_is_aborted(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="v1")
    v2 = await alice.update(pb.Task(id=task.id, title="v2", etag=task.etag), "title")
    error = await expect_rpc_error(
        alice.update(pb.Task(id=task.id, title="v3", etag=task.etag), "title"), ABORTED
    )
    assert error.reason == "ETAG_MISMATCH"
    assert "etag" in error.message
    assert (await alice.get(task.id)).title == "v2"
    v3 = await alice.update(pb.Task(id=task.id, title="v3", etag=v2.etag), "title")
    assert v3.title == "v3"


async def test_update_mask_is_required_and_limited(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="T")
    empty = await expect_rpc_error(alice.update(pb.Task(id=task.id, title="x")), INVALID)
    assert [v.field for v in empty.field_violations] == ["update_mask"]
    for path in ("state", "complete_time", "id", "etag", "create_time", "owner", "nope", "*"):
        error = await expect_rpc_error(alice.update(pb.Task(id=task.id), path), INVALID)
        assert [v.field for v in error.field_violations] == ["update_mask"], path
        assert path in error.field_violations[0].description
    mixed = await expect_rpc_error(
        alice.update(pb.Task(id=task.id, title="x"), "title", "bogus"), INVALID
    )
    assert "bogus" in mixed.field_violations[0].description
    assert (await alice.get(task.id)) == task


async def test_update_missing_task_and_missing_id(new_task_caller):
    alice = await new_task_caller()
    await expect_rpc_error(
        alice.update(pb.Task(id="01a1ffcd-2089-7735-b456-ac27415da1b7", title="x"), "title"),
        NOT_FOUND,
    )
    error = await expect_rpc_error(alice.update(pb.Task(title="x"), "title"), INVALID)
    assert [v.field for v in error.field_violations] == ["task.id"]


async def test_complete_and_reopen(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Do it")
    done = await alice.complete(task.id)
    assert done.state == pb.TASK_STATE_COMPLETED
    assert done.HasField("complete_time")
    assert done.etag != task.etag
    # Completing a completed task is a no-op that returns it unchanged.
    assert await alice.complete(task.id) == done
    assert await alice.complete(task.id, etag=done.etag) == done
    reopened = await alice.reopen(task.id, etag=done.etag)
    assert reopened.state == pb.TASK_STATE_OPEN
    assert not reopened.HasField("complete_time")
    assert reopened.etag != done.etag
    assert await alice.reopen(task.id) == reopened
    assert await alice.get(task.id) == reopened


async def test_complete_and_reopen_with_stale_etag_are_aborted(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Do it")
    done = await alice.complete(task.id)
    error = await expect_rpc_error(alice.reopen(task.id, etag=task.etag), ABORTED)
    assert error.reason == "ETAG_MISMATCH"
    reopened = await alice.reopen(task.id, etag=done.etag)
    error = await expect_rpc_error(alice.complete(task.id, etag=done.etag), ABORTED)
    assert error.reason == "ETAG_MISMATCH"
    assert await alice.get(task.id) == reopened


async def test_complete_reopen_delete_missing_ids(new_task_caller):
    alice = await new_task_caller()
    missing = "01a1ffcd-2089-7735-b456-ac27415da1b7"
    for call in (alice.complete(missing), alice.reopen(missing), alice.delete(missing)):
        error = await expect_rpc_error(call, NOT_FOUND)
        assert error.reason == "TASK_NOT_FOUND"
    for call in (alice.complete(""), alice.reopen(""), alice.delete("")):
        error = await expect_rpc_error(call, INVALID)
        assert [v.field for v in error.field_violations] == ["id"]


async def test_delete(new_task_caller):
    alice = await new_task_caller()
    keep = await alice.create(title="Keep")
    task = await alice.create(title="Delete me", tags=["gone"])
    await alice.delete(task.id)
    await expect_rpc_error(alice.get(task.id), NOT_FOUND)
    await expect_rpc_error(alice.delete(task.id), NOT_FOUND)
    assert [t.id for t in await alice.list_all()] == [keep.id]
    assert await alice.list_all(tag="gone") == []


async def test_delete_with_etag(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="T")
    changed = await alice.update(pb.Task(id=task.id, title="T2"), "title")
    error = await expect_rpc_error(alice.delete(task.id, etag=task.etag), ABORTED)
    assert error.reason == "ETAG_MISMATCH"
    assert await alice.get(task.id) == changed
    await alice.delete(task.id, etag=changed.etag)
    await expect_rpc_error(alice.get(task.id), NOT_FOUND)
