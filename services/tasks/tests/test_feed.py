"""WatchTaskEvents: every committed change of the caller's tasks, in order, from every writer
(also another replica on the same database), resumable from a cursor, scoped to the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TaskCaller, running_tasks_service

# How long a test waits for an event before it fails (a bound on a hang, not a latency claim).
WAIT_SECONDS = 10.0


class Watch:
    """One open WatchTaskEvents stream and the cursor it started from."""

    def __init__(self, call: Any, start: pb.WatchTaskEventsResponse) -> None:
        self.call = call
        self.start_cursor = start.cursor

    async def next_response(self) -> pb.WatchTaskEventsResponse:
        response: pb.WatchTaskEventsResponse = await asyncio.wait_for(
            self.call.read(), WAIT_SECONDS
        )
        assert response is not grpc.aio.EOF
        return response

    async def events(self, count: int) -> list[pb.TaskEvent]:
        """The next `count` events (skipping heartbeats)."""
        found: list[pb.TaskEvent] = []
        while len(found) < count:
            found.extend((await self.next_response()).events)
        assert len(found) == count, found
        return found


@asynccontextmanager
async def watching(caller: TaskCaller, cursor: str = "", stub: Any = None) -> AsyncIterator[Watch]:
    call = (stub or caller.stub).WatchTaskEvents(
        pb.WatchTaskEventsRequest(cursor=cursor), metadata=caller.metadata, timeout=60
    )
    try:
        first = await asyncio.wait_for(call.read(), WAIT_SECONDS)
        assert not first.events  # the first response only says where the stream starts
        yield Watch(call, first)
    finally:
        call.cancel()


def kinds(events: list[pb.TaskEvent]) -> list[int]:
    return [event.kind for event in events]


async def test_every_change_arrives_in_order_with_the_task_as_it_became(new_task_caller):
    alice = await new_task_caller()
    async with watching(alice) as watch:
        task = await alice.create(title="watched")
        renamed = await alice.update(pb.Task(id=task.id, title="renamed"), "title")
        completed = await alice.complete(task.id)
        reopened = await alice.reopen(task.id)
        await alice.delete(task.id)
        events = await watch.events(5)
    assert kinds(events) == [
        pb.TASK_EVENT_KIND_CREATED,
        pb.TASK_EVENT_KIND_UPDATED,
        pb.TASK_EVENT_KIND_COMPLETED,
        pb.TASK_EVENT_KIND_REOPENED,
        pb.TASK_EVENT_KIND_DELETED,
    ]
    assert [e.task for e in events[:4]] == [task, renamed, completed, reopened]
    assert {e.task_id for e in events} == {task.id}
    assert not events[4].HasField("task")
    cursors = [int(e.cursor) for e in events]
    assert cursors == sorted(cursors) and len(set(cursors)) == 5
    assert all(e.event_time.seconds > 0 for e in events)


async def test_a_change_that_changes_nothing_sends_no_event(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="same")
    async with watching(alice) as watch:
        await alice.update(pb.Task(id=task.id, title="same"), "title")
        await alice.reopen(task.id)  # already open
        await alice.update(pb.Task(id=task.id, title="different"), "title")
        [event] = await watch.events(1)
    assert (event.kind, event.task.title) == (pb.TASK_EVENT_KIND_UPDATED, "different")


async def test_completing_a_repeating_task_sends_the_completion_and_the_next_occurrence(
    new_task_caller,
):
    alice = await new_task_caller()
    due = Timestamp()
    due.FromDatetime(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    task = await alice.create(title="weekly", due_time=due, recurrence="FREQ=WEEKLY")
    async with watching(alice) as watch:
        await alice.complete(task.id)
        completed, created = await watch.events(2)
    assert (completed.kind, completed.task_id) == (pb.TASK_EVENT_KIND_COMPLETED, task.id)
    assert created.kind == pb.TASK_EVENT_KIND_CREATED
    assert created.task.previous_occurrence_id == task.id


async def test_another_users_changes_never_arrive(new_task_caller):
    alice, bob = await new_task_caller(), await new_task_caller()
    async with watching(alice) as watch:
        await bob.create(title="bob's")
        mine = await alice.create(title="alice's")
        [event] = await watch.events(1)
    assert event.task_id == mine.id


async def test_resuming_from_a_cursor_replays_what_was_missed(new_task_caller):
    alice = await new_task_caller()
    async with watching(alice) as watch:
        first = await alice.create(title="seen")
        [seen] = await watch.events(1)
    missed = [await alice.create(title=f"missed {n}") for n in range(3)]
    async with watching(alice, cursor=seen.cursor) as resumed:
        events = await resumed.events(3)
        assert [e.task_id for e in events] == [t.id for t in missed]
        later = await alice.create(title="live")
        [live] = await resumed.events(1)
        assert live.task_id == later.id
    # From the start cursor of the first stream, everything is replayed.
    async with watching(alice, cursor=watch.start_cursor) as replay:
        events = await replay.events(5)
    assert [e.task_id for e in events] == [first.id, *(t.id for t in missed), later.id]


async def test_a_malformed_cursor_is_invalid_argument(new_task_caller):
    alice = await new_task_caller()
    for cursor in ("abc", "-1", "1" * 20, "١٢"):
        call = alice.stub.WatchTaskEvents(
            pb.WatchTaskEventsRequest(cursor=cursor), metadata=alice.metadata, timeout=10
        )

        async def first(call: Any = call) -> Any:
            return await call.read()

        error = await expect_rpc_error(first(), grpc.StatusCode.INVALID_ARGUMENT)
        assert [v.field for v in error.field_violations] == ["cursor"]


async def test_a_write_on_another_replica_arrives(tasks_service, auth_service, sign_up, tmp_path):
    """On PostgreSQL the fallback poll is set far beyond the wait here, so only the NOTIFY
    can deliver the event in time; on SQLite the poll is the way."""
    shared = {"database": tasks_service.database, "feed_postgres_poll_seconds": 60.0}
    async with (
        running_tasks_service(tmp_path / "a", auth_service, **shared) as watched,
        running_tasks_service(tmp_path / "b", auth_service, **shared) as replica,
    ):
        alice = TaskCaller(user=await sign_up(), stub=watched.stub)
        on_replica = TaskCaller(user=alice.user, stub=replica.stub)
        async with watching(alice) as watch:
            created = await on_replica.create(title="from the other replica")
            await on_replica.complete(created.id)
            events = await watch.events(2)
    assert kinds(events) == [pb.TASK_EVENT_KIND_CREATED, pb.TASK_EVENT_KIND_COMPLETED]
    assert events[0].task == created


async def test_concurrent_writers_never_make_a_watcher_skip_an_event(new_task_caller):
    """Ids of one owner become visible in order (advisory lock on PostgreSQL), so a watcher
    that moved its cursor past an event cannot miss a slower one committed later."""
    alice = await new_task_caller()
    async with watching(alice) as watch:
        created = await asyncio.gather(*(alice.create(title=f"c{n}") for n in range(20)))
        events = await watch.events(20)
    assert sorted(e.task_id for e in events) == sorted(t.id for t in created)


async def test_a_quiet_stream_sends_heartbeats(tasks_service, auth_service, sign_up, tmp_path):
    async with running_tasks_service(
        tmp_path, auth_service, database=tasks_service.database, feed_heartbeat_seconds=0.2
    ) as quick:
        alice = TaskCaller(user=await sign_up(), stub=quick.stub)
        async with watching(alice) as watch:
            beat = await watch.next_response()
            assert not beat.events
            assert beat.cursor == watch.start_cursor


async def test_purging_the_account_deletes_its_events(new_task_caller):
    alice = await new_task_caller()
    async with watching(alice) as watch:
        await alice.create(title="gone soon")
        await watch.events(1)
    await alice.stub.PurgeTasks(pb.PurgeTasksRequest(), metadata=alice.metadata, timeout=10)
    async with watching(alice, cursor="0") as replay:
        task = await alice.create(title="after")
        [event] = await replay.events(1)
    assert event.task_id == task.id
