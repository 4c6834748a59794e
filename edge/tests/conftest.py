"""Edge test fixtures: real auth + tasks servers (todo_testkit), the edge over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from todo_testkit.auth import SignedUpUser, SignUp
from todo_testkit.edge import EdgeHandle


@pytest.fixture
async def alice(sign_up: SignUp) -> SignedUpUser:
    """A fresh user."""
    return await sign_up()


@pytest.fixture
async def bob(sign_up: SignUp) -> SignedUpUser:
    """Another fresh user."""
    return await sign_up()


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
