"""Account deletion's part in the tasks service: every task of one owner, with their tags and
idempotency records, change events and undo records, deleted in one unit of work
(PurgeTasks)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from todo_tasks.models import IdempotencyRow, TaskRow, TaskTagRow, UndoRecordRow
from todo_tasks.outbox import purge_events


async def purge_owner(session: AsyncSession, owner_id: str) -> int:
    """Deletes everything `owner_id` has here; returns how many tasks went (deleted tasks
    still kept for undo go too, uncounted, as they are already gone for the owner).
    Idempotent."""
    await session.execute(delete(TaskTagRow).where(TaskTagRow.owner_id == owner_id))
    await session.execute(delete(IdempotencyRow).where(IdempotencyRow.owner_id == owner_id))
    await session.execute(delete(UndoRecordRow).where(UndoRecordRow.owner_id == owner_id))
    await purge_events(session, owner_id)
    await session.execute(
        delete(TaskRow).where(TaskRow.owner_id == owner_id, TaskRow.deleted_time.is_not(None))
    )
    result = await session.execute(delete(TaskRow).where(TaskRow.owner_id == owner_id))
    return int(getattr(result, "rowcount", 0) or 0)
