"""Undo: the records every mutation leaves, UndoChange's revert, and the purge of what the
undo window no longer needs.

A mutation writes, in its own unit of work, one undo record: a random token and, for every
task it changed, the task's columns before the change (`None` when the change created it) and
after it (`None` when it deleted it). UndoChange claims the record with one conditional UPDATE
(`use_time IS NULL AND expire_time > now`): of two concurrent undos of one token exactly one
claims it (PostgreSQL re-checks the condition after the first commits; SQLite has one writer),
the other is FAILED_PRECONDITION. A task changed again since the change is not
reverted (that would silently drop the later change): a task that is no longer as the change
left it makes the undo FAILED_PRECONDITION, changing nothing. (Content, not version, is what
is compared, so once a later change is undone the earlier one can be undone too.) Deleted tasks are kept (`tasks.deleted_time`) until the window has passed;
`UndoPurger` then deletes them, and the records, in every replica (deletes are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.db import Database
from todo_common.errors import FailedPrecondition, NotFound

from todo_tasks.models import UNDO_TOKEN_MAX, UndoRecordRow
from todo_tasks.outbox import append_event
from todo_tasks.reminders import forget_reminders, schedule_reminders
from todo_tasks.repository import TaskRepository, Values, search_text, task_tags, tasks

log = logging.getLogger(__name__)

undo_records = cast(Table, UndoRecordRow.__table__)

# 16 random bytes, URL-safe base64: 22 characters.
TOKEN_BYTES = 16
# An expired record is kept this many windows longer, so its token still answers "expired"
# (FAILED_PRECONDITION) rather than "no such token" for a while.
EXPIRED_KEPT_WINDOWS = 1
PURGER_TASK = "tasks-undo-purger"
# The columns a snapshot keeps: what a revert writes back (search_text is derived, version,
# update_time and deleted_time are set by the revert itself).
SNAPSHOT_COLUMNS = (
    "title",
    "notes",
    "state",
    "priority",
    "due_time",
    "tags",
    "create_time",
    "complete_time",
    "recurrence",
    "time_zone",
    "series_start",
    "previous_occurrence_id",
)
TIME_COLUMNS = frozenset({"due_time", "create_time", "complete_time", "series_start"})

# Appends one task's change (as the task now is) to the outbox: `TaskService._record`.
RecordEvent = Callable[
    [AsyncSession, str, "pb.TaskEventKind.ValueType", Values, datetime], Awaitable[None]
]


@dataclass(frozen=True)
class Snapshot:
    """One task a mutation changed: its columns before (None: the mutation created it) and
    after (None: the mutation deleted it)."""

    task_id: str
    before: Values | None
    after: Values | None

    @classmethod
    def created(cls, values: Values) -> Snapshot:
        """A task the mutation created."""
        return cls(str(values["id"]), None, values)

    @classmethod
    def changed(cls, before: Values, after: Values) -> Snapshot:
        """A task the mutation changed from `before` to `after`."""
        return cls(str(before["id"]), before, after)

    @classmethod
    def deleted(cls, before: Values) -> Snapshot:
        """A task the mutation deleted."""
        return cls(str(before["id"]), before, None)

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "before": None if self.before is None else content_json(self.before),
            "after": None if self.after is None else content_json(self.after),
        }


def content_json(values: Values) -> dict[str, Any]:
    """The columns of a task a snapshot keeps, as JSON-able data."""
    data = {name: values[name] for name in SNAPSHOT_COLUMNS}
    for name in TIME_COLUMNS:
        if data[name] is not None:
            data[name] = data[name].isoformat()
    data["tags"] = list(data["tags"])
    return data


def _columns_from_json(before: dict[str, Any]) -> dict[str, Any]:
    """A snapshot's `before` as the column values to write back."""
    values = {name: before[name] for name in SNAPSHOT_COLUMNS}
    for name in TIME_COLUMNS:
        if values[name] is not None:
            values[name] = datetime.fromisoformat(values[name])
    values["search_text"] = search_text(values["title"], values["notes"])
    return values


