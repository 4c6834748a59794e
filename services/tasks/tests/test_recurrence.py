"""Repeating tasks: completing an occurrence creates the next one, exactly once (also under
concurrent completes and across two replicas), at the right local time across daylight-saving
changes; bad rules and zones are INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TaskCaller, running_tasks_service, stamp

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def due_of(task: pb.Task) -> datetime:
    return task.due_time.ToDatetime(tzinfo=UTC)


async def repeating(caller: TaskCaller, rule: str, due: datetime, **fields: Any) -> pb.Task:
    """A task of `caller`'s that repeats by `rule`, first due at `due`."""
    return await caller.create(due_time=stamp(due), recurrence=rule, **fields)


async def complete(caller: TaskCaller, task_id: str) -> pb.CompleteTaskResponse:
    response: pb.CompleteTaskResponse = await caller.stub.CompleteTask(
        pb.CompleteTaskRequest(id=task_id), metadata=caller.metadata, timeout=caller.timeout
    )
    return response


async def test_completing_a_weekly_task_creates_the_next_occurrence(new_task_caller):
    alice = await new_task_caller()
    monday = utc(2027, 1, 4, 9, 0)
    task = await alice.create_filled("Team sync", monday, recurrence="FREQ=WEEKLY;BYDAY=MO")
    assert task.recurrence == "FREQ=WEEKLY;BYDAY=MO"
    assert task.previous_occurrence_id == ""

    done = await complete(alice, task.id)
    assert done.task.state == pb.TASK_STATE_COMPLETED
    following = done.next_task
    assert following.id and following.id != task.id
    assert due_of(following) == monday + timedelta(weeks=1)
    assert (following.title, following.notes, following.priority, list(following.tags)) == (
        "Team sync",
        "2 litres",
        pb.TASK_PRIORITY_HIGH,
        ["errands"],
    )
    assert following.state == pb.TASK_STATE_OPEN
    assert following.recurrence == task.recurrence
    assert following.previous_occurrence_id == task.id
    assert await alice.get(following.id) == following
    assert {t.id for t in await alice.list_all(state=pb.TASK_STATE_OPEN)} == {following.id}


async def test_completing_again_or_after_reopening_makes_no_second_occurrence(new_task_caller):
    alice = await new_task_caller()
    task = await repeating(
        alice, "FREQ=DAILY;INTERVAL=3", utc(2027, 1, 4, 9, 0), title="water plants"
    )
    first = await complete(alice, task.id)
    again = await complete(alice, task.id)
    await alice.reopen(task.id)
    after_reopen = await complete(alice, task.id)
    assert first.next_task.id == again.next_task.id == after_reopen.next_task.id
    assert due_of(first.next_task) == utc(2027, 1, 7, 9, 0)
    assert len(await alice.list_all()) == 2


@pytest.mark.parametrize(
    ("zone", "due", "next_due"),
    [
        # London springs forward on 28 March 2027: 09:00 GMT, then 09:00 BST (08:00 UTC).
        ("Europe/London", datetime(2027, 3, 22, 9, 0), datetime(2027, 3, 29, 8, 0)),
        # ... and falls back on 31 October 2027: 09:00 BST (08:00 UTC), then 09:00 GMT.
        ("Europe/London", datetime(2027, 10, 25, 8, 0), datetime(2027, 11, 1, 9, 0)),
        # New York springs forward on 14 March 2027: 09:00 EST (14:00 UTC) -> 09:00 EDT.
        ("America/New_York", datetime(2027, 3, 8, 14, 0), datetime(2027, 3, 15, 13, 0)),
        # Without a zone the rule runs in UTC: the same UTC time every week.
        ("", datetime(2027, 3, 22, 9, 0), datetime(2027, 3, 29, 9, 0)),
    ],
)
async def test_the_next_occurrence_keeps_the_local_time_across_daylight_saving(
    new_task_caller, zone, due, next_due
):
    alice = await new_task_caller()
    task = await repeating(
        alice, "FREQ=WEEKLY", due.replace(tzinfo=UTC), title="standup", time_zone=zone
    )
    assert task.time_zone == zone
    following = (await complete(alice, task.id)).next_task
    assert due_of(following) == next_due.replace(tzinfo=UTC)
    assert following.time_zone == zone


