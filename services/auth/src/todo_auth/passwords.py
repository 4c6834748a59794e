"""argon2id password hashing, off the event loop in a bounded thread pool."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from todo_auth.settings import AuthSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a password: whether it matched and, if so, a fresh hash to store
    when the stored one was made with outdated parameters."""

    ok: bool
    new_hash: str | None = None


class PasswordService:
    """Hashes and verifies passwords with argon2id.

    argon2 is deliberately slow and memory-hungry (19 MiB per hash with the OWASP parameters),
    so it runs in a small dedicated pool: the event loop stays responsive and a burst of
    sign-ins queues instead of exhausting memory.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=settings.password_hash_workers, thread_name_prefix="argon2"
        )
        # Verified against when the email is unknown, so that case costs the same time.
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        """The argon2id PHC string for `password`."""
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> Verification:
        """Checks `password` against `stored_hash` (None: do the same work, then fail)."""
        if stored_hash is None:
            await self.burn_time(password)
            return Verification(ok=False)
        return await self._run(self._verify_sync, stored_hash, password)

    async def warm_up(self) -> None:
        """Prepares the hash unknown-email sign-ins verify against (call once at start-up, so
        even the first such sign-in costs what a wrong password costs)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))

    async def burn_time(self, password: str) -> None:
        """Spends one verification's worth of time, for callers whose account does not exist."""
        await self.warm_up()
        assert self._dummy_hash is not None
        await self._run(self._verify_sync, self._dummy_hash, password)

    def close(self) -> None:
        """Stops the pool (running hashes finish)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _verify_sync(self, stored_hash: str, password: str) -> Verification:
        try:
            self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verification(ok=False)
        if self._hasher.check_needs_rehash(stored_hash):
            return Verification(ok=True, new_hash=self._hasher.hash(password))
        return Verification(ok=True)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
