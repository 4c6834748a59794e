"""Account deletion's part in the tasks service: every task of one owner, with their tags and
idempotency records, change events and reminders, deleted in one unit of work (PurgeTasks)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from todo_tasks.models import IdempotencyRow, TaskRow, TaskTagRow
from todo_tasks.outbox import purge_events
from todo_tasks.reminders import purge_reminders


async def purge_owner(session: AsyncSession, owner_id: str) -> int:
    """Deletes everything `owner_id` has here; returns how many tasks went. Idempotent."""
    await session.execute(delete(TaskTagRow).where(TaskTagRow.owner_id == owner_id))
    await session.execute(delete(IdempotencyRow).where(IdempotencyRow.owner_id == owner_id))
    await purge_events(session, owner_id)
    await purge_reminders(session, owner_id)
    result = await session.execute(delete(TaskRow).where(TaskRow.owner_id == owner_id))
    return int(getattr(result, "rowcount", 0) or 0)
