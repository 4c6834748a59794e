"""The `todo.auth.v1.AuthService` servicer: sign-up, sign-in, refresh, sign-out, keys, exchange.

Each RPC validates its request, runs short database units of work (never holding a connection
while argon2 runs) and raises domain errors; the server bootstrap turns those into statuses.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import sqlalchemy.exc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncSession
from todo.auth.v1 import auth_service_pb2 as pb
from todo.auth.v1 import auth_service_pb2_grpc
from todo_common.db import Database
from todo_common.errors import (
    Aborted,
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
)
from todo_common.grpc_server import metadata_value
from todo_common.notify import NotifyHub
from todo_common.tokens import AUTHORIZATION_KEY, TokenVerifier, bearer_token, current_principal

from todo_auth.external import ExternalIdentityClaims, ExternalTokenVerifier
from todo_auth.keys import AccessToken, AccessTokenIssuer, public_jwk
from todo_auth.models import User
from todo_auth.passwords import PasswordService
from todo_auth.repository import (
    REVOCATION_CHANNEL,
    EmailTakenError,
    ExternalIdentityRepository,
    RefreshTokenRepository,
    RotationOutcome,
    SessionRevocationRepository,
    SigningKeyRepository,
    SignInThrottleRepository,
    UserRepository,
)
from todo_auth.settings import AuthSettings
from todo_auth.text import has_control_characters

log = logging.getLogger(__name__)

EMAIL_MAX_LENGTH = 254
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
DISPLAY_NAME_MAX_LENGTH = 100
# Refresh tokens are 43 characters; anything much longer is not one of ours.
REFRESH_TOKEN_MAX_LENGTH = 256
# A pragmatic shape check (one @, no spaces, a dot in the domain); deliverability is not ours
# to judge.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

INVALID_CREDENTIALS = "The email or password is incorrect."
REVOKED_SESSIONS_PAGE_SIZE = 1000
# Each ListRevokedSessions call re-reads this far back before its page token, so a revocation
# whose transaction committed a little after a later one is not skipped.
REVOCATION_FEED_OVERLAP = timedelta(seconds=10)

Clock = Callable[[], float]


def normalise_email(raw: str) -> str:
    """The form emails are stored and compared in: trimmed and lower-cased."""
    return raw.strip().lower()


def email_violation(email: str, field: str = "email") -> FieldViolation | None:
    """What is wrong with a normalised email's shape, if anything."""
    if not email:
        return FieldViolation(field, "An email address is required.")
    if len(email) > EMAIL_MAX_LENGTH:
        return FieldViolation(field, f"At most {EMAIL_MAX_LENGTH} characters.")
    if has_control_characters(email) or not _EMAIL_SHAPE.match(email):
        return FieldViolation(field, "This does not look like an email address.")
    return None


