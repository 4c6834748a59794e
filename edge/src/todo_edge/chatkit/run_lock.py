"""One reply at a time per thread, across every edge replica: a turn that would run the model
in a thread whose reply is still streaming (another tab, perhaps through another edge) is
refused at once with 409, reason `REPLY_IN_PROGRESS`, before anything is stored.

The lock is taken as the first step of the stream, like the turn slot (`admission`), so a
refusal surfaces from `EventStreamResponse.open` as a problem+json response and the thread
keeps exactly what it had: never two user messages before one answer, never two answers
interleaved. A new thread (threads.create) is locked as soon as the SDK has named it, before
the first message is stored, so a tab that sees it in the thread list cannot reply into it. It is released when the stream ends however it ends (finished, failed, or
cancelled when the client went away), after the SDK has stored the partial answer.

On PostgreSQL the lock is a session-level advisory lock (`pg_try_advisory_lock`) taken on one
connection per edge process, kept outside the pool: no pooled connection is held across the
model call, and when the edge dies (`kill -9`, a lost node) PostgreSQL ends its session and
frees its threads at once, so a new turn in the same thread is not blocked by a dead edge.
Advisory locks are re-entrant within one session, so the process also remembers which locks it
holds: a second tab through the same edge is refused the same way. On SQLite (`make run`, one
edge process) the process's own record is the whole lock.

If the lock connection itself is lost mid-turn, the turns it covered finish unprotected (their
locks went with the session); the next turn reconnects. Waiting for the reply instead of
refusing was not chosen: a waiting request would hold its turn slot and an open HTTP request
for up to a whole reply, with nothing to show, and the design refuses rather than queues.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

import asyncpg
from chatkit.types import (
    ChatKitReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsRetryAfterItemReq,
)
from sqlalchemy.engine import URL
from todo_common.db import DATABASE_UNAVAILABLE, normalise_url
from todo_common.errors import FailedPrecondition, Unavailable

from todo_edge.chatkit.context import ChatContext

log = logging.getLogger(__name__)

REPLY_IN_PROGRESS_REASON = "REPLY_IN_PROGRESS"
REPLY_IN_PROGRESS_MESSAGE = (
    "A reply is already in progress in this conversation (perhaps in another tab). "
    "Wait for it to finish, then send your message again."
)
# The requests that run the model in a thread they name (threads.create is locked once its
# first event names the new thread). Widget actions (task cards) only replace their own card.
LOCKED_REQUESTS = (
    ThreadsAddUserMessageReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsRetryAfterItemReq,
)
# A lock statement that takes longer than this means the database is in trouble: the turn
# fails as Unavailable (503) rather than hanging.
LOCK_STATEMENT_TIMEOUT_SECONDS = 5.0
# What the lock connection calls itself in pg_stat_activity (its locks are in pg_locks).
APPLICATION_NAME = "todo-edge-run-locks"
# What a lost or unreachable database raises from asyncpg.
CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def run_lock_key(user_id: str, thread_id: str) -> int:
    """The advisory-lock key of one user's thread (a signed 64-bit integer). The owner is part
    of it, so another user's request for the same id is never refused as busy: it goes on to
    be a 404 like any missing thread."""
    digest = hashlib.blake2b(
        f"{user_id}\0{thread_id}".encode(), digest_size=8, person=b"todo-run-lock"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def locked_thread(request: ChatKitReq) -> str | None:
    """The thread a streaming request would run the model in, if it needs the lock."""
    if isinstance(request, LOCKED_REQUESTS):
        return request.params.thread_id
    return None


def created_thread(chunk: bytes) -> str | None:
    """The thread id a stream's first SSE frame names when it is `thread.created`."""
    try:
        event = json.loads(chunk.removeprefix(b"data: "))
        return str(event["thread"]["id"]) if event.get("type") == "thread.created" else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _connect_arguments(url: URL) -> dict[str, Any]:
    """asyncpg.connect's arguments for the edge's database URL, its query parameters (`ssl`
    for a managed database, say) kept as SQLAlchemy's asyncpg dialect keeps them."""
    arguments: dict[str, Any] = {**url.translate_connect_args(username="user"), **url.query}
    for sqlalchemy_only in ("prepared_statement_cache_size", "async_fallback"):
        arguments.pop(sqlalchemy_only, None)
    return arguments


