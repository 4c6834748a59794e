"""Undo: deletes are soft (a deleted task behaves exactly like a missing one), every mutation
answers an undo token, UndoChange reverts it exactly once within the window (also under
concurrent undos), and expired, foreign, garbage and conflicting tokens are refused clearly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select, update
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.db import Database
from todo_tasks.models import TaskRow, UndoRecordRow
from todo_tasks.undo import purge_expired
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TaskCaller, TasksServiceHandle, stamp

NOT_FOUND = grpc.StatusCode.NOT_FOUND
FAILED = grpc.StatusCode.FAILED_PRECONDITION
MONDAY = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
async def database(tasks_service: TasksServiceHandle) -> AsyncIterator[Database]:
    """The tasks service's own database, to look at rows and age records."""
    target = tasks_service.database
    db = Database.from_url(target.url, target.schema, pool_size=1)
    yield db
    await db.dispose()


async def undo(caller: TaskCaller, token: str) -> pb.UndoChangeResponse:
    response: pb.UndoChangeResponse = await caller.stub.UndoChange(
        pb.UndoChangeRequest(undo_token=token), metadata=caller.metadata, timeout=caller.timeout
    )
    return response


def undo_call(caller: TaskCaller, token: str):  # type: ignore[no-untyped-def]
    return caller.stub.UndoChange(
        pb.UndoChangeRequest(undo_token=token), metadata=caller.metadata, timeout=caller.timeout
    )


async def create(caller: TaskCaller, **fields: object) -> pb.CreateTaskResponse:
    response: pb.CreateTaskResponse = await caller.stub.CreateTask(
        pb.CreateTaskRequest(task=pb.Task(**fields)), metadata=caller.metadata
    )
    return response


async def delete(caller: TaskCaller, task_id: str) -> str:
    response: pb.DeleteTaskResponse = await caller.stub.DeleteTask(
        pb.DeleteTaskRequest(id=task_id), metadata=caller.metadata
    )
    assert response.undo_token
    return response.undo_token


async def complete(caller: TaskCaller, task_id: str) -> pb.CompleteTaskResponse:
    response: pb.CompleteTaskResponse = await caller.stub.CompleteTask(
        pb.CompleteTaskRequest(id=task_id), metadata=caller.metadata
    )
    return response


async def rename(caller: TaskCaller, task_id: str, title: str) -> pb.UpdateTaskResponse:
    response: pb.UpdateTaskResponse = await caller.stub.UpdateTask(
        pb.UpdateTaskRequest(
            task=pb.Task(id=task_id, title=title), update_mask=FieldMask(paths=["title"])
        ),
        metadata=caller.metadata,
    )
    return response


def content(task: pb.Task) -> tuple[object, ...]:
    """What a person sees of a task (not its etag or update time)."""
    return (
        task.id,
        task.title,
        task.notes,
        task.state,
        task.priority,
        task.due_time.ToDatetime() if task.HasField("due_time") else None,
        list(task.tags),
        task.complete_time.ToDatetime() if task.HasField("complete_time") else None,
        task.recurrence,
        task.previous_occurrence_id,
    )


async def test_a_deleted_task_behaves_exactly_like_a_missing_one(new_task_caller):
    alice = await new_task_caller()
    kept = await alice.create(title="kept", tags=["home"])
    gone = (await create(alice, title="gone", tags=["home"])).task
    await delete(alice, gone.id)

    for call in (
        alice.stub.GetTask(pb.GetTaskRequest(id=gone.id), metadata=alice.metadata),
        alice.stub.DeleteTask(pb.DeleteTaskRequest(id=gone.id), metadata=alice.metadata),
        alice.stub.CompleteTask(pb.CompleteTaskRequest(id=gone.id), metadata=alice.metadata),
        alice.stub.ReopenTask(pb.ReopenTaskRequest(id=gone.id), metadata=alice.metadata),
        alice.stub.UpdateTask(
            pb.UpdateTaskRequest(
                task=pb.Task(id=gone.id, title="x"), update_mask=FieldMask(paths=["title"])
            ),
            metadata=alice.metadata,
        ),
    ):
        info = await expect_rpc_error(call, NOT_FOUND)
        assert info.reason == "TASK_NOT_FOUND"
    assert [task.id for task in await alice.list_all()] == [kept.id]
    assert [task.id for task in await alice.list_all(tag="home")] == [kept.id]
    assert [task.id for task in await alice.list_all(query="gone")] == []

    purged: pb.PurgeTasksResponse = await alice.stub.PurgeTasks(
        pb.PurgeTasksRequest(), metadata=alice.metadata
    )
    assert purged.purge_count == 1  # the deleted one was already gone for alice