async def test_count_ends_the_series_and_counts_from_the_first_occurrence(new_task_caller):
    alice = await new_task_caller()
    first = await repeating(alice, "FREQ=DAILY;COUNT=3", utc(2027, 2, 1, 8, 0), title="three doses")
    second = (await complete(alice, first.id)).next_task
    third = (await complete(alice, second.id)).next_task
    assert [due_of(t).day for t in (first, second, third)] == [1, 2, 3]
    last = await complete(alice, third.id)
    assert last.task.state == pb.TASK_STATE_COMPLETED
    assert not last.HasField("next_task")
    assert len(await alice.list_all()) == 3


async def test_until_ends_the_series(new_task_caller):
    alice = await new_task_caller()
    task = await repeating(
        alice, "FREQ=DAILY;UNTIL=20270205", utc(2027, 2, 4, 8, 0), title="until friday"
    )
    second = (await complete(alice, task.id)).next_task
    assert due_of(second) == utc(2027, 2, 5, 8, 0)
    assert not (await complete(alice, second.id)).HasField("next_task")


async def test_monthly_on_the_31st_skips_shorter_months(new_task_caller):
    alice = await new_task_caller()
    rent = await repeating(alice, "FREQ=MONTHLY;BYMONTHDAY=31", utc(2027, 1, 31, 12, 0))
    following = (await complete(alice, rent.id)).next_task
    assert due_of(following) == utc(2027, 3, 31, 12, 0)


async def test_weekdays_skip_the_weekend(new_task_caller):
    alice = await new_task_caller()
    friday = utc(2027, 1, 8, 7, 30)
    task = await repeating(
        alice, "rrule:freq=weekly;byday=mo,tu,we,th,fr", friday, title="check mail"
    )
    assert task.recurrence == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    following = (await complete(alice, task.id)).next_task
    assert due_of(following) == friday + timedelta(days=3)


async def test_a_late_completion_comes_back_at_the_next_future_occurrence(new_task_caller):
    alice = await new_task_caller()
    long_ago = utc(2026, 1, 5, 9, 0)  # a Monday
    task = await alice.create(
        title="weekly review", due_time=stamp(long_ago), recurrence="FREQ=WEEKLY"
    )
    following = (await complete(alice, task.id)).next_task
    next_due = due_of(following)
    now = datetime.now(UTC)
    assert now < next_due <= now + timedelta(weeks=1)
    assert (next_due.weekday(), next_due.hour, next_due.minute) == (0, 9, 0)


async def test_a_repeating_task_without_a_due_time_is_due_at_its_first_occurrence(
    new_task_caller,
):
    alice = await new_task_caller()
    task = await alice.create(
        title="bins out", recurrence="FREQ=WEEKLY;BYDAY=TU", time_zone="Europe/Paris"
    )
    local = due_of(task).astimezone(ZoneInfo("Europe/Paris"))
    assert local.weekday() == 1
    assert datetime.now(UTC) - timedelta(minutes=1) <= due_of(task)
    assert due_of(task) <= datetime.now(UTC) + timedelta(weeks=1)


async def test_recurrence_can_be_set_changed_and_cleared_with_the_update_mask(new_task_caller):
    alice = await new_task_caller()
    due = utc(2027, 5, 3, 9, 0)
    task = await alice.create(title="gym", due_time=stamp(due))
    weekly = await alice.update(pb.Task(id=task.id, recurrence="FREQ=WEEKLY"), "recurrence")
    assert weekly.recurrence == "FREQ=WEEKLY"
    assert weekly.etag != task.etag
    zoned = await alice.update(pb.Task(id=task.id, time_zone="Asia/Tokyo"), "time_zone")
    assert zoned.time_zone == "Asia/Tokyo"
    cleared = await alice.update(pb.Task(id=task.id), "recurrence")
    assert cleared.recurrence == ""
    done = await complete(alice, task.id)
    assert not done.HasField("next_task")
    assert len(await alice.list_all()) == 1


