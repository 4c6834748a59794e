"""Rate limiting: a small limiter interface with two backends.

`MemoryRateLimiter` keeps fixed-window counters in process memory: right for one replica
(`make run`, tests). `RedisRateLimiter` keeps them in Redis so every edge replica counts
against the same limit (INCR + EXPIRE on a key per window). Both answer how long to wait.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from todo_common.errors import ResourceExhausted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitDecision:
    """Whether a hit is allowed and, if not, after how many seconds the window resets."""

    allowed: bool
    retry_after_seconds: float


class RateLimiter(Protocol):
    """Counts hits per key in fixed windows."""

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateLimitDecision:
        """Records one hit on `key`; allowed while the window holds at most `limit` hits."""
        ...

    async def close(self) -> None:
        """Releases connections."""
        ...


class MemoryRateLimiter:
    """Fixed-window counters in a dict, pruned as windows pass. One process only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counters: dict[str, tuple[int, int]] = {}
        self._next_prune = 0.0

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateLimitDecision:
        """See `RateLimiter.hit`."""
        now = self._clock()
        window = int(now // window_seconds)
        self._prune(now, window_seconds)
        stored_window, count = self._counters.get(key, (window, 0))
        if stored_window != window:
            count = 0
        count += 1
        self._counters[key] = (window, count)
        if count <= limit:
            return RateLimitDecision(True, 0.0)
        return RateLimitDecision(False, (window + 1) * window_seconds - now)

    def _prune(self, now: float, window_seconds: float) -> None:
        # Drop counters of past windows once per window so memory stays bounded by the
        # number of keys seen in the current window.
        if now < self._next_prune:
            return
        current = int(now // window_seconds)
        self._counters = {k: v for k, v in self._counters.items() if v[0] == current}
        self._next_prune = (current + 1) * window_seconds

    async def close(self) -> None:
        """Nothing to release."""


class RedisRateLimiter:
    """Fixed-window counters in Redis, shared by every replica."""

    def __init__(self, url: str, *, prefix: str = "todo:edge:rl:", timeout: float = 0.5) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._prefix = prefix

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateLimitDecision:
        """See `RateLimiter.hit`."""
        from redis.exceptions import RedisError

        now = time.time()
        window = int(now // window_seconds)
        redis_key = f"{self._prefix}{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(redis_key)
                pipe.expire(redis_key, math.ceil(window_seconds) + 1, nx=True)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            # Fail open: an outage of the counter store must not take the API down with it.
            # Sign-in stays protected by the auth service's own per-account throttling.
            log.warning("rate limiter unavailable", extra={"error": type(exc).__name__})
            return RateLimitDecision(True, 0.0)
        if int(count) <= limit:
            return RateLimitDecision(True, 0.0)
        return RateLimitDecision(False, (window + 1) * window_seconds - now)

    async def close(self) -> None:
        """Closes the connection pool."""
        await self._redis.aclose()


def create_rate_limiter(redis_url: str | None) -> RateLimiter:
    """Redis when a URL is configured, else process memory."""
    if redis_url:
        return RedisRateLimiter(redis_url)
    return MemoryRateLimiter()


async def enforce(
    limiter: RateLimiter, key: str, limit: int, window_seconds: float, what: str
) -> None:
    """Raises RESOURCE_EXHAUSTED (→ 429 with Retry-After) when `key` is over its limit."""
    decision = await limiter.hit(key, limit, window_seconds)
    if not decision.allowed:
        raise ResourceExhausted(
            f"Too many {what}. Try again in {math.ceil(decision.retry_after_seconds)} s.",
            reason="RATE_LIMITED",
            retry_after_seconds=decision.retry_after_seconds,
        )