class _AdvisoryLocks:
    """Session-level advisory locks on one dedicated asyncpg connection (made on first use,
    made again after it was lost)."""

    def __init__(self, url: URL) -> None:
        self._url = url
        self._connection: Any = None  # asyncpg.Connection (untyped package)
        # One statement at a time on the one connection.
        self._guard = asyncio.Lock()

    async def _connected(self) -> Any:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(
                **_connect_arguments(self._url),
                timeout=LOCK_STATEMENT_TIMEOUT_SECONDS,
                server_settings={"application_name": APPLICATION_NAME},
            )
        return self._connection

    async def try_lock(self, key: int) -> Any | None:
        """Takes the lock: the connection now holding it, or None when another session has it.
        A lost connection is made again once (its locks are gone with it anyway); raises
        Unavailable when the database cannot be reached."""
        async with self._guard:
            try:
                return await self._try_lock_once(key)
            except CONNECTION_ERRORS:
                self._drop()
            try:
                return await self._try_lock_once(key)
            except CONNECTION_ERRORS:
                self._drop()
                log.warning("run lock: database unreachable", exc_info=True)
                raise Unavailable(DATABASE_UNAVAILABLE) from None

    async def _try_lock_once(self, key: int) -> Any | None:
        connection = await self._connected()
        statement = "SELECT pg_try_advisory_lock($1)"
        taken = await connection.fetchval(statement, key, timeout=LOCK_STATEMENT_TIMEOUT_SECONDS)
        return connection if taken else None

    @property
    def session_pid(self) -> int | None:
        """The PostgreSQL backend pid of the lock session (`pg_locks.pid`), when connected."""
        connection = self._connection
        if connection is None or connection.is_closed():
            return None
        return int(connection.get_server_pid())

    async def unlock(self, key: int, connection: Any) -> None:
        """Gives the lock back (nothing to do when its connection is gone: so is the lock)."""
        async with self._guard:
            if connection is not self._connection or connection.is_closed():
                return
            try:
                await connection.fetchval(
                    "SELECT pg_advisory_unlock($1)", key, timeout=LOCK_STATEMENT_TIMEOUT_SECONDS
                )
            except CONNECTION_ERRORS:
                # A lock that cannot be given back must not outlive its turn: ending the
                # session frees it (and this edge's other locks; their turns finish unguarded).
                log.warning("run lock: could not release; dropping the connection", exc_info=True)
                self._drop()

    def _drop(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            self._connection.terminate()
        self._connection = None

    async def close(self) -> None:
        async with self._guard:
            if self._connection is not None and not self._connection.is_closed():
                await self._connection.close()
            self._connection = None


class ThreadRunLocks:
    """The run locks of one edge process."""

    def __init__(self, database_url: str) -> None:
        url = normalise_url(database_url)
        self._advisory = _AdvisoryLocks(url) if url.get_backend_name() == "postgresql" else None
        # Keys this process holds, and the connection each was taken on (None on SQLite).
        self._held: dict[int, Any] = {}

    @property
    def held(self) -> int:
        """How many threads have a reply running in this process."""
        return len(self._held)

    @property
    def session_pid(self) -> int | None:
        """The PostgreSQL backend pid holding this process's locks (None on SQLite or before
        the first turn): an operator finds them with `SELECT * FROM pg_locks WHERE pid = …`."""
        return self._advisory.session_pid if self._advisory else None

    async def acquire(self, user_id: str, thread_id: str) -> int:
        """Takes the thread's lock (returns its key) or raises FailedPrecondition (→ 409)."""
        key = run_lock_key(user_id, thread_id)
        if key in self._held:
            raise _busy()
        self._held[key] = None  # claimed here before the await: a racing tab sees it
        try:
            connection = await self._advisory.try_lock(key) if self._advisory else None
        except BaseException:
            del self._held[key]
            raise
        if self._advisory and connection is None:
            del self._held[key]
            raise _busy()
        self._held[key] = connection
        return key

    async def release(self, key: int) -> None:
        """Gives the lock back; shielded, so a second cancellation cannot leave it held."""
        connection = self._held.pop(key, None)
        if self._advisory and connection is not None:
            await asyncio.shield(self._advisory.unlock(key, connection))

    async def guarded(
        self, request: ChatKitReq, context: ChatContext, stream: AsyncGenerator[bytes, None]
    ) -> AsyncGenerator[bytes, None]:
        """`stream` run under its thread's lock: taken before its first step (or the refusal
        raised there) for a request naming a thread; for threads.create, as soon as its first
        event names the new thread, before the user's message is stored. Given back once the
        stream has ended and closed."""
        key: int | None = None
        naming = isinstance(request, ThreadsCreateReq)
        try:
            thread_id = locked_thread(request)
            if thread_id is not None:
                key = await self.acquire(context.user_id, thread_id)
            async for chunk in stream:
                if naming:
                    naming = False
                    created = created_thread(chunk)
                    if created is not None:
                        key = await self.acquire(context.user_id, created)
                yield chunk
        finally:
            try:
                await stream.aclose()  # closes it too when refused before its first step
            finally:
                if key is not None:
                    await self.release(key)

    async def close(self) -> None:
        """Closes the lock connection (its locks end with it)."""
        if self._advisory:
            await self._advisory.close()


def _busy() -> FailedPrecondition:
    return FailedPrecondition(REPLY_IN_PROGRESS_MESSAGE, reason=REPLY_IN_PROGRESS_REASON)
