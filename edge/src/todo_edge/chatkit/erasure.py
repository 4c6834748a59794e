"""Erasing everything the chat store holds for one user (account deletion).

The rows of every table carry their owner's id, so one transaction deletes them by owner,
children first (feedback, items, attachments, then threads) so it does not depend on the
database enforcing ON DELETE CASCADE. Erasing a user with nothing stored deletes nothing:
safe to retry.
"""

from __future__ import annotations

from sqlalchemy import delete
from todo_common.db import Database

from todo_edge.chatkit.models import (
    ChatAttachmentRow,
    ChatItemFeedbackRow,
    ChatItemRow,
    ChatThreadRow,
)

_OWNED_TABLES = (ChatItemFeedbackRow, ChatItemRow, ChatAttachmentRow, ChatThreadRow)


async def erase_owner(database: Database, owner_id: str) -> int:
    """Deletes the threads, items, feedback and attachments of `owner_id`; returns how many
    threads went."""
    threads = 0
    async with database.session() as session:
        for table in _OWNED_TABLES:
            result = await session.execute(delete(table).where(table.owner_id == owner_id))
            if table is ChatThreadRow:
                threads = int(getattr(result, "rowcount", 0) or 0)
    return threads