async def test_concurrent_completes_create_exactly_one_next_occurrence(new_task_caller):
    alice = await new_task_caller()
    task = await repeating(alice, "FREQ=WEEKLY", utc(2027, 6, 7, 9, 0), title="contended")
    results = await asyncio.gather(*(complete(alice, task.id) for _ in range(10)))
    assert {r.next_task.id for r in results} == {results[0].next_task.id}
    tasks = await alice.list_all()
    assert len(tasks) == 2
    assert [t.previous_occurrence_id for t in tasks if t.id != task.id] == [task.id]


async def test_two_replicas_completing_at_once_create_exactly_one_next_occurrence(
    tasks_service, auth_service, sign_up, tmp_path
):
    async with running_tasks_service(
        tmp_path, auth_service, database=tasks_service.database
    ) as replica:
        user = await sign_up()
        one = TaskCaller(user=user, stub=tasks_service.stub)
        two = TaskCaller(user=user, stub=replica.stub)
        for week in range(3):
            task = await one.create(
                title=f"week {week}",
                due_time=stamp(datetime(2027, 6, 7 + week, 9, 0, tzinfo=UTC)),
                recurrence="FREQ=WEEKLY",
            )
            results = await asyncio.gather(
                *(complete(caller, task.id) for caller in (one, two, one, two, one, two))
            )
            assert len({r.next_task.id for r in results}) == 1
        tasks = await one.list_all()
        assert len(tasks) == 6
        assert sorted(
            t.previous_occurrence_id for t in tasks if t.previous_occurrence_id
        ) == sorted(t.id for t in tasks if not t.previous_occurrence_id)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=BOGUS",
        "FREQ=MINUTELY",
        "FREQ=HOURLY;INTERVAL=2",
        "BYDAY=MO",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;INTERVAL=0",
        "FREQ=WEEKLY;COUNT=2;UNTIL=20271231",
        "FREQ=WEEKLY;UNTIL=20271231T120000",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MONTHLY;BYDAY=6MO",
        "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=FR",
        "FREQ=WEEKLY;DTSTART=20270101T000000Z",
        "FREQ=WEEKLY\nFREQ=DAILY",
        "FREQ=WEEKLY;FREQ=DAILY",
        "not a rule",
        "FREQ=DAILY;COUNT=" + "9" * 500,
    ],
)
async def test_an_invalid_rule_is_invalid_argument_and_stores_nothing(new_task_caller, rule):
    alice = await new_task_caller()
    error = await expect_rpc_error(alice.create(title="bad", recurrence=rule), INVALID)
    assert [v.field for v in error.field_violations] == ["task.recurrence"]
    assert error.field_violations[0].description
    assert await alice.list_all() == []


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "x" * 65, "UTC\x00"])
async def test_an_unknown_time_zone_is_invalid_argument(new_task_caller, zone):
    alice = await new_task_caller()
    error = await expect_rpc_error(
        alice.create(title="bad", recurrence="FREQ=DAILY", time_zone=zone), INVALID
    )
    assert [v.field for v in error.field_violations] == ["task.time_zone"]


async def test_an_invalid_rule_in_an_update_changes_nothing(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="keep", recurrence="FREQ=DAILY")
    error = await expect_rpc_error(
        alice.update(pb.Task(id=task.id, recurrence="FREQ=SECONDLY"), "recurrence"), INVALID
    )
    assert [v.field for v in error.field_violations] == ["task.recurrence"]
    assert await alice.get(task.id) == task
