"""All SQL of the auth service. Each repository works inside the caller's session (one unit of
work per RPC); none of them commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import sqlalchemy.exc
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from todo_common.notify import notify_on_commit

from todo_auth.keys import generate_signing_key
from todo_auth.models import (
    ExternalIdentity,
    RefreshToken,
    RefreshTokenFamily,
    SessionRevocation,
    SignInFailure,
    SigningKey,
    User,
)


class EmailTakenError(Exception):
    """Another user already has this email."""


def new_id() -> str:
    """A new opaque identifier."""
    return str(uuid.uuid4())


class UserRepository:
    """Users by id and by normalised email."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        email: str | None,
        display_name: str,
        password_hash: str | None,
        now: datetime,
    ) -> User:
        """Inserts a user. Raises `EmailTakenError` when the email belongs to someone else."""
        user = User(
            id=new_id(),
            email=email,
            display_name=display_name,
            password_hash=password_hash,
            create_time=now,
            update_time=now,
        )
        self._session.add(user)
        try:
            await self._session.flush()
        except sqlalchemy.exc.IntegrityError as exc:
            raise EmailTakenError(email) from exc
        return user

    async def delete(self, user_id: str) -> bool:
        """Deletes the user (their families, tokens and external identities go with them by
        cascade); False when there was no such user."""
        result = await self._session.execute(delete(User).where(User.id == user_id))
        return bool(getattr(result, "rowcount", 0))

    async def get(self, user_id: str) -> User | None:
        """The user with this id."""
        return await self._session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        """The user with this normalised email."""
        result = await self._session.execute(select(User).where(User.email == email))
        return result.scalar_one_or_none()

    async def email_is_taken(self, email: str) -> bool:
        """True when a user has this normalised email."""
        result = await self._session.execute(select(User.id).where(User.email == email))
        return result.first() is not None

    async def set_password_hash(self, user_id: str, password_hash: str, now: datetime) -> None:
        """Replaces the stored hash (after a parameter upgrade)."""
        await self._session.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_hash=password_hash, update_time=now)
        )


class SigningKeyRepository:
    """The Ed25519 signing keys: the current one and those still published."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def current(self) -> SigningKey | None:
        """The newest unretired key."""
        result = await self._session.execute(
            select(SigningKey)
            .where(SigningKey.retire_time.is_(None))
            .order_by(SigningKey.create_time.desc(), SigningKey.kid)
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def ensure_current(self, now: datetime) -> SigningKey:
        """The current key, generating and storing one when there is none (first start)."""
        key = await self.current()
        if key is None:
            key = generate_signing_key(now)
            self._session.add(key)
            await self._session.flush()
        return key

    async def rotate(self, now: datetime, retention: timedelta) -> SigningKey:
        """Retires every current key, stores a new one and forgets keys no token needs."""
        await self._session.execute(
            update(SigningKey).where(SigningKey.retire_time.is_(None)).values(retire_time=now)
        )
        await self._session.execute(
            delete(SigningKey).where(SigningKey.retire_time < now - retention)
        )
        key = generate_signing_key(now)
        self._session.add(key)
        await self._session.flush()
        return key

    async def published(self, now: datetime, retention: timedelta) -> list[SigningKey]:
        """Keys whose tokens may still be valid: the current key first, then newest first.

        A retired key is kept for `retention` (access TTL + leeway) after its retirement.
        """
        result = await self._session.execute(
            select(SigningKey).where(
                SigningKey.retire_time.is_(None) | (SigningKey.retire_time > now - retention)
            )
        )
        keys = list(result.scalars())
        keys.sort(key=lambda k: (k.retire_time is None, k.create_time), reverse=True)
        return keys


class RotationOutcome(Enum):
    """What presenting a refresh token led to."""

    ROTATED = "rotated"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REUSED = "reused"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Rotation:
    """The outcome, and for ROTATED the family and user the new token belongs to."""

    outcome: RotationOutcome
    family_id: str | None = None
    user_id: str | None = None


class RefreshTokenRepository:
    """Refresh tokens (by SHA-256 hash) and their families."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def start_family(self, user_id: str, now: datetime) -> str:
        """A new family (one sign-in); returns its id."""
        family = RefreshTokenFamily(id=new_id(), user_id=user_id, create_time=now)
        self._session.add(family)
        await self._session.flush()
        return family.id

    async def add(
        self, *, family_id: str, token_hash: str, now: datetime, expire_time: datetime
    ) -> None:
        """Stores a new unused token in the family."""
        self._session.add(
            RefreshToken(
                id=new_id(),
                family_id=family_id,
                token_hash=token_hash,
                create_time=now,
                expire_time=expire_time,
            )
        )
        await self._session.flush()

    async def use(self, token_hash: str, now: datetime, *, tokens_expire: datetime) -> Rotation:
        """Marks the token used, if it is unused, unexpired and its family alive.

        The write comes first and is conditional (`use_time IS NULL`), so of two concurrent
        refreshes with one token exactly one marks it; the other sees it used, which is reuse.
        (On SQLite, starting with a write also takes the write lock up front.) Reuse revokes
        the family; the caller must commit even then, so the outcome is returned, not raised.
        """
        marked = await self._session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.use_time.is_(None),
                RefreshToken.expire_time > now,
            )
            .values(use_time=now)
            .returning(RefreshToken.family_id)
        )
        family_id = marked.scalar_one_or_none()
        if family_id is not None:
            family = await self._session.get(RefreshTokenFamily, family_id)
            if family is None or family.revoke_time is not None:
                return Rotation(RotationOutcome.REVOKED)
            return Rotation(RotationOutcome.ROTATED, family_id=family.id, user_id=family.user_id)
        result = await self._session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        token = result.scalar_one_or_none()
        if token is None:
            return Rotation(RotationOutcome.UNKNOWN)
        if token.use_time is not None:
            await self.revoke_family(
                token.family_id, now, reason="REUSE", tokens_expire=tokens_expire
            )
            return Rotation(RotationOutcome.REUSED, family_id=token.family_id)
        return Rotation(RotationOutcome.EXPIRED, family_id=token.family_id)

    async def family_of(self, token_hash: str) -> str | None:
        """The family id of a token, whatever its state."""
        result = await self._session.execute(
            select(RefreshToken.family_id).where(RefreshToken.token_hash == token_hash)
        )
        return result.scalar_one_or_none()

    async def revoke_family(
        self, family_id: str, now: datetime, *, reason: str, tokens_expire: datetime
    ) -> None:
        """Revokes the family (idempotent: the first reason and time stay) and lists it in the
        revocation feed until `tokens_expire`, when its last access token has expired."""
        await self._session.execute(
            update(RefreshTokenFamily)
            .where(RefreshTokenFamily.id == family_id, RefreshTokenFamily.revoke_time.is_(None))
            .values(revoke_time=now, revoke_reason=reason)
        )
        await SessionRevocationRepository(self._session).add(family_id, now, tokens_expire)

    async def families_of_user(self, user_id: str) -> list[str]:
        """Every family (session) id of a user, revoked or not."""
        result = await self._session.execute(
            select(RefreshTokenFamily.id).where(RefreshTokenFamily.user_id == user_id)
        )
        return list(result.scalars())


