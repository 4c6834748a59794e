"""Fixtures of the auth suite: servers with custom settings and a clock tests can move."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from todo_testkit.auth import AuthServiceHandle, running_auth_service
from todo_testkit.auth import load_signing_key as signing_key_of


class MovableClock:
    """Real time plus an offset that tests advance instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Moves time forward."""
        self.offset += seconds


AuthServerFactory = Callable[..., AbstractAsyncContextManager[AuthServiceHandle]]


@pytest.fixture
def clock() -> MovableClock:
    """A clock for servers started with `start_auth(clock=clock)`."""
    return MovableClock()


@pytest.fixture
async def start_auth(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`handle = await start_auth(**settings_overrides, clock=...)`: a server for this test."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> AuthServiceHandle:
            folder = tmp_path / f"auth{len(stack._exit_callbacks)}"
            folder.mkdir()
            return await stack.enter_async_context(running_auth_service(folder, **overrides))

        yield start


@pytest.fixture
def load_signing_key() -> Callable[[AuthServiceHandle], Any]:
    """`await load_signing_key(handle)`: the server's current key, private half included."""
    return signing_key_of