def hash_refresh_token(token: str) -> str:
    """SHA-256 hex of a refresh token: enough for 256-bit random secrets, and fast to look up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def timestamp(value: datetime) -> Timestamp:
    """A protobuf Timestamp of an aware datetime."""
    result = Timestamp()
    result.FromDatetime(value)
    return result


def user_message(user: User) -> pb.User:
    """The API form of a user."""
    return pb.User(
        id=user.id,
        email=user.email or "",
        display_name=user.display_name,
        create_time=timestamp(user.create_time),
    )


class AuthService(auth_service_pb2_grpc.AuthServiceServicer):
    """Implements todo.auth.v1.AuthService."""

    def __init__(
        self,
        settings: AuthSettings,
        database: Database,
        passwords: PasswordService,
        issuer: AccessTokenIssuer,
        external: ExternalTokenVerifier,
        clock: Clock,
        revocation_hub: NotifyHub | None = None,
    ) -> None:
        self._settings = settings
        # Wakes WatchRevokedSessions streams (started and closed by the server bootstrap).
        self.revocation_hub = revocation_hub or NotifyHub(
            database, REVOCATION_CHANNEL, poll_seconds=settings.revocation_watch_heartbeat_seconds
        )
        self._db = database
        self._passwords = passwords
        self._issuer = issuer
        self._external = external
        self._clock = clock
        self._refresh_ttl = timedelta(seconds=settings.refresh_token_ttl_seconds)
        self._key_retention = key_retention(settings)
        self._throttle_window = timedelta(seconds=settings.sign_in_failure_window_seconds)
        self._lockout = timedelta(seconds=settings.sign_in_lockout_seconds)
        # Set by the server bootstrap: SignOut verifies an access token it is given with it.
        self.token_verifier: TokenVerifier | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def _revoked_sessions_committed(self) -> None:
        """Wakes this process's revocation watchers (other replicas hear the NOTIFY)."""
        self.revocation_hub.wake(self._settings.database_schema)

    # --- RPCs ---------------------------------------------------------------------------

    async def SignUp(
        self, request: pb.SignUpRequest, context: grpc.aio.ServicerContext
    ) -> pb.SignUpResponse:
        email = normalise_email(request.email)
        display_name = request.display_name.strip()
        violations: list[FieldViolation] = []
        if (violation := email_violation(email)) is not None:
            violations.append(violation)
        password = request.password
        if len(password) < PASSWORD_MIN_LENGTH:
            violations.append(
                FieldViolation("password", f"At least {PASSWORD_MIN_LENGTH} characters.")
            )
        elif len(password) > PASSWORD_MAX_LENGTH:
            violations.append(
                FieldViolation("password", f"At most {PASSWORD_MAX_LENGTH} characters.")
            )
        elif email and normalise_email(password) == email:
            violations.append(FieldViolation("password", "Must not be the email address."))
        if len(display_name) > DISPLAY_NAME_MAX_LENGTH:
            violations.append(
                FieldViolation("display_name", f"At most {DISPLAY_NAME_MAX_LENGTH} characters.")
            )
        elif has_control_characters(display_name):
            violations.append(
                FieldViolation("display_name", "Must not contain control characters.")
            )
        if violations:
            raise InvalidArgument("The sign-up request is not valid.", field_violations=violations)

        password_hash = await self._passwords.hash(password)
        now = self._now()
        async with self._db.session() as session:
            try:
                user = await UserRepository(session).add(
                    email=email, display_name=display_name, password_hash=password_hash, now=now
                )
            except EmailTakenError:
                raise AlreadyExists(
                    "An account with this email already exists.", reason="EMAIL_TAKEN"
                ) from None
            tokens = await self._issue_pair(session, user.id, now)
        log.info("user signed up", extra={"user_id": user.id})
        return pb.SignUpResponse(user=user_message(user), tokens=tokens)

    async def SignIn(
        self, request: pb.SignInRequest, context: grpc.aio.ServicerContext
    ) -> pb.SignInResponse:
        email = normalise_email(request.email)
        violations = []
        if not email:
            violations.append(FieldViolation("email", "An email address is required."))
        elif has_control_characters(email):
            # No stored email has one, so this cannot be anyone's account; saying so leaks
            # nothing, and the address must not reach the database (PostgreSQL rejects NUL).
            violations.append(FieldViolation("email", "This does not look like an email address."))
        if not request.password:
            violations.append(FieldViolation("password", "A password is required."))
        if violations:
            raise InvalidArgument("The sign-in request is not valid.", field_violations=violations)
        # Keys longer than any stored email cannot match; cap them so they cannot bloat the
        # failures table.
        email = email[: EMAIL_MAX_LENGTH + 1]
        password = request.password[: PASSWORD_MAX_LENGTH + 1]

        now = self._now()
        async with self._db.session() as session:
            await self._check_not_locked(session, email, now)
            user = await UserRepository(session).get_by_email(email)
        # Unknown email: the same argon2 work as a wrong password, so timing tells nothing.
        verification = await self._passwords.verify(
            user.password_hash if user is not None else None, password
        )
        now = self._now()
        if user is None or not verification.ok:
            async with self._db.session() as session:
                await SignInThrottleRepository(session).record_failure(
                    email, now, window=self._throttle_window
                )
            log.info("sign-in failed", extra={"known_user": user is not None})
            raise Unauthenticated(INVALID_CREDENTIALS, reason="INVALID_CREDENTIALS")
        async with self._db.session() as session:
            await SignInThrottleRepository(session).clear(email)
            if verification.new_hash is not None:
                await UserRepository(session).set_password_hash(user.id, verification.new_hash, now)
            tokens = await self._issue_pair(session, user.id, now)
        log.info("user signed in", extra={"user_id": user.id})
        return pb.SignInResponse(user=user_message(user), tokens=tokens)

    async def Refresh(
        self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefreshResponse:
        token = request.refresh_token.strip()
        if not token:
            raise InvalidArgument(
                "A refresh token is required.",
                field_violations=[FieldViolation("refresh_token", "A refresh token is required.")],
            )
        if len(token) > REFRESH_TOKEN_MAX_LENGTH:
            raise Unauthenticated("The refresh token is not valid.", reason="REFRESH_TOKEN_INVALID")
        now = self._now()
        async with self._db.session() as session:
            rotation = await RefreshTokenRepository(session).use(
                hash_refresh_token(token), now, tokens_expire=now + self._key_retention
            )
            tokens = None
            if rotation.outcome is RotationOutcome.ROTATED:
                assert rotation.family_id is not None and rotation.user_id is not None
                tokens = await self._issue_pair(
                    session, rotation.user_id, now, family_id=rotation.family_id
                )
        # Raised after the session committed: a reuse must leave its family revoked.
        if rotation.outcome is RotationOutcome.REUSED:
            self._revoked_sessions_committed()
        if tokens is not None:
            return pb.RefreshResponse(tokens=tokens)
        if rotation.outcome is RotationOutcome.REUSED:
            log.warning(
                "refresh token reused; family revoked", extra={"family_id": rotation.family_id}
            )
            raise Unauthenticated(
                "This refresh token was already used; every session token descended from the "
                "same sign-in is now revoked. Sign in again.",
                reason="REFRESH_TOKEN_REUSED",
            )
        if rotation.outcome is RotationOutcome.EXPIRED:
            raise Unauthenticated(
                "The refresh token has expired. Sign in again.", reason="REFRESH_TOKEN_EXPIRED"
            )
        if rotation.outcome is RotationOutcome.REVOKED:
            raise Unauthenticated(
                "The refresh token was revoked. Sign in again.", reason="REFRESH_TOKEN_REVOKED"
            )
        raise Unauthenticated("The refresh token is not valid.", reason="REFRESH_TOKEN_INVALID")

    async def SignOut(
        self, request: pb.SignOutRequest, context: grpc.aio.ServicerContext
    ) -> pb.SignOutResponse:
        token = request.refresh_token.strip()
        session_ids: set[str] = set()
        now = self._now()
        async with self._db.session() as session:
            tokens = RefreshTokenRepository(session)
            if token and len(token) <= REFRESH_TOKEN_MAX_LENGTH:
                family_id = await tokens.family_of(hash_refresh_token(token))
                if family_id is not None:
                    session_ids.add(family_id)
            access_session = await self._session_of_bearer(context)
            if access_session:
                session_ids.add(access_session)
            for session_id in session_ids:
                await tokens.revoke_family(
                    session_id, now, reason="SIGN_OUT", tokens_expire=now + self._key_retention
                )
            if session_ids:
                await SessionRevocationRepository(session).prune(now)
        if session_ids:
            self._revoked_sessions_committed()
            log.info("signed out", extra={"sessions": len(session_ids)})
        return pb.SignOutResponse()

    async def _session_of_bearer(self, context: grpc.aio.ServicerContext) -> str:
        """The session id of the call's access token, if it carries a valid one. SignOut is a
        public method (the cookie alone may sign out), so the token is checked here; an
        expired, revoked or forged one signs nothing out through it."""
        if metadata_value(context, AUTHORIZATION_KEY) is None or self.token_verifier is None:
            return ""
        try:
            principal = await self.token_verifier.verify(
                bearer_token(metadata_value(context, AUTHORIZATION_KEY))
            )
        except Unauthenticated:
            return ""
        return principal.session_id

    async def ListRevokedSessions(
        self, request: pb.ListRevokedSessionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRevokedSessionsResponse:
        if request.page_size < 0:
            raise InvalidArgument(
                "The page size must not be negative.",
                field_violations=[FieldViolation("page_size", "Must not be negative.")],
            )
        limit = min(request.page_size or REVOKED_SESSIONS_PAGE_SIZE, REVOKED_SESSIONS_PAGE_SIZE)
        now = self._now()
        since = now - self._key_retention
        if request.page_token:
            since = max(since, _decode_feed_token(request.page_token) - REVOCATION_FEED_OVERLAP)
        async with self._db.read_session() as session:
            rows = await SessionRevocationRepository(session).since(since, now, limit)
        # A full page continues from its last row; otherwise everything up to now was seen.
        cursor = rows[-1].revoke_time if len(rows) == limit else now
        return pb.ListRevokedSessionsResponse(
            revoked_sessions=[
                pb.RevokedSession(
                    session_id=row.session_id,
                    revoke_time=timestamp(row.revoke_time),
                    expire_time=timestamp(row.expire_time),
                )
                for row in rows
            ],
            next_page_token=_encode_feed_token(cursor),
        )

    async def WatchRevokedSessions(
        self, request: pb.WatchRevokedSessionsRequest, context: grpc.aio.ServicerContext | None
    ) -> AsyncIterator[pb.WatchRevokedSessionsResponse]:
        hub = self.revocation_hub
        with hub.subscribe(self._settings.database_schema) as woken:
            yield pb.WatchRevokedSessionsResponse()
            while not hub.closed:
                await hub.wait(woken, hub.poll_seconds)
                if not hub.closed:
                    yield pb.WatchRevokedSessionsResponse()

    async def DeleteAccount(
        self, request: pb.DeleteAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteAccountResponse:
        principal = current_principal()
        now = self._now()
        async with self._db.session() as session:
            tokens = RefreshTokenRepository(session)
            session_ids = set(await tokens.families_of_user(principal.user_id))
            if principal.session_id:
                session_ids.add(principal.session_id)
            for session_id in session_ids:
                await tokens.revoke_family(
                    session_id,
                    now,
                    reason="ACCOUNT_DELETED",
                    tokens_expire=now + self._key_retention,
                )
            deleted = await UserRepository(session).delete(principal.user_id)
        self._revoked_sessions_committed()
        if not deleted:
            raise NotFound("The account does not exist.", reason="USER_NOT_FOUND")
        log.info("account deleted", extra={"user_id": principal.user_id})
        return pb.DeleteAccountResponse()

    async def GetMe(
        self, request: pb.GetMeRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMeResponse:
        principal = current_principal()
        async with self._db.session() as session:
            user = await UserRepository(session).get(principal.user_id)
        if user is None:
            raise Unauthenticated(
                "The access token's user no longer exists.", reason="USER_NOT_FOUND"
            )
        return pb.GetMeResponse(user=user_message(user))

    async def GetJwks(
        self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJwksResponse:
        return pb.GetJwksResponse(keys=[pb.JsonWebKey(**jwk) for jwk in await self.jwks()])

    async def ExchangeToken(
        self, request: pb.ExchangeTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExchangeTokenResponse:
        if not request.subject_token.strip():
            raise InvalidArgument(
                "A subject token is required.",
                field_violations=[FieldViolation("subject_token", "A subject token is required.")],
            )
        identity = await self._external.verify(request.subject_token.strip())
        now = self._now()
        attempts = 3
        for attempt in range(1, attempts + 1):
            try:
                async with self._db.session() as session:
                    user = await self._user_for_identity(session, identity, now)
                    # Each exchange is a session of its own, so it can be revoked too.
                    family_id = await RefreshTokenRepository(session).start_family(user.id, now)
                    access = await self._issue_access(session, user.id, now, family_id)
                break
            except (sqlalchemy.exc.IntegrityError, EmailTakenError):
                # A concurrent first exchange of the same identity (or a sign-up taking the
                # email) committed first; the next attempt sees its rows.
                if attempt == attempts:
                    raise Aborted(
                        "The external identity changed concurrently; try again.",
                        reason="EXCHANGE_CONFLICT",
                    ) from None
        log.info("external token exchanged", extra={"user_id": user.id, "issuer": identity.issuer})
        return pb.ExchangeTokenResponse(
            user=user_message(user),
            access_token=access.token,
            access_token_expire_time=timestamp(access.expire_time),
        )

    # --- helpers ------------------------------------------------------------------------

    async def jwks(self) -> list[dict[str, Any]]:
        """The published public keys as JWK dicts, current first (also GetMe's key source)."""
        async with self._db.session() as session:
            keys = await SigningKeyRepository(session).published(self._now(), self._key_retention)
        return [public_jwk(key) for key in keys]

    async def _check_not_locked(self, session: AsyncSession, email: str, now: datetime) -> None:
        until = await SignInThrottleRepository(session).locked_until(
            email,
            now,
            window=self._throttle_window,
            max_failures=self._settings.sign_in_max_failures,
            lockout=self._lockout,
        )
        if until is not None:
            retry_after = max(1.0, (until - now).total_seconds())
            log.info("sign-in throttled", extra={"retry_after_seconds": retry_after})
            raise ResourceExhausted(
                f"Too many failed sign-ins for this account. Try again in {retry_after:.0f} s.",
                reason="TOO_MANY_SIGN_IN_ATTEMPTS",
                retry_after_seconds=retry_after,
            )

    async def _issue_access(
        self, session: AsyncSession, user_id: str, now: datetime, session_id: str
    ) -> AccessToken:
        # Read per call (one indexed row) so a key rotated by the CLI or another replica is
        # used at once: a retired key must not sign new tokens or they could outlive it.
        key = await SigningKeyRepository(session).ensure_current(now)
        return self._issuer.issue(key, user_id, now, session_id=session_id)

    async def _issue_pair(
        self, session: AsyncSession, user_id: str, now: datetime, *, family_id: str | None = None
    ) -> pb.TokenPair:
        tokens = RefreshTokenRepository(session)
        if family_id is None:
            family_id = await tokens.start_family(user_id, now)
        refresh_token = secrets.token_urlsafe(32)
        refresh_expire_time = now + self._refresh_ttl
        await tokens.add(
            family_id=family_id,
            token_hash=hash_refresh_token(refresh_token),
            now=now,
            expire_time=refresh_expire_time,
        )
        access = await self._issue_access(session, user_id, now, family_id)
        return pb.TokenPair(
            access_token=access.token,
            access_token_expire_time=timestamp(access.expire_time),
            refresh_token=refresh_token,
            refresh_token_expire_time=timestamp(refresh_expire_time),
        )

    async def _user_for_identity(
        self, session: AsyncSession, identity: ExternalIdentityClaims, now: datetime
    ) -> User:
        identities = ExternalIdentityRepository(session)
        user = await identities.find_user(identity.issuer, identity.subject)
        if user is not None:
            return user
        users = UserRepository(session)
        # Never link to an existing account by email: whoever controls the external issuer
        # (or an account there with an unverified email) would take the local account over.
        # The email is only recorded when nobody has it.
        email = identity.email
        stored_email = None
        if (
            email is not None
            and email_violation(email) is None
            and not await users.email_is_taken(email)
        ):
            stored_email = email
        user = await users.add(
            email=stored_email,
            display_name=(identity.name or "").strip()[:DISPLAY_NAME_MAX_LENGTH],
            password_hash=None,
            now=now,
        )
        await identities.add(
            issuer=identity.issuer, subject=identity.subject, user_id=user.id, now=now
        )
        return user


def _encode_feed_token(cursor: datetime) -> str:
    return base64.urlsafe_b64encode(cursor.isoformat().encode()).decode()


def _decode_feed_token(token: str) -> datetime:
    try:
        cursor = datetime.fromisoformat(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeError):
        raise InvalidArgument(
            "The page token is not valid.",
            field_violations=[FieldViolation("page_token", "Not a token this service issued.")],
        ) from None
    return cursor if cursor.tzinfo else cursor.replace(tzinfo=UTC)


def key_retention(settings: AuthSettings) -> timedelta:
    """How long a retired key stays published: until its last token has expired, plus leeway."""
    return timedelta(
        seconds=settings.access_token_ttl_seconds + settings.key_retention_leeway_seconds
    )
