"""Wake-ups after committed writes, within a process and across processes (PostgreSQL NOTIFY).

The data itself is always read from its table; a hub only says when to look. A write wakes the
waiters of its own process directly after its commit (`wake`). On PostgreSQL one pooled
connection per hub LISTENs on its channel, and a writer's `pg_notify(channel, key)` in the
same transaction (sent on commit only) wakes the waiters on `key` in every process within
milliseconds. Waiters also look again after `poll_seconds` without a wake-up: the only way on
SQLite to see another process's writes, and a safety net on PostgreSQL should a notification
be lost while the listening connection reconnects (on reconnecting, every waiter is woken).

Used by the tasks service's change feed (`WatchTaskEvents`) and the auth service's revocation
watch (`WatchRevokedSessions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from todo_common.db import Database, is_postgres

log = logging.getLogger(__name__)

LISTENER_TASK_PREFIX = "notify-listener-"
# How long the listener waits before reconnecting after losing its connection.
RECONNECT_SECONDS = 1.0

_NOTIFY = text("SELECT pg_notify(:channel, :key)")
_NOTIFY_SCHEMA = text("SELECT pg_notify(:channel, current_schema())")


async def notify_on_commit(session: AsyncSession, channel: str, key: str | None) -> None:
    """Queues `key` on `channel` for when `session`'s transaction commits (PostgreSQL; a no-op
    on SQLite, whose processes see each other's writes by polling). `key=None` sends the
    session's schema: channels are per database, and this keeps deployments (or tests) that
    share one database in different schemas from waking each other."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if key is None:
        await session.execute(_NOTIFY_SCHEMA, {"channel": channel})
    else:
        await session.execute(_NOTIFY, {"channel": channel, "key": key})


class NotifyHub:
    """The wake-up hub of one process for one PostgreSQL notification channel."""

    def __init__(self, database: Database, channel: str, *, poll_seconds: float) -> None:
        self._db = database
        self._channel = channel
        self.poll_seconds = poll_seconds
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._closed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        # Set while the PostgreSQL listener is connected (tests wait for it).
        self.listening = asyncio.Event()

    @property
    def closed(self) -> bool:
        """True once the process is shutting down: waiters stop waiting."""
        return self._closed.is_set()

    def start(self) -> None:
        """Starts listening for other processes' writes (PostgreSQL only)."""
        if is_postgres(self._db.engine) and self._listener is None:
            self._listener = asyncio.create_task(
                self._listen(), name=f"{LISTENER_TASK_PREFIX}{self._channel}"
            )

    async def close(self) -> None:
        """Ends every waiter's wait and stops listening."""
        self._closed.set()
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    @contextlib.contextmanager
    def subscribe(self, key: str) -> Iterator[asyncio.Event]:
        """An event set whenever `key` may have something new, for the life of the block."""
        event = asyncio.Event()
        self._waiters[key].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters[key]
            waiters.discard(event)
            if not waiters:
                del self._waiters[key]

    def wake(self, key: str) -> None:
        """Wakes every waiter on `key` in this process (after a committed write)."""
        for event in self._waiters.get(key, ()):
            event.set()

    def _wake_all(self) -> None:
        for key in list(self._waiters):
            self.wake(key)

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Returns when `event` is set (then clears it), the feed closes, or after `seconds`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
        event.clear()

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.wake(payload)

    async def _listen(self) -> None:
        """Holds one connection LISTENing; reconnects after losing it."""
        while not self.closed:
            lost = asyncio.Event()

            def on_lost(_connection: Any, lost: asyncio.Event = lost) -> None:
                lost.set()

            try:
                async with self._db.engine.connect() as connection:
                    raw = await connection.get_raw_connection()
                    driver: Any = raw.driver_connection
                    driver.add_termination_listener(on_lost)
                    await driver.add_listener(self._channel, self._on_notify)
                    self.listening.set()
                    # Anything committed while not listening is found by looking again now.
                    self._wake_all()
                    try:
                        await lost.wait()
                    finally:
                        self.listening.clear()
                        if not driver.is_closed():
                            with contextlib.suppress(Exception):
                                await driver.remove_listener(self._channel, self._on_notify)
                log.warning(
                    "notification listener lost its connection; reconnecting",
                    extra={"channel": self._channel},
                )
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "notification listener failed",
                    extra={"channel": self._channel, "error": type(error).__name__},
                )
            await asyncio.sleep(RECONNECT_SECONDS)
