"""Waiting for state in tests: `eventually(check)` retries a check until it holds or a deadline
passes, so a test waits exactly as long as the system needs and never for a fixed time.

    await eventually(lambda: server.started, what="uvicorn to start")
    items = await eventually(two_items_stored, within=15, what="the partial answer to be saved")

A check is a predicate (it returns False while the state is not there yet) or an assertion (it
raises AssertionError while it does not hold); sync or async. Any other exception is a real
failure and ends the wait at once.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")

DEFAULT_WITHIN_SECONDS = 10.0
# Short enough that a test hardly waits past the moment the state holds, long enough not to
# flood a server the check calls.
POLL_INTERVAL_SECONDS = 0.02


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    within: float = DEFAULT_WITHIN_SECONDS,
    what: str = "",
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    *,
    within: float = DEFAULT_WITHIN_SECONDS,
    what: str = "",
) -> T: ...


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    within: float = DEFAULT_WITHIN_SECONDS,
    what: str = "",
) -> T:
    """Calls `check` until it neither returns False nor raises AssertionError; returns its last
    result. After `within` seconds it fails with an AssertionError naming `what` it waited for
    and the last assertion's message."""
    deadline = time.monotonic() + within
    attempts = 0
    while True:
        attempts += 1
        last_error: AssertionError | None = None
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
        except AssertionError as error:
            last_error = error
        else:
            if result is not False:
                return result
        if time.monotonic() >= deadline:
            described = what or getattr(check, "__name__", "the condition")
            reason = f": {last_error}" if last_error is not None else " (it stayed False)"
            raise AssertionError(
                f"gave up waiting for {described} after {within:g} s and {attempts} tries" + reason
            ) from last_error
        await asyncio.sleep(POLL_INTERVAL_SECONDS)
