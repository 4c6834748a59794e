"""The change outbox's SQL: appending an event inside a write's unit of work, and reading an
owner's events after a cursor (WatchTaskEvents).

Cursors are the outbox row ids. An owner's ids must become visible in id order, or a watcher
that has read id 7 would skip an id 6 committed after it. On PostgreSQL each append first
takes a transaction-scoped advisory lock on the owner, so two transactions of one owner
append (and commit) one after the other; SQLite has one writer at a time anyway. The
`NOTIFY` is sent on commit only, so watchers are never woken for a change that rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from todo_common.db import Database, is_postgres
from todo_common.notify import notify_on_commit

from todo_tasks.models import TaskEventRow

task_events = cast(Table, TaskEventRow.__table__)

# The PostgreSQL channel every tasks replica listens on; the payload is the owner's id.
NOTIFY_CHANNEL = "todo_task_events"

_LOCK_OWNER = text("SELECT pg_advisory_xact_lock(hashtextextended(:owner, 0))")

_AFTER = (
    select(task_events)
    .where(task_events.c.owner_id == bindparam("owner"), task_events.c.id > bindparam("after"))
    .order_by(task_events.c.id)
    .limit(bindparam("limit"))
)
_LATEST = select(func.max(task_events.c.id)).where(task_events.c.owner_id == bindparam("owner"))


async def append_event(
    session: AsyncSession,
    owner: str,
    *,
    kind: int,
    task_id: str,
    task: bytes | None,
    now: datetime,
) -> None:
    """Records one change in the caller's unit of work (it commits or rolls back with it)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await session.execute(_LOCK_OWNER, {"owner": owner})
    await session.execute(
        insert(task_events).values(
            owner_id=owner, task_id=task_id, kind=kind, task=task, event_time=now
        )
    )
    await notify_on_commit(session, NOTIFY_CHANNEL, owner)


async def purge_events(session: AsyncSession, owner: str) -> None:
    """Deletes every event of `owner` (account deletion)."""
    await session.execute(delete(task_events).where(task_events.c.owner_id == owner))


async def delete_events_before(database: Database, cutoff: datetime) -> int:
    """Deletes every event older than `cutoff` (retention); returns how many went."""
    async with database.session() as session:
        result = await session.execute(delete(task_events).where(task_events.c.event_time < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


class EventReads:
    """An owner's events, read outside any unit of work (each read is one statement)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self.postgres = is_postgres(database.engine)

    async def latest(self, owner: str) -> int:
        """The newest event id of `owner` (0 when there is none yet)."""
        async with self._db.read_session() as session:
            value = (await session.execute(_LATEST, {"owner": owner})).scalar()
        return int(value or 0)

    async def after(self, owner: str, cursor: int, limit: int) -> Sequence[Any]:
        """Up to `limit` events of `owner` with ids above `cursor`, oldest first."""
        async with self._db.read_session() as session:
            result = await session.execute(
                _AFTER, {"owner": owner, "after": cursor, "limit": limit}
            )
            return list(result)
