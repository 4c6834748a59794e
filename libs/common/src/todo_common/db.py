"""The async database engine and the one-session-per-RPC scope (PostgreSQL via asyncpg, SQLite).

Each service owns one schema (PostgreSQL) or one file (SQLite). Tables are declared without a
schema; on PostgreSQL the connection's `search_path` points at the service's schema, so the
same models and migrations work on both.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from todo_common.errors import DomainError, Unavailable

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable right now; try again shortly."


def normalise_url(url: str) -> URL:
    """Returns the URL with the async driver this project uses for its backend."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}: use postgresql or sqlite"
    )


def is_postgres(engine: AsyncEngine) -> bool:
    """True when the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


# How long a SQLite connection waits for another's lock: a query, and a migration (or the
# switch of a new file to WAL) while another process migrates the same file.
SQLITE_QUERY_WAIT_MS = 5_000
SQLITE_LOCK_WAIT_MS = 60_000


def create_engine(
    url: str, schema: str | None = None, *, pool_size: int = 10, pool_timeout: float = 5.0
) -> AsyncEngine:
    """Creates the engine for one service's database.

    PostgreSQL: `schema` becomes the search_path. Dead pooled connections are handled
    optimistically rather than pinged on every checkout (a round trip per RPC): the first call
    that meets one fails with a disconnect, SQLAlchemy then invalidates the whole pool, that call
    answers UNAVAILABLE (retryable), and the next one reconnects, so the service recovers by
    itself after a database restart.
    SQLite: the file's folder is created, WAL mode and a busy timeout let readers and one
    writer share it.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "postgresql":
        server_settings = {"application_name": "todo-assistant"}
        if schema:
            server_settings["search_path"] = schema
        return create_async_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=pool_timeout,
            pool_recycle=1800,
            connect_args={"server_settings": server_settings, "timeout": 5, "command_timeout": 30},
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, pool_size=pool_size, connect_args={"timeout": 5})

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # A new file is switched to WAL once (it stays so); see `_switch_to_wal`.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_LOCK_WAIT_MS}")
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_QUERY_WAIT_MS}")
        cursor.close()

    return engine


def _switch_to_wal(cursor: Any) -> None:
    """Makes a new SQLite file WAL. That needs the file's exclusive lock, which another
    process's migration may hold for a while (`make token` in a second terminal while `make
    run` migrates the same file), and SQLite answers "database is locked" at once instead of
    waiting for it: so the switch is tried again, without blocking the event loop, for as
    long as a migration waits for its lock."""
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        await_only(asyncio.sleep(0.05))


def is_connectivity_error(exc: BaseException) -> bool:
    """True when the error means the database cannot be reached (as opposed to a bad query)."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(
        exc,
        sqlalchemy.exc.OperationalError
        | sqlalchemy.exc.InterfaceError
        | sqlalchemy.exc.TimeoutError
        | OSError
        | asyncio.TimeoutError,
    ):
        return True
    # asyncpg raises its own connection errors, sometimes wrapped by SQLAlchemy (and bare
    # from `Database.read_connection`'s driver connection).
    cause = getattr(exc, "orig", None) or exc.__cause__ or exc
    name = type(cause).__name__ if cause is not None else ""
    return name in {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        "InterfaceError",
        "AdminShutdownError",
    }


@contextmanager
def _unavailable_when_unreachable() -> Iterator[None]:
    """Losing the database surfaces as `Unavailable` (retryable), never as a driver error."""
    try:
        yield
    except DomainError:
        raise
    except Exception as exc:
        if is_connectivity_error(exc):
            log.warning("database unavailable", extra={"error": type(exc).__name__})
            raise Unavailable(DATABASE_UNAVAILABLE, reason="DATABASE_UNAVAILABLE") from exc
        raise


class Database:
    """Owns the engine and opens sessions. Only the RPC boundary commits."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        # Reads need no transaction: autocommit saves the BEGIN and COMMIT round trips.
        self._read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_sessions = async_sessionmaker(
            self._read_engine, expire_on_commit=False, autoflush=False
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        schema: str | None = None,
        *,
        pool_size: int = 10,
        pool_timeout: float = 5.0,
    ) -> Database:
        """Creates the engine and the session factory (`pool_timeout`: how long a unit of
        work may wait for a pooled connection before it fails as Unavailable)."""
        return cls(create_engine(url, schema, pool_size=pool_size, pool_timeout=pool_timeout))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block succeeds, rolls back when it raises.

        Losing the database surfaces as `Unavailable`, never as a raw driver error.
        """
        async with self._scope(self._sessions, commit=True) as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work of one statement (or statements that need not agree with
        each other): no transaction, so no BEGIN/COMMIT round trips. Never write in it."""
        async with self._scope(self._read_sessions, commit=False) as session:
            yield session

    @asynccontextmanager
    async def statement_session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work of exactly ONE statement, a read or a write, in autocommit: one
        statement is atomic on its own, so BEGIN and COMMIT would only add two round trips."""
        async with self._scope(self._read_sessions, commit=False) as session:
            yield session

    @asynccontextmanager
    async def _scope(
        self, sessions: async_sessionmaker[AsyncSession], *, commit: bool
    ) -> AsyncIterator[AsyncSession]:
        with _unavailable_when_unreachable():
            async with sessions() as session:
                try:
                    yield session
                    if commit:  # autocommit reads have nothing to commit
                        await session.commit()
                except BaseException:
                    try:
                        await session.rollback()
                    except Exception:  # the connection may be gone; the original error matters
                        log.debug("rollback failed", exc_info=True)
                    raise

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled autocommit connection for reads below the ORM: the tasks service runs its
        hot reads as prepared statements on its asyncpg driver connection
        (`await connection.get_raw_connection()`), ~1 ms less per call than a session. Never
        write through it. Errors map as in `session()`; a connection that lost the database
        is invalidated, so the pool does not hand it out again."""
        with _unavailable_when_unreachable():
            async with self._read_engine.connect() as connection:
                try:
                    yield connection
                except Exception as exc:
                    if is_connectivity_error(exc):
                        await connection.invalidate()
                    raise

    @asynccontextmanager
    async def statement_connection(self) -> AsyncIterator[AsyncConnection]:
        """`read_connection` for exactly ONE statement, a read or a write, in autocommit (see
        `statement_session`): the edge's chat store writes through its asyncpg driver
        connection."""
        async with self.read_connection() as connection:
            yield connection

    async def is_reachable(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        """Closes every pooled connection."""
        await self.engine.dispose()
