"""Client interceptors for fault tests: watch, hold or break the calls one service makes to
another (e.g. the agent's calls to the tasks service), by method name.

    gate = CallGate("ListTasks")          # holds every ListTasks call until released
    hook = CallHook(gate)                 # each call passes through gate(method) first
    async with running_agent_service(auth, tasks.address, tasks_interceptors=[hook]) as agent:
        ...                               # start a run, then
        await asyncio.wait_for(gate.entered.wait(), 10)   # the run is inside its tool call
        gate.release()
    assert hook.methods == ["ListTasks", "CompleteTask"]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc


async def _pass(_method: str) -> None:
    """The default `before`: let every call through."""


class CallHook(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Runs `before(method)` ahead of every unary call on the channel and records the method
    names (`ListTasks`, …) in call order. `before` may wait (hold the call), raise (fail it) or
    act on the world (stop the server the call goes to)."""

    def __init__(self, before: Callable[[str], Awaitable[None]] = _pass) -> None:
        self.before = before
        self.methods: list[str] = []

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        name = method.rsplit("/", 1)[-1]
        self.methods.append(name)
        await self.before(name)
        return await continuation(details, request)


class CallGate:
    """A `before` for CallHook that holds every call to `method` until `release()`.

    `entered` is set once a call reaches the gate; `abandoned` once a held call is cancelled
    (its caller gave up on it) instead of released — how a test sees that a run was stopped
    without waiting to find out whether it goes on."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.entered = asyncio.Event()
        self.abandoned = asyncio.Event()
        self._released = asyncio.Event()

    async def __call__(self, method: str) -> None:
        if method != self.method:
            return
        self.entered.set()
        try:
            await self._released.wait()
        except asyncio.CancelledError:
            self.abandoned.set()
            raise

    def release(self) -> None:
        """Lets held and future calls through."""
        self._released.set()
