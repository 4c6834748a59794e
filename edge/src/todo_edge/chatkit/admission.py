"""Admission control for chat turns: at most `limit` ChatKit streams run at once in one edge
process; past that a new one is refused at once with 429 + `Retry-After`.

A refused turn costs next to nothing and loses nothing: the slot is taken as the first step of
the stream, before the SDK writes the thread or the user's message, so the refusal surfaces
from `EventStreamResponse.open` as a problem (`ResourceExhausted` → 429 problem+json, reason
`CHAT_BUSY`, `Retry-After`) before any status line is sent. Without it, a burst beyond what the
process can serve queues on CPU and on the database pool, and fails late and at random (pool
timeouts → 503, or error events) instead of early and cleanly.

The slot is held until the stream ends however it ends (finished, failed, or cancelled when the
client goes away), because it is released in the stream generator's `finally`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from todo_common.errors import ResourceExhausted

BUSY_REASON = "CHAT_BUSY"
BUSY_MESSAGE = "The assistant is busy with too many conversations right now. Try again in a moment."


class TurnSlots:
    """A counter of running turns with a hard limit (no queue: a turn waits for nobody)."""

    def __init__(self, limit: int, retry_after_seconds: float) -> None:
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        self.running = 0

    def acquire(self) -> None:
        """Takes a slot, or raises ResourceExhausted (→ 429) when all are taken."""
        if self.running >= self.limit:
            raise ResourceExhausted(
                BUSY_MESSAGE, reason=BUSY_REASON, retry_after_seconds=self.retry_after_seconds
            )
        self.running += 1

    def release(self) -> None:
        self.running -= 1

    async def admitted(self, stream: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        """`stream` run inside a slot: the slot is taken before its first step (or the refusal
        raised there) and given back when it ends."""
        self.acquire()
        try:
            async for chunk in stream:
                yield chunk
        finally:
            self.release()
            await stream.aclose()