def is_undo_token(value: str) -> bool:
    """Whether `value` could be a token this service issued (anything else is NOT_FOUND)."""
    return 0 < len(value) <= UNDO_TOKEN_MAX and all(
        c.isascii() and (c.isalnum() or c in "-_") for c in value
    )


def undo_not_found(token: str) -> NotFound:
    """The one answer for a missing token, another user's, garbage, and nothing to undo."""
    if not token:
        return NotFound("There is no recent change to undo.", reason="NOTHING_TO_UNDO")
    return NotFound("Undo token not found.", reason="UNDO_TOKEN_NOT_FOUND")


def already_undone() -> FailedPrecondition:
    return FailedPrecondition("This change has already been undone.", reason="ALREADY_UNDONE")


def undo_expired(window: timedelta) -> FailedPrecondition:
    minutes = max(1, round(window.total_seconds() / 60))
    return FailedPrecondition(
        f"This change can no longer be undone: changes can be undone for {minutes} "
        f"minute{'s' if minutes != 1 else ''} after they were made.",
        reason="UNDO_EXPIRED",
    )


def changed_since() -> FailedPrecondition:
    return FailedPrecondition(
        "A task this change touched has changed again since; undo the later change first.",
        reason="UNDO_CONFLICT",
    )


class UndoLog:
    """Writes undo records and reverts them, inside the caller's unit of work."""

    def __init__(self, window: timedelta) -> None:
        self.window = window

    async def record(
        self, session: AsyncSession, owner: str, snapshots: Sequence[Snapshot], now: datetime
    ) -> str:
        """Stores an undo record of `snapshots` (one mutation); returns its token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        await session.execute(
            insert(undo_records).values(
                owner_id=owner,
                token=token,
                snapshots=[snapshot.to_json() for snapshot in snapshots],
                create_time=now,
                expire_time=now + self.window,
                use_time=None,
            )
        )
        return token

    async def undo(
        self,
        repository: TaskRepository,
        token: str,
        now: datetime,
        record_event: RecordEvent,
    ) -> list[Values]:
        """Reverts the record `token` names (empty: the owner's newest one still undoable),
        marks it used, and returns the tasks it restored or changed back (not the ones it
        deleted). Raises NOT_FOUND / FAILED_PRECONDITION as the module docstring says."""
        session, owner = repository.session, repository.owner
        record = await self._find(session, owner, token, now)
        if record.use_time is not None:
            raise already_undone()
        if record.expire_time <= now:
            raise undo_expired(self.window)
        claimed = await session.execute(
            update(undo_records)
            .where(
                undo_records.c.id == record.id,
                undo_records.c.use_time.is_(None),
                undo_records.c.expire_time > now,
            )
            .values(use_time=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult for DML
            raise already_undone()
        restored: list[Values] = []
        for entry in record.snapshots:
            values = await self._revert(repository, entry, now, record_event)
            # The task's pending reminders follow it back (a restored task's come back, an
            # undone create's go), as every other write keeps them.
            if values is None:
                await forget_reminders(session, owner, str(entry["task_id"]))
            else:
                await schedule_reminders(session, owner, values, now)
            if values is not None:
                restored.append(values)
        log.info("change undone", extra={"count": len(record.snapshots)})
        return restored

    async def _find(self, session: AsyncSession, owner: str, token: str, now: datetime) -> Row[Any]:
        statement = select(undo_records).where(undo_records.c.owner_id == owner)
        if token:
            if not is_undo_token(token):
                raise undo_not_found(token)
            statement = statement.where(undo_records.c.token == token)
        else:
            statement = (
                statement.where(undo_records.c.use_time.is_(None), undo_records.c.expire_time > now)
                .order_by(undo_records.c.id.desc())
                .limit(1)
            )
        record = (await session.execute(statement)).first()
        if record is None:
            raise undo_not_found(token)
        return record

    async def _revert(
        self,
        repository: TaskRepository,
        entry: dict[str, Any],
        now: datetime,
        record_event: RecordEvent,
    ) -> Values | None:
        """Puts one task back as `entry` says; the task as it now is (None: deleted)."""
        session, owner = repository.session, repository.owner
        task_id = str(entry["task_id"])
        row = (
            await session.execute(
                select(tasks)
                .where(tasks.c.id == task_id, tasks.c.owner_id == owner)
                .with_for_update()
            )
        ).first()
        if row is None:
            # Purged: the window passed while the record was still claimable.
            raise undo_expired(self.window)
        after = entry["after"]
        if after is None:
            left_as_it_was = row.deleted_time is not None
        else:
            left_as_it_was = row.deleted_time is None and content_json(row._mapping) == after
        if not left_as_it_was:
            raise changed_since()
        before = entry["before"]
        if before is None:
            await repository.delete_if_version(task_id, row.version, now)
            await append_event(
                session, owner, kind=pb.TASK_EVENT_KIND_DELETED, task_id=task_id, task=None, now=now
            )
            return None
        values = _columns_from_json(before)
        previous = values["previous_occurrence_id"]
        if (
            previous
            and previous != row.previous_occurrence_id
            and await _series_place_taken(session, owner, task_id, previous)
        ):
            # A new next occurrence took this task's place in its series meanwhile.
            values["previous_occurrence_id"] = None
        values.update(update_time=now, deleted_time=None)
        if not await repository.update_if_version(task_id, row.version, values):
            raise changed_since()
        restored = await repository.get(task_id)
        assert restored is not None  # written in this unit of work
        current = restored._mapping
        await record_event(session, owner, _event_kind(row, current), current, now)
        return current


def _event_kind(old: Row[Any], new: Values) -> pb.TaskEventKind.ValueType:
    """What the revert looks like to a watcher of the feed."""
    if old.deleted_time is not None:
        return pb.TASK_EVENT_KIND_CREATED
    if old.state != new["state"]:
        if new["state"] == pb.TASK_STATE_COMPLETED:
            return pb.TASK_EVENT_KIND_COMPLETED
        return pb.TASK_EVENT_KIND_REOPENED
    return pb.TASK_EVENT_KIND_UPDATED


async def _series_place_taken(
    session: AsyncSession, owner: str, task_id: str, previous: str
) -> bool:
    found = await session.execute(
        select(tasks.c.id).where(
            tasks.c.owner_id == owner,
            tasks.c.previous_occurrence_id == previous,
            tasks.c.id != task_id,
        )
    )
    return found.first() is not None


async def purge_expired(database: Database, window: timedelta, now: datetime) -> tuple[int, int]:
    """Deletes the tasks deleted longer than `window` ago (with their tags) and the undo
    records expired more than `EXPIRED_KEPT_WINDOWS` windows ago; returns (tasks, records)."""
    cutoff = now - window
    gone = select(tasks.c.id).where(tasks.c.deleted_time < cutoff).scalar_subquery()
    async with database.session() as session:
        await session.execute(delete(task_tags).where(task_tags.c.task_id.in_(gone)))
        purged = await session.execute(delete(tasks).where(tasks.c.deleted_time < cutoff))
        expired = await session.execute(
            delete(undo_records).where(
                undo_records.c.expire_time < now - window * EXPIRED_KEPT_WINDOWS
            )
        )
    return (
        int(getattr(purged, "rowcount", 0) or 0),
        int(getattr(expired, "rowcount", 0) or 0),
    )


class UndoPurger:
    """Runs `purge_expired` every `interval` in the background of one tasks process."""

    def __init__(
        self,
        database: Database,
        window: timedelta,
        interval: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = database
        self._window = window
        self._interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=PURGER_TASK)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                purged, expired = await purge_expired(self._db, self._window, self._clock())
                if purged or expired:
                    log.info("undo purge", extra={"tasks": purged, "records": expired})
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # The next round tries again; a database outage must not end the loop.
                log.warning("undo purge failed", extra={"error": type(error).__name__})
            await asyncio.sleep(self._interval)
