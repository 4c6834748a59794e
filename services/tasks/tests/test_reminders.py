"""Reminders: validated on create and update, kept in step in `task_reminders` with the due
time and the task's state, and delivered once as a REMINDER event on the owner's change feed
by the scheduler, also with two schedulers on one database and across restarts."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.db import Database
from todo_tasks.models import TaskEventRow, TaskReminderRow
from todo_tasks.reminders import format_before, parse_before
from todo_tasks.scheduler import ReminderScheduler
from todo_testkit.databases import IsolatedDatabase
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TaskCaller, running_tasks_service, stamp
from todo_testkit.waiting import eventually

# A scheduler that never looks again after its first pass: reminders stay pending.
IDLE = {"reminder_poll_seconds": 3600.0}


# The due time most tests' reminders are counted back from (a Monday, 17:00 UTC).
DUE = datetime(2027, 1, 4, 17, tzinfo=UTC)


def before(text: str) -> pb.Reminder:
    return pb.Reminder(before=text)


def at(moment: datetime) -> pb.Reminder:
    return pb.Reminder(at=stamp(moment))


def soon(seconds: float = 1.0) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0) + timedelta(
        seconds=1
    )


@asynccontextmanager
async def opened(target: IsolatedDatabase) -> AsyncIterator[Database]:
    database = Database.from_url(target.url, target.schema, pool_size=2)
    try:
        yield database
    finally:
        await database.dispose()


async def reminder_rows(target: IsolatedDatabase, task_id: str) -> list[tuple[datetime, bool]]:
    """(fire_at, fired) of every task_reminders row of a task, in time order."""
    table = TaskReminderRow.__table__
    async with opened(target) as database, database.read_session() as session:
        rows = await session.execute(
            select(table.c.fire_at, table.c.fired_at)
            .where(table.c.task_id == task_id)
            .order_by(table.c.fire_at)
        )
        return [(row.fire_at, row.fired_at is not None) for row in rows]


Scheduled = Callable[[str], Awaitable[list[tuple[datetime, bool]]]]


@pytest.fixture
def scheduled(tasks_service: Any) -> Scheduled:
    """`await scheduled(task_id)`: the task's `reminder_rows` in the module's tasks database."""
    return functools.partial(reminder_rows, tasks_service.database)


async def reminder_events(target: IsolatedDatabase, owner: str) -> list[Any]:
    """Every REMINDER event of `owner` in the outbox, oldest first."""
    table = TaskEventRow.__table__
    async with opened(target) as database, database.read_session() as session:
        rows = await session.execute(
            select(table)
            .where(table.c.owner_id == owner, table.c.kind == pb.TASK_EVENT_KIND_REMINDER)
            .order_by(table.c.id)
        )
        return list(rows)


async def next_reminder(call: Any) -> pb.TaskEvent:
    """Reads a WatchTaskEvents stream until a REMINDER event comes (bounded, not timed)."""
    async with asyncio.timeout(20):
        while True:
            response = await call.read()
            assert response is not grpc.aio.EOF
            for event in response.events:
                if event.kind == pb.TASK_EVENT_KIND_REMINDER:
                    return event


def violations(info: Any) -> dict[str, str]:
    return {v.field: v.description for v in info.field_violations}


# ---- durations ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", "PT1H"),
        ("PT60M", "PT1H"),
        ("PT90M", "PT1H30M"),
        ("P1D", "P1D"),
        ("P7D", "P1W"),
        ("P1DT2H", "P1DT2H"),
        ("PT0S", "PT0S"),
        ("P2W", "P2W"),
    ],
)
def test_durations_are_stored_in_their_shortest_form(text: str, expected: str) -> None:
    assert format_before(parse_before(text)) == expected


@pytest.mark.parametrize(
    "text", ["1h", "pt1h", "PT", "P1M", "P1Y", "PT1.5S", "-PT1H", "P366D", "01:00:00", ""]
)
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_before(text)


# ---- validation ----


async def test_bad_reminders_are_invalid_argument_naming_each_field(new_task_caller) -> None:
    alice = await new_task_caller()
    due = stamp(DUE)
    request = pb.CreateTaskRequest(
        task=pb.Task(
            title="x",
            due_time=due,
            reminders=[
                before("1h"),
                before("P1M"),
                pb.Reminder(),
                at(datetime(2027, 1, 5, tzinfo=UTC)),
            ],
        )
    )
    info = await expect_rpc_error(
        alice.stub.CreateTask(request, metadata=alice.metadata, timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert set(violations(info)) == {
        "task.reminders[0].before",
        "task.reminders[1].before",
        "task.reminders[2]",
    }
    # Each on its own, the reminder after the due time is refused too.
    late = pb.CreateTaskRequest(
        task=pb.Task(title="x", due_time=due, reminders=[at(datetime(2027, 1, 5, tzinfo=UTC))])
    )
    info = await expect_rpc_error(
        alice.stub.CreateTask(late, metadata=alice.metadata, timeout=10),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violations(info) == {"task.reminders[0].at": "must not be after the task's due time."}
    assert await alice.list_all() == []


async def test_a_relative_reminder_needs_a_due_time_and_five_is_the_most(new_task_caller) -> None:
    alice = await new_task_caller()
    info = await expect_rpc_error(
        alice.create(title="no due", reminders=[before("PT1H")]), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert list(violations(info)) == ["task.reminders[0].before"]
    six = [before(f"PT{n}M") for n in range(1, 7)]
    due = stamp(DUE)
    info = await expect_rpc_error(
        alice.create(title="many", due_time=due, reminders=six), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert violations(info) == {"task.reminders": "at most 5 reminders are allowed."}

    task = await alice.create(title="due", due_time=due, reminders=[before("PT1H")])
    # Clearing the due time under a relative reminder is refused; clearing both is fine.
    info = await expect_rpc_error(
        alice.update(pb.Task(id=task.id), "due_time"), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert list(violations(info)) == ["task.reminders[0].before"]
    cleared = await alice.update(pb.Task(id=task.id), "due_time", "reminders")
    assert (cleared.HasField("due_time"), list(cleared.reminders)) == (False, [])


async def test_reminders_round_trip_on_create_and_update(new_task_caller) -> None:
    alice = await new_task_caller()
    task = await alice.create(
        title="call mum",
        due_time=stamp(DUE),
        reminders=[before("PT60M"), at(DUE - timedelta(days=1)), before("PT1H")],
    )
    assert list(task.reminders) == [before("PT1H"), at(DUE - timedelta(days=1))]
    assert await alice.get(task.id) == task
    changed = await alice.update(pb.Task(id=task.id, reminders=[before("P1D")]), "reminders")
    assert list(changed.reminders) == [before("P1D")]
    # The same reminders again change nothing (same etag).
    again = await alice.update(pb.Task(id=changed.id, reminders=[before("PT24H")]), "reminders")
    assert again.etag == changed.etag


# ---- the task_reminders table ----


async def test_the_moments_follow_the_due_time_and_the_state(scheduled, new_task_caller) -> None:
    alice = await new_task_caller()
    fixed = datetime(2027, 1, 3, 9, tzinfo=UTC)
    task = await alice.create(
        title="dentist", due_time=stamp(DUE), reminders=[before("PT1H"), at(fixed)]
    )
    assert await scheduled(task.id) == [(fixed, False), (DUE - timedelta(hours=1), False)]

    later = DUE + timedelta(days=1)
    await alice.update(pb.Task(id=task.id, due_time=stamp(later)), "due_time")
    assert await scheduled(task.id) == [(fixed, False), (later - timedelta(hours=1), False)]

    await alice.complete(task.id)
    assert await scheduled(task.id) == []
    await alice.reopen(task.id)
    assert len(await scheduled(task.id)) == 2

    # A moment already past is not scheduled.
    await alice.update(
        pb.Task(id=task.id, reminders=[at(datetime(2020, 1, 1, tzinfo=UTC))]), "reminders"
    )
    assert await scheduled(task.id) == []

    await alice.update(pb.Task(id=task.id, reminders=[before("PT1H")]), "reminders")
    await alice.delete(task.id)
    assert await scheduled(task.id) == []


async def test_the_next_occurrence_gets_its_reminders_shifted(scheduled, new_task_caller) -> None:
    alice = await new_task_caller()
    due = datetime(2027, 1, 4, 9, tzinfo=UTC)  # a Monday
    task = await alice.create(
        title="team sync",
        due_time=stamp(due),
        recurrence="FREQ=WEEKLY",
        reminders=[before("PT15M"), at(due - timedelta(days=1))],
    )
    response = await alice.stub.CompleteTask(
        pb.CompleteTaskRequest(id=task.id), metadata=alice.metadata, timeout=10
    )
    following = response.next_task
    next_due = due + timedelta(weeks=1)
    assert list(following.reminders) == [before("PT15M"), at(next_due - timedelta(days=1))]
    assert await scheduled(task.id) == []
    assert await scheduled(following.id) == [
        (next_due - timedelta(days=1), False),
        (next_due - timedelta(minutes=15), False),
    ]


async def test_purging_the_account_removes_its_reminders(scheduled, new_task_caller) -> None:
    alice = await new_task_caller()
    task = await alice.create(title="x", reminders=[at(datetime(2027, 1, 4, tzinfo=UTC))])
    await alice.stub.PurgeTasks(pb.PurgeTasksRequest(), metadata=alice.metadata, timeout=10)
    assert await scheduled(task.id) == []


# ---- delivery ----


async def test_a_due_reminder_arrives_once_on_the_feed(tasks_service, new_task_caller) -> None:
    alice = await new_task_caller()
    moment = soon()
    call = alice.stub.WatchTaskEvents(
        pb.WatchTaskEventsRequest(), metadata=alice.metadata, timeout=60
    )
    try:
        await call.read()  # the start
        task = await alice.create(title="stretch", reminders=[at(moment)])

        event = await next_reminder(call)
    finally:
        call.cancel()
    assert event.task_id == task.id
    assert event.task == task
    assert event.reminder_time.ToDatetime(tzinfo=UTC) == moment
    # A second reminder arriving shows the scheduler has passed again: the first stayed single.
    other = await alice.create(title="barrier", reminders=[at(soon())])
    owner = alice.user.user_id
    await eventually(
        lambda: _delivered(tasks_service.database, owner, other.id), within=20, what="barrier"
    )
    assert [e.task_id for e in await reminder_events(tasks_service.database, owner)] == [
        task.id,
        other.id,
    ]
    assert await reminder_rows(tasks_service.database, task.id) == [(moment, True)]


async def _delivered(target: IsolatedDatabase, owner: str, task_id: str) -> bool:
    return task_id in {e.task_id for e in await reminder_events(target, owner)}


async def test_a_reminder_of_a_completed_task_is_not_delivered(
    tasks_service, auth_service, sign_up, tmp_path
) -> None:
    async with running_tasks_service(
        tmp_path, auth_service, database=tasks_service.database, **IDLE
    ) as idle:
        alice = TaskCaller(user=await sign_up(), stub=idle.stub)
        task = await alice.create(title="done early", reminders=[at(soon())])
        await alice.complete(task.id)
        kept = await alice.create(title="still open", reminders=[at(soon())])
    target = tasks_service.database
    owner = alice.user.user_id
    await eventually(lambda: _delivered(target, owner, kept.id), within=20, what="the reminder")
    assert [e.task_id for e in await reminder_events(target, owner)] == [kept.id]


async def test_two_schedulers_on_one_database_deliver_each_reminder_once(
    auth_service, sign_up, tmp_path
) -> None:
    """The reminders are made on a server of its own database whose scheduler stays idle,
    then fired by two schedulers (each with its own connections) racing in small batches."""
    async with running_tasks_service(tmp_path, auth_service, **IDLE) as idle:
        alice = TaskCaller(user=await sign_up(), stub=idle.stub)
        bob = TaskCaller(user=await sign_up(), stub=idle.stub)
        moment = soon()
        tasks = await asyncio.gather(
            *(
                caller.create(title=f"r{n}", reminders=[at(moment)])
                for n in range(15)
                for caller in (alice, bob)
            )
        )
        await eventually(lambda: datetime.now(UTC) > moment, what="the reminders to be due")
        target = idle.database
        claimed: list[int] = []

        async def drain(database: Database) -> None:
            scheduler = ReminderScheduler(database, poll_seconds=3600, batch_size=2)
            while count := await scheduler.fire_due():
                claimed.append(count)

        async with opened(target) as one, opened(target) as two:
            await asyncio.gather(drain(one), drain(two))
        assert sum(claimed) == len(tasks)
        delivered = [
            e.task_id
            for caller in (alice, bob)
            for e in await reminder_events(target, caller.user.user_id)
        ]
        assert sorted(delivered) == sorted(t.id for t in tasks)


async def test_a_restart_neither_loses_nor_repeats_a_reminder(
    auth_service, sign_up, tmp_path, database_factory
) -> None:
    target = await database_factory("tasks")
    async with running_tasks_service(tmp_path / "a", auth_service, database=target, **IDLE) as a:
        alice = TaskCaller(user=await sign_up(), stub=a.stub)
        moment = soon()
        missed = await alice.create(title="while down", reminders=[at(moment)])
    owner = alice.user.user_id
    # Due while no scheduler runs; the next process delivers it.
    await eventually(lambda: datetime.now(UTC) > moment, what="the reminder to be due")
    async with running_tasks_service(
        tmp_path / "b", auth_service, database=target, reminder_poll_seconds=0.2
    ):
        await eventually(lambda: _delivered(target, owner, missed.id), within=20, what="late one")
    async with running_tasks_service(
        tmp_path / "c", auth_service, database=target, reminder_poll_seconds=0.2
    ) as c:
        barrier = await TaskCaller(user=alice.user, stub=c.stub).create(
            title="barrier", reminders=[at(soon())]
        )
        await eventually(lambda: _delivered(target, owner, barrier.id), within=20, what="barrier")
    events = await reminder_events(target, owner)
    assert [e.task_id for e in events] == [missed.id, barrier.id]
    assert events[0].reminder_time == moment


async def test_undo_brings_a_deleted_tasks_reminders_back_and_takes_an_undone_adds_away(
    scheduled, new_task_caller
) -> None:
    alice = await new_task_caller()
    task = await alice.create(title="dentist", due_time=stamp(DUE), reminders=[before("PT1H")])
    pending = [(DUE - timedelta(hours=1), False)]

    async def undo(token: str) -> None:
        await alice.stub.UndoChange(
            pb.UndoChangeRequest(undo_token=token), metadata=alice.metadata, timeout=10
        )

    deleted: pb.DeleteTaskResponse = await alice.stub.DeleteTask(
        pb.DeleteTaskRequest(id=task.id), metadata=alice.metadata, timeout=10
    )
    assert await scheduled(task.id) == []
    await undo(deleted.undo_token)
    assert await scheduled(task.id) == pending

    # Undoing the add itself: the task goes, and so do its reminders.
    added: pb.CreateTaskResponse = await alice.stub.CreateTask(
        pb.CreateTaskRequest(
            task=pb.Task(title="haircut", due_time=stamp(DUE), reminders=[before("PT1H")])
        ),
        metadata=alice.metadata,
        timeout=10,
    )
    assert await scheduled(added.task.id) == pending
    await undo(added.undo_token)
    assert await scheduled(added.task.id) == []