async def test_undoing_a_delete_restores_the_task_as_it_was(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create_filled("Buy milk", MONDAY)
    token = await delete(alice, task.id)

    restored = await undo(alice, token)

    assert [content(t) for t in restored.tasks] == [content(task)]
    assert restored.tasks[0].etag != task.etag
    assert content(await alice.get(task.id)) == content(task)
    assert [t.id for t in await alice.list_all(tag="errands")] == [task.id]
    # It can be deleted (and undone) again like any task.
    await undo(alice, await delete(alice, task.id))
    assert (await alice.get(task.id)).title == "Buy milk"


async def test_undoing_a_create_deletes_the_task(new_task_caller):
    alice = await new_task_caller()
    created = await create(alice, title="oops")
    assert created.undo_token

    assert list((await undo(alice, created.undo_token)).tasks) == []
    await expect_rpc_error(
        alice.stub.GetTask(pb.GetTaskRequest(id=created.task.id), metadata=alice.metadata),
        NOT_FOUND,
    )


async def test_undoing_an_update_puts_every_field_back(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Draft", notes="v1", tags=["a"], due_time=stamp(MONDAY))
    changed: pb.UpdateTaskResponse = await alice.stub.UpdateTask(
        pb.UpdateTaskRequest(
            task=pb.Task(id=task.id, title="Final", notes="v2", tags=["b", "c"]),
            update_mask=FieldMask(paths=["title", "notes", "tags", "due_time"]),
        ),
        metadata=alice.metadata,
    )
    assert changed.undo_token and changed.task.title == "Final"

    (restored,) = (await undo(alice, changed.undo_token)).tasks

    assert content(restored) == content(task)
    assert [t.id for t in await alice.list_all(tag="a")] == [task.id]
    assert await alice.list_all(tag="b") == []


async def test_an_update_that_changes_nothing_has_no_undo_token(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Same")
    assert (await rename(alice, task.id, "Same")).undo_token == ""


async def test_undoing_a_complete_and_a_reopen(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Call mum")
    done = await complete(alice, task.id)
    assert done.undo_token and done.task.state == pb.TASK_STATE_COMPLETED
    # Completing a completed task changes nothing, so there is nothing to undo.
    assert (await complete(alice, task.id)).undo_token == ""

    (reopened,) = (await undo(alice, done.undo_token)).tasks
    assert reopened.state == pb.TASK_STATE_OPEN
    assert not reopened.HasField("complete_time")

    done = await complete(alice, task.id)
    again: pb.ReopenTaskResponse = await alice.stub.ReopenTask(
        pb.ReopenTaskRequest(id=task.id), metadata=alice.metadata
    )
    (completed,) = (await undo(alice, again.undo_token)).tasks
    assert completed.state == pb.TASK_STATE_COMPLETED
    assert completed.complete_time == done.task.complete_time


async def test_undoing_a_recurring_complete_removes_the_next_occurrence(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(
        title="Team sync", due_time=stamp(MONDAY), recurrence="FREQ=WEEKLY;BYDAY=MO"
    )
    done = await complete(alice, task.id)
    following = done.next_task
    assert following.id

    (reopened,) = (await undo(alice, done.undo_token)).tasks

    assert reopened.id == task.id and reopened.state == pb.TASK_STATE_OPEN
    assert [t.id for t in await alice.list_all()] == [task.id]
    await expect_rpc_error(
        alice.stub.GetTask(pb.GetTaskRequest(id=following.id), metadata=alice.metadata),
        NOT_FOUND,
    )
    # Completing it again makes a new next occurrence (the removed one gave up its place).
    again = await complete(alice, task.id)
    assert again.next_task.id and again.next_task.id != following.id
    assert again.next_task.due_time == following.due_time


async def test_undoing_a_delete_of_a_next_occurrence_puts_it_back_in_its_series(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(
        title="Team sync", due_time=stamp(MONDAY), recurrence="FREQ=WEEKLY;BYDAY=MO"
    )
    following = (await complete(alice, task.id)).next_task
    (restored,) = (await undo(alice, await delete(alice, following.id))).tasks
    assert restored.previous_occurrence_id == task.id
    # The completed occurrence still answers with it, rather than making another one.
    assert (await complete(alice, task.id)).next_task.id == following.id


async def test_a_token_undoes_exactly_once_under_concurrent_undos(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Once")
    token = await delete(alice, task.id)

    results = await asyncio.gather(
        *(undo_call(alice, token) for _ in range(6)), return_exceptions=True
    )

    wins = [r for r in results if isinstance(r, pb.UndoChangeResponse)]
    losses = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(wins) == 1 and len(losses) == 5, results
    assert {error.code() for error in losses} == {FAILED}
    info = await expect_rpc_error(undo_call(alice, token), FAILED)
    assert info.reason == "ALREADY_UNDONE"
    assert [t.id for t in await alice.list_all()] == [task.id]


async def test_an_expired_token_is_refused_with_a_clear_message(new_task_caller, database):
    alice = await new_task_caller()
    created = await create(alice, title="Old")
    task = created.task
    token = await delete(alice, task.id)
    async with database.session() as session:
        await session.execute(
            update(UndoRecordRow)
            .where(UndoRecordRow.token.in_([token, created.undo_token]))
            .values(expire_time=datetime.now(UTC) - timedelta(seconds=1))
        )

    info = await expect_rpc_error(undo_call(alice, token), FAILED)

    assert info.reason == "UNDO_EXPIRED"
    assert "10 minutes" in info.message
    await expect_rpc_error(
        alice.stub.GetTask(pb.GetTaskRequest(id=task.id), metadata=alice.metadata), NOT_FOUND
    )
    # An empty token skips what has expired.
    info = await expect_rpc_error(undo_call(alice, ""), NOT_FOUND)
    assert info.reason == "NOTHING_TO_UNDO"


async def test_another_users_token_and_garbage_are_not_found(new_task_caller):
    alice, bob = await new_task_caller(), await new_task_caller()
    task = await alice.create(title="Alice's")
    token = await delete(alice, task.id)

    missing = await expect_rpc_error(undo_call(bob, "A" * 22), NOT_FOUND)
    for garbage in (token, "not a token!", "x" * 500, "é"):
        info = await expect_rpc_error(undo_call(bob, garbage), NOT_FOUND)
        assert (info.reason, info.message) == (missing.reason, missing.message)
    # Bob's "undo that" does not reach Alice's change either.
    info = await expect_rpc_error(undo_call(bob, ""), NOT_FOUND)
    assert info.reason == "NOTHING_TO_UNDO"
    # Alice's token still works for her.
    assert [t.id for t in (await undo(alice, token)).tasks] == [task.id]


async def test_an_empty_token_undoes_the_most_recent_change_first(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="v1")
    await rename(alice, task.id, "v2")
    await rename(alice, task.id, "v3")

    assert (await undo(alice, "")).tasks[0].title == "v2"
    assert (await undo(alice, "")).tasks[0].title == "v1"
    assert list((await undo(alice, "")).tasks) == []  # the create
    info = await expect_rpc_error(undo_call(alice, ""), NOT_FOUND)
    assert info.reason == "NOTHING_TO_UNDO"


async def test_undoing_a_change_that_a_later_change_overwrote_is_refused(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="v1")
    first = await rename(alice, task.id, "v2")
    second = await rename(alice, task.id, "v3")

    info = await expect_rpc_error(undo_call(alice, first.undo_token), FAILED)

    assert info.reason == "UNDO_CONFLICT"
    assert (await alice.get(task.id)).title == "v3"
    await undo(alice, second.undo_token)
    # Once the later change is undone, the earlier one can be too.
    assert (await undo(alice, first.undo_token)).tasks[0].title == "v1"


async def test_undo_is_in_the_change_feed(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Watched")
    await undo(alice, await delete(alice, task.id))

    call = alice.stub.WatchTaskEvents(
        pb.WatchTaskEventsRequest(cursor="0"), metadata=alice.metadata, timeout=30
    )
    try:
        events: list[pb.TaskEvent] = []
        while len(events) < 3:
            response = await asyncio.wait_for(call.read(), 10)
            events.extend(response.events)
    finally:
        call.cancel()
    assert [event.kind for event in events] == [
        pb.TASK_EVENT_KIND_CREATED,
        pb.TASK_EVENT_KIND_DELETED,
        pb.TASK_EVENT_KIND_CREATED,
    ]
    assert events[2].task.title == "Watched"


async def test_the_purge_drops_deleted_tasks_once_the_window_has_passed(new_task_caller, database):
    alice = await new_task_caller()
    task = await alice.create(title="Purged", tags=["x"])
    token = await delete(alice, task.id)
    window = timedelta(minutes=10)

    # Within the window nothing goes.
    await purge_expired(database, window, datetime.now(UTC))
    async with database.read_session() as session:
        count = select(func.count()).select_from(TaskRow).where(TaskRow.id == task.id)
        assert (await session.execute(count)).scalar() == 1

    await purge_expired(database, window, datetime.now(UTC) + window + timedelta(seconds=1))

    async with database.read_session() as session:
        assert (await session.execute(count)).scalar() == 0
    info = await expect_rpc_error(undo_call(alice, token), FAILED)
    assert info.reason == "UNDO_EXPIRED"
