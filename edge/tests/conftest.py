"""Edge test fixtures: HTTP clients for the module's edge (the real auth + tasks servers, the
edge itself and the users `alice` and `bob` come from the test kit), and a counter of the reads
that reach the chat tables."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from todo_common.prepared import PreparedReads
from todo_testkit.auth import SignedUpUser
from todo_testkit.edge import EdgeHandle

# A SELECT's table (schema-qualified on PostgreSQL); the edge's chat tables are `chat_*`.
_CHAT_SELECT = re.compile(
    r"^\s*SELECT\b.*?\bFROM\s+(?:\w+\.)?(chat_\w+)", re.DOTALL | re.IGNORECASE
)


@pytest.fixture
async def http(edge_service: EdgeHandle) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous HTTP client for the module's edge."""
    async with edge_service.client() as client:
        yield client


@pytest.fixture
async def alice_http(
    edge_service: EdgeHandle, alice: SignedUpUser
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client sending alice's access token."""
    async with edge_service.client(alice.access_token) as client:
        yield client


@pytest.fixture
async def bob_http(edge_service: EdgeHandle, bob: SignedUpUser) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client sending bob's access token."""
    async with edge_service.client(bob.access_token) as client:
        yield client


@pytest.fixture
def chat_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """SELECTs per chat table (`chat_threads`, `chat_items`, …) that any engine in this
    process sends while the test runs: what really reaches the database, whatever the store
    answers from its caches. Prepared statements on PostgreSQL (`PreparedReads`) bypass the
    engine's events; they are counted where their SQL text is looked up, once per query."""
    reads: Counter[str] = Counter()

    def count(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        match = _CHAT_SELECT.match(statement)
        if match:
            reads[match.group(1)] += 1

    compiled = PreparedReads._compiled

    def counted(self: PreparedReads, statement: Any) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        found = compiled(self, statement)
        count(None, None, found[0])
        return found

    monkeypatch.setattr(PreparedReads, "_compiled", counted)
    event.listen(Engine, "before_cursor_execute", count)
    yield reads
    event.remove(Engine, "before_cursor_execute", count)
