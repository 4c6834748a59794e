"""Wake-ups for WatchTaskEvents: tells an owner's open streams that new events committed.

The events themselves are always read from the outbox table (`outbox.py`); this only says
when to look. A write wakes the streams of this process directly after its commit. On
PostgreSQL one pooled connection per process LISTENs on `NOTIFY_CHANNEL`, so a write on any
replica wakes the streams on every replica within milliseconds. Every stream also looks again
after `poll_seconds` without a wake-up: the only way on SQLite to see another process's
writes, and a safety net on PostgreSQL should a notification be lost while the listening
connection reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from todo_common.db import Database, is_postgres

from todo_tasks.outbox import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

LISTENER_TASK = "tasks-change-feed-listener"
# How long the listener waits before reconnecting after losing its connection.
RECONNECT_SECONDS = 1.0


class ChangeFeed:
    """The wake-up hub of one tasks process."""

    def __init__(self, database: Database, *, poll_seconds: float) -> None:
        self._db = database
        self.poll_seconds = poll_seconds
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._closed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        # Set while the PostgreSQL listener is connected (tests wait for it).
        self.listening = asyncio.Event()

    @property
    def closed(self) -> bool:
        """True once the process is shutting down: streams end."""
        return self._closed.is_set()

    def start(self) -> None:
        """Starts listening for other replicas' writes (PostgreSQL only)."""
        if is_postgres(self._db.engine) and self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name=LISTENER_TASK)

    async def close(self) -> None:
        """Ends every stream's wait and stops listening."""
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
    def subscribe(self, owner: str) -> Iterator[asyncio.Event]:
        """An event set whenever `owner` may have new events, for the life of the block."""
        event = asyncio.Event()
        self._waiters[owner].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters[owner]
            waiters.discard(event)
            if not waiters:
                del self._waiters[owner]

    def wake(self, owner: str) -> None:
        """Wakes every stream of `owner` in this process (after a committed write)."""
        for event in self._waiters.get(owner, ()):
            event.set()

    def _wake_all(self) -> None:
        for owner in list(self._waiters):
            self.wake(owner)

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
                    await driver.add_listener(NOTIFY_CHANNEL, self._on_notify)
                    self.listening.set()
                    # Anything committed while not listening is found by looking again now.
                    self._wake_all()
                    try:
                        await lost.wait()
                    finally:
                        self.listening.clear()
                        if not driver.is_closed():
                            with contextlib.suppress(Exception):
                                await driver.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                log.warning("change feed listener lost its connection; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("change feed listener failed", extra={"error": type(error).__name__})
            await asyncio.sleep(RECONNECT_SECONDS)
