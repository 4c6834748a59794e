"""The reminder scheduler: a background task of every tasks process that delivers due
reminders to their owner's change feed, exactly once across replicas and restarts.

One pass is one unit of work: claim a batch of due `task_reminders` rows and mark them fired
(one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, so two replicas
never claim the same row and neither waits for the other), then append a reminder event per
row to the outbox (`outbox.py`), then commit. The claim and the events commit together or not
at all: a process that dies mid-pass leaves the rows pending for the next pass of any replica,
and a committed row is never claimed again.

On SQLite there are no row locks; the claim is the transaction's first statement and a write,
so SQLite's single writer serialises two passes (also of two processes on one file): the
second sees the rows already fired. That is enough for the embedded single-process default.

Each claimed row's task is read after taking its owner's outbox lock, that is after the
owner's other writers committed, so a reminder of a task completed or deleted a moment before
is dropped instead of delivered. Rows are handled in owner order, so two passes take owner
locks in the same order and cannot deadlock each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.db import Database

from todo_tasks.models import TaskReminderRow
from todo_tasks.outbox import append_event, lock_owner
from todo_tasks.repository import TaskRepository
from todo_tasks.service import task_to_proto

log = logging.getLogger(__name__)

task_reminders = cast(Table, TaskReminderRow.__table__)

SCHEDULER_TASK = "tasks-reminder-scheduler"


class ReminderScheduler:
    """Fires due reminders every `poll_seconds` (and again at once while a pass fills its
    batch); `wake(owner)` is told after each commit, to wake this process's feed streams."""

    def __init__(
        self,
        database: Database,
        *,
        poll_seconds: float,
        batch_size: int = 100,
        wake: Callable[[str], None] | None = None,
    ) -> None:
        self._db = database
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._wake = wake or (lambda _owner: None)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts the background loop (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=SCHEDULER_TASK)

    async def close(self) -> None:
        """Stops the loop: a pass under way finishes (or, cancelled, rolls back whole)."""
        self._stopping.set()
        if self._task is None:
            return
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(task, timeout=5.0)
        except TimeoutError:
            log.warning("reminder scheduler did not stop in time; cancelled")
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            fired = 0
            try:
                fired = await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # The database is away or a pass lost a race: nothing was committed, so the
                # reminders are still pending; try again after the poll period.
                log.warning("reminder pass failed", extra={"error": type(error).__name__})
            if fired >= self.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    async def fire_due(self, now: datetime | None = None) -> int:
        """One pass: delivers up to `batch_size` reminders due by `now`; returns how many
        rows it claimed (delivered or dropped with their task)."""
        now = now or datetime.now(UTC)
        due = (
            select(task_reminders.c.id)
            .where(task_reminders.c.fired_at.is_(None), task_reminders.c.fire_at <= now)
            .order_by(task_reminders.c.fire_at)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(task_reminders)
            .where(task_reminders.c.id.in_(due.scalar_subquery()))
            .values(fired_at=now)
            .returning(
                task_reminders.c.id,
                task_reminders.c.owner_id,
                task_reminders.c.task_id,
                task_reminders.c.fire_at,
            )
            .execution_options(synchronize_session=False)
        )
        delivered: list[str] = []
        async with self._db.session() as session:
            claimed = sorted((await session.execute(claim)).all(), key=lambda r: r.owner_id)
            for row in claimed:
                if await self._deliver(session, row, now):
                    delivered.append(row.owner_id)
        for owner in set(delivered):
            self._wake(owner)
        if claimed:
            log.info("reminders fired", extra={"count": len(delivered), "claimed": len(claimed)})
        return len(claimed)

    @staticmethod
    async def _deliver(session: Any, row: Any, now: datetime) -> bool:
        """Appends one claimed reminder's event; False (and the row dropped) when its task is
        gone or no longer open."""
        await lock_owner(session, row.owner_id)
        task = await TaskRepository(session, row.owner_id).get(row.task_id)
        if task is None or task.state != pb.TASK_STATE_OPEN:
            await session.execute(delete(task_reminders).where(task_reminders.c.id == row.id))
            return False
        await append_event(
            session,
            row.owner_id,
            kind=pb.TASK_EVENT_KIND_REMINDER,
            task_id=row.task_id,
            task=task_to_proto(task._mapping).SerializeToString(),
            now=now,
            reminder_time=row.fire_at,
        )
        return True
