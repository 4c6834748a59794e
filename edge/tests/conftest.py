"""Edge test fixtures: HTTP clients for the module's edge (the real auth + tasks servers, the
edge itself and the users `alice` and `bob` come from the test kit)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from todo_testkit.auth import SignedUpUser
from todo_testkit.edge import EdgeHandle


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
