"""Task reminders: what the owner asked for (`tasks.reminders`, a JSON list of `{"before":
"PT1H"}` / `{"at": "2026-12-03T09:00:00+00:00"}`) and the moments they go off
(`task_reminders` rows, which `scheduler.py` claims and fires).

The two are kept in step in the same unit of work as every write that can move a moment: a
create, a change of the due time or the reminders, a complete or reopen, a delete, the next
occurrence of a repeating task. Only moments still ahead are scheduled: a reminder whose time
has passed when it is set is not delivered (it would arrive at once, as noise), while one that
fell due during an outage is still pending and fires when a scheduler runs again.

Durations are ISO 8601 (`PT1H`, `P1D`, `P1W`), parsed by pydantic's timedelta parser, which
is already in the service (its settings) and strict about the syntax; years and months are
refused before it because they have no fixed length (pydantic would read P1M as 30 days).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.errors import FieldViolation

from todo_tasks.models import TaskReminderRow

task_reminders = cast(Table, TaskReminderRow.__table__)

MAX_REMINDERS = 5
MAX_BEFORE = timedelta(days=365)
BEFORE_MAX_LENGTH = 32
# `P`, then weeks/days, then `T` and hours/minutes/seconds; no years or months (the date part
# before any `T` must not hold `Y` or `M`).
_CALENDAR_UNITS = re.compile(r"^P[^T]*[YM]")

_TIMEDELTA = TypeAdapter(timedelta)

# One stored reminder: {"before": "PT1H"} or {"at": "<ISO 8601 UTC>"}.
StoredReminder = dict[str, str]


def parse_before(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes and whole seconds, 0 to 365 days;
    ValueError saying what is wrong otherwise."""
    value = text.strip()
    if not value.startswith("P") or len(value) > BEFORE_MAX_LENGTH:
        raise ValueError("must be an ISO 8601 duration such as PT1H, PT30M, P1D or P1W.")
    if _CALENDAR_UNITS.match(value):
        raise ValueError("years and months have no fixed length; use weeks or days (P4W, P30D).")
    try:
        duration = _TIMEDELTA.validate_python(value)
    except ValidationError:
        raise ValueError("must be an ISO 8601 duration such as PT1H, PT30M, P1D or P1W.") from None
    if duration.microseconds:
        raise ValueError("must be a whole number of seconds.")
    if duration < timedelta(0):
        raise ValueError("must not be negative.")
    if duration > MAX_BEFORE:
        raise ValueError("must be at most 365 days (P365D).")
    return duration


def format_before(duration: timedelta) -> str:
    """The shortest ISO 8601 spelling of a duration: `PT1H`, `P1DT2H`, `P2W`, `PT0S`."""
    days, seconds = duration.days, duration.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    date = ""
    if days:
        date = (
            f"{days // 7}W" if days % 7 == 0 and not (hours or minutes or seconds) else f"{days}D"
        )
    time = "".join(
        f"{amount}{unit}"
        for amount, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
        if amount
    )
    if not date and not time:
        return "PT0S"
    return f"P{date}" + (f"T{time}" if time else "")


@dataclass(frozen=True)
class Reminder:
    """One validated reminder: `before` the due time, or `at` a fixed time."""

    before: timedelta | None = None
    at: datetime | None = None

    def stored(self) -> StoredReminder:
        """The JSON form kept in `tasks.reminders`."""
        if self.at is not None:
            return {"at": self.at.astimezone(UTC).isoformat()}
        assert self.before is not None
        return {"before": format_before(self.before)}

    @classmethod
    def from_stored(cls, data: Mapping[str, str]) -> Reminder:
        """A reminder from its JSON form (written by `stored`)."""
        if "at" in data:
            return cls(at=datetime.fromisoformat(data["at"]))
        return cls(before=parse_before(data["before"]))

    def moment(self, due_time: datetime | None) -> datetime | None:
        """When it goes off (None: relative, and the task has no due time)."""
        if self.at is not None:
            return self.at
        if due_time is None or self.before is None:
            return None
        return due_time - self.before


def reminder_problems(
    reminders: Iterable[Reminder], due_time: datetime | None, field: str
) -> list[FieldViolation]:
    """What is wrong with these reminders on a task due at `due_time` (empty: nothing)."""
    problems: list[FieldViolation] = []
    for index, reminder in enumerate(reminders):
        if reminder.before is not None and due_time is None:
            problems.append(
                FieldViolation(
                    f"{field}[{index}].before",
                    "a reminder before the due time needs a due time; set due_time or use at.",
                )
            )
        elif reminder.at is not None and due_time is not None and reminder.at > due_time:
            problems.append(
                FieldViolation(f"{field}[{index}].at", "must not be after the task's due time.")
            )
    return problems


