"""Wake-ups for WatchTaskEvents: tells an owner's open streams that new events committed.

The events themselves are always read from the outbox table (`outbox.py`); this hub (the
shared `NotifyHub` on the outbox's channel, keyed by owner id) only says when to look: a write
wakes this process's streams after its commit, and every replica's streams through PostgreSQL
`NOTIFY`. Streams also look again after `poll_seconds` without a wake-up (SQLite, and a safety
net should a notification be lost).
"""

from __future__ import annotations

from todo_common.db import Database
from todo_common.notify import NotifyHub

from todo_tasks.outbox import NOTIFY_CHANNEL


class ChangeFeed(NotifyHub):
    """The wake-up hub of one tasks process, keyed by owner id."""

    def __init__(self, database: Database, *, poll_seconds: float) -> None:
        super().__init__(database, NOTIFY_CHANNEL, poll_seconds=poll_seconds)
