"""Isolated test databases: a SQLite file per test, or a fresh PostgreSQL schema when
TEST_DATABASE_URL points at a server (CI sets it)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

TEST_DATABASE_URL_ENV = "TEST_DATABASE_URL"


@dataclass(frozen=True)
class IsolatedDatabase:
    """Where one service's test data lives: a URL and (PostgreSQL) the schema it owns."""

    url: str
    schema: str

    @property
    def is_postgres(self) -> bool:
        """True for PostgreSQL."""
        return make_url(self.url).get_backend_name() == "postgresql"

    def require_postgres(self, why: str) -> None:
        """Skips the test on SQLite, saying `why` it needs PostgreSQL."""
        if not self.is_postgres:
            pytest.skip(f"{why} only on PostgreSQL (TEST_DATABASE_URL)")


async def connect_postgres(url: str, **options: Any) -> Any:
    """A plain asyncpg connection (an `asyncpg.Connection`) to the server and database of the
    SQLAlchemy `url`, for what a test does behind the services' backs; `options` go to
    `asyncpg.connect` (a `timeout`, say)."""
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
        **options,
    )


def postgres_url() -> str | None:
    """TEST_DATABASE_URL when it names a PostgreSQL server, else None."""
    url = os.environ.get(TEST_DATABASE_URL_ENV, "").strip()
    return url or None


def new_database(service: str, folder: Path, *, url: str | None = None) -> IsolatedDatabase:
    """A database nobody else uses: a new schema on PostgreSQL (on `url`, else on
    TEST_DATABASE_URL), a new file in `folder` on SQLite."""
    schema = f"{service}_test_{uuid.uuid4().hex[:10]}"
    url = url or postgres_url()
    if url:
        return IsolatedDatabase(url=url, schema=schema)
    return IsolatedDatabase(url=f"sqlite+aiosqlite:///{folder / (schema + '.db')}", schema=schema)


async def drop_database(database: IsolatedDatabase) -> None:
    """Drops a PostgreSQL test schema (SQLite files go with the temporary folder)."""
    if not database.is_postgres:
        return
    connection = await connect_postgres(database.url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE')
    finally:
        await connection.close()