def stored_reminders(reminders: Iterable[Reminder]) -> list[StoredReminder]:
    """The JSON list kept in `tasks.reminders`."""
    return [reminder.stored() for reminder in reminders]


def loaded(stored: Sequence[Mapping[str, str]] | None) -> list[Reminder]:
    """The reminders of a stored task."""
    return [Reminder.from_stored(item) for item in stored or ()]


def reminders_to_proto(stored: Sequence[Mapping[str, str]] | None) -> list[pb.Reminder]:
    """The stored reminders as the proto clients see."""
    out: list[pb.Reminder] = []
    for item in stored or ():
        if "at" in item:
            reminder = pb.Reminder()
            reminder.at.FromDatetime(datetime.fromisoformat(item["at"]).astimezone(UTC))
            out.append(reminder)
        else:
            out.append(pb.Reminder(before=item["before"]))
    return out


def shifted(stored: Sequence[Mapping[str, str]] | None, delta: timedelta) -> list[StoredReminder]:
    """The reminders of a repeating task's next occurrence, `delta` later: `before` ones follow
    the due time by themselves, `at` ones move by as much as it moved."""
    return stored_reminders(
        Reminder(at=r.at + delta) if r.at is not None else r for r in loaded(stored)
    )


def moments(values: Mapping[str, Any], now: datetime) -> set[datetime]:
    """When the task's reminders should go off from now on: none unless it is open."""
    if values["state"] != pb.TASK_STATE_OPEN:
        return set()
    due = values["due_time"]
    found = {reminder.moment(due) for reminder in loaded(values["reminders"])}
    return {moment for moment in found if moment is not None and moment > now}


async def schedule_reminders(
    session: AsyncSession, owner: str, values: Mapping[str, Any], now: datetime
) -> None:
    """Brings the task's pending `task_reminders` rows in line with `values` (the task as
    this unit of work leaves it): moments no longer wanted go, new ones are added.

    A pending row a scheduler has claimed at this instant is locked; it is skipped rather than
    waited for (`SKIP LOCKED`), because it is due and being delivered, and waiting could
    deadlock with the scheduler, which then waits for this owner's outbox lock."""
    wanted = moments(values, now)
    task_id = values["id"]
    in_task = (task_reminders.c.owner_id == owner) & (task_reminders.c.task_id == task_id)
    unwanted = (
        select(task_reminders.c.id)
        .where(
            in_task, task_reminders.c.fired_at.is_(None), task_reminders.c.fire_at.not_in(wanted)
        )
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(task_reminders).where(task_reminders.c.id.in_(unwanted)))
    known = set((await session.execute(select(task_reminders.c.fire_at).where(in_task))).scalars())
    new = sorted(wanted - known)
    if new:
        await session.execute(
            insert(task_reminders),
            [{"owner_id": owner, "task_id": task_id, "fire_at": moment} for moment in new],
        )


# The task columns whose change can move, add or cancel a reminder's moment.
MOMENT_COLUMNS = frozenset({"due_time", "reminders", "state"})


async def reschedule_if_moved(
    session: AsyncSession,
    owner: str,
    values: Mapping[str, Any],
    changed: Iterable[str],
    now: datetime,
) -> None:
    """`schedule_reminders` after a write that changed the columns `changed`, when any of
    them can move a reminder (so a rename costs no reminder statement)."""
    if MOMENT_COLUMNS.intersection(changed):
        await schedule_reminders(session, owner, values, now)


async def forget_reminders(session: AsyncSession, owner: str, task_id: str) -> None:
    """Removes every row of a deleted task (a row being fired right now is left to the
    scheduler, which drops it when it finds the task gone)."""
    rows = (
        select(task_reminders.c.id)
        .where(task_reminders.c.owner_id == owner, task_reminders.c.task_id == task_id)
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(task_reminders).where(task_reminders.c.id.in_(rows)))


async def purge_reminders(session: AsyncSession, owner: str) -> None:
    """Removes every row of `owner` (account deletion)."""
    await session.execute(delete(task_reminders).where(task_reminders.c.owner_id == owner))