# The PostgreSQL channel every auth replica listens on (WatchRevokedSessions); the payload is
# the auth schema, so the watchers of each deployment sharing a database hear only their own.
REVOCATION_CHANNEL = "todo_session_revocations"


class SessionRevocationRepository:
    """The feed of revoked sessions that verifiers read (ListRevokedSessions)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, session_id: str, now: datetime, expire_time: datetime) -> None:
        """Lists a session as revoked (idempotent: the first revocation time stays)."""
        existing = await self._session.get(SessionRevocation, session_id)
        if existing is None:
            self._session.add(
                SessionRevocation(session_id=session_id, revoke_time=now, expire_time=expire_time)
            )
            await self._session.flush()
            await notify_on_commit(self._session, REVOCATION_CHANNEL, None)

    async def since(self, since: datetime, now: datetime, limit: int) -> list[SessionRevocation]:
        """Unexpired revocations at or after `since`, oldest first."""
        result = await self._session.execute(
            select(SessionRevocation)
            .where(SessionRevocation.revoke_time >= since, SessionRevocation.expire_time > now)
            .order_by(SessionRevocation.revoke_time, SessionRevocation.session_id)
            .limit(limit)
        )
        return list(result.scalars())

    async def prune(self, now: datetime) -> None:
        """Drops revocations whose tokens have all expired."""
        await self._session.execute(
            delete(SessionRevocation).where(SessionRevocation.expire_time <= now)
        )


class SignInThrottleRepository:
    """Failed sign-ins per normalised email, for throttling (also for unknown emails)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def locked_until(
        self,
        email: str,
        now: datetime,
        *,
        window: timedelta,
        max_failures: int,
        lockout: timedelta,
    ) -> datetime | None:
        """When sign-in opens again, if `max_failures` failures within `window` lock it now."""
        result = await self._session.execute(
            select(SignInFailure.fail_time)
            .where(SignInFailure.email == email, SignInFailure.fail_time > now - window)
            .order_by(SignInFailure.fail_time.desc())
            .limit(max_failures)
        )
        recent = list(result.scalars())
        if len(recent) < max_failures:
            return None
        until = recent[0] + lockout
        return until if until > now else None

    async def record_failure(self, email: str, now: datetime, *, window: timedelta) -> None:
        """Records one failure and forgets every failure (of any email) outside the window, so
        guessing at many different emails cannot grow the table without bound."""
        await self._session.execute(
            delete(SignInFailure).where(SignInFailure.fail_time <= now - window)
        )
        self._session.add(SignInFailure(email=email, fail_time=now))
        await self._session.flush()

    async def clear(self, email: str) -> None:
        """Forgets the failures (after a successful sign-in)."""
        await self._session.execute(delete(SignInFailure).where(SignInFailure.email == email))


class ExternalIdentityRepository:
    """(issuer, subject) pairs of external issuers, mapped to local users."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_user(self, issuer: str, subject: str) -> User | None:
        """The local user this external identity maps to."""
        result = await self._session.execute(
            select(User)
            .join(ExternalIdentity, ExternalIdentity.user_id == User.id)
            .where(ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject)
        )
        return result.scalar_one_or_none()

    async def add(self, *, issuer: str, subject: str, user_id: str, now: datetime) -> None:
        """Maps the identity to the user. Raises IntegrityError if a concurrent call did first."""
        self._session.add(
            ExternalIdentity(issuer=issuer, subject=subject, user_id=user_id, create_time=now)
        )
        await self._session.flush()
