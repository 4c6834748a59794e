"""The one JWT verifier and the auth interceptor every backend uses.

Access tokens are EdDSA (Ed25519) JWTs issued by the auth service. Keys come from a JWKS
source (normally `AuthService.GetJwks`), are cached, and an unknown `kid` triggers one refetch
per cooldown period. The algorithm is pinned: a token whose header names any other algorithm
(`none`, HS256 signed with a public key, …) is rejected before any key is chosen.

Sessions end at once: an access token's `sid` claim names its session (the refresh-token
family). `SessionRevocations` keeps the set of revoked session ids in memory, so each
verification stays a dictionary lookup, and fresh by following `AuthService.WatchRevokedSessions`:
a stream that says when to read `AuthService.ListRevokedSessions` again, at once after a
revocation commits (PostgreSQL NOTIFY reaches every auth replica) and at least every few
seconds. A token of a signed-out, reused or deleted session is therefore refused everywhere
within milliseconds, and within the auth service's heartbeat (5 s) even if a notification is
lost. When the stream breaks, the verifier reads the list every `JWT_REVOCATION_POLL_SECONDS`
(1 s) until it reconnects; when auth cannot be reached the last known set is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import jwt
from google.protobuf.json_format import MessageToDict
from jwt.algorithms import OKPAlgorithm

from todo_common.errors import Unauthenticated, Unavailable
from todo_common.grpc_server import (
    INFRASTRUCTURE_METHOD_PREFIXES,
    BehaviorInterceptor,
    StreamBehavior,
    UnaryBehavior,
    metadata_value,
)
from todo_common.settings import TokenSettings

log = logging.getLogger(__name__)

AUTHORIZATION_KEY = "authorization"

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti")
# Our access tokens are ~400 characters and an external issuer's rarely pass 2,000. Anything
# longer is refused before it is parsed, cached or forwarded: gRPC caps call metadata at 8 KiB,
# so a longer (even validly signed) token would otherwise fail later as RESOURCE_EXHAUSTED.
MAX_TOKEN_CHARS = 4096

JwksFetcher = Callable[[], Awaitable[Sequence[dict[str, Any]]]]
# page token -> ([(session id, unix time its tokens stop mattering)], next page token)
RevocationFetcher = Callable[[str], Awaitable[tuple[list[tuple[str, float]], str]]]
# A stream that yields whenever sessions may have been revoked (and ends or raises when lost).
RevocationWatch = Callable[[], AsyncIterator[None]]


@dataclass(frozen=True)
class Principal:
    """The verified caller: their user id and the token they presented (to forward it)."""

    user_id: str
    token: str
    token_id: str
    expires_at: float
    # The session (refresh-token family) the token belongs to; empty for tokens without one.
    session_id: str = ""


_principal_var: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "principal", default=None
)


def current_principal() -> Principal:
    """The caller of the RPC being handled. Raises if the method was not authenticated."""
    principal = _principal_var.get()
    if principal is None:
        raise Unauthenticated("This call needs an access token.", reason="TOKEN_MISSING")
    return principal


def grpc_jwks_fetcher(channel: grpc.aio.Channel, timeout: float = 3.0) -> JwksFetcher:
    """A JWKS source that calls `AuthService.GetJwks` over `channel`."""
    from todo.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

    stub = auth_service_pb2_grpc.AuthServiceStub(channel)

    async def fetch() -> Sequence[dict[str, Any]]:
        response = await stub.GetJwks(auth_service_pb2.GetJwksRequest(), timeout=timeout)
        return [MessageToDict(key, preserving_proto_field_name=True) for key in response.keys]

    return fetch


def grpc_revocation_fetcher(channel: grpc.aio.Channel, timeout: float = 3.0) -> RevocationFetcher:
    """A revocation source that calls `AuthService.ListRevokedSessions` over `channel`."""
    from todo.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

    stub = auth_service_pb2_grpc.AuthServiceStub(channel)

    async def fetch(page_token: str) -> tuple[list[tuple[str, float]], str]:
        response = await stub.ListRevokedSessions(
            auth_service_pb2.ListRevokedSessionsRequest(page_token=page_token), timeout=timeout
        )
        revoked = [
            (entry.session_id, float(entry.expire_time.seconds))
            for entry in response.revoked_sessions
        ]
        return revoked, response.next_page_token

    return fetch


def grpc_revocation_watch(channel: grpc.aio.Channel) -> RevocationWatch:
    """A revocation watch that follows `AuthService.WatchRevokedSessions` over `channel`."""
    from todo.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

    stub = auth_service_pb2_grpc.AuthServiceStub(channel)

    async def watch() -> AsyncIterator[None]:
        call = stub.WatchRevokedSessions(auth_service_pb2.WatchRevokedSessionsRequest())
        try:
            async for _ in call:
                yield None
        finally:
            call.cancel()

    return watch


def remote_token_verifier(
    settings: TokenSettings, auth_channel: grpc.aio.Channel, *, jwks_timeout: float = 3.0
) -> TokenVerifier:
    """The verifier of a process that is not the auth service: the issuer and audience from
    `settings`, the signing keys from `AuthService.GetJwks` and the revoked sessions from
    `AuthService.ListRevokedSessions`, as `WatchRevokedSessions` says, over `auth_channel`."""
    return TokenVerifier(
        grpc_jwks_fetcher(auth_channel, timeout=jwks_timeout),
        issuer=settings.issuer,
        audience=settings.audience,
        refetch_cooldown_seconds=settings.jwks_refetch_cooldown_seconds,
        revocations=SessionRevocations(
            grpc_revocation_fetcher(auth_channel, timeout=jwks_timeout),
            watch=grpc_revocation_watch(auth_channel),
            interval_seconds=settings.revocation_poll_seconds,
        ),
    )


# The name of the task that follows the revocation feed for a verifier's whole life (so a
# process, or a test counting what a request left running, can tell it from per-request work).
REVOCATION_TASK = "session-revocations"


class SessionRevocations:
    """The revoked session ids, refreshed in a task of its own: each time `watch` yields (a
    revocation may have happened), and every `interval_seconds` while there is no watch or it
    is lost (then it is reconnected).

    The first verification waits for one fetch (so a process just started does not accept a
    session revoked before it started); after that, lookups never wait. A failed fetch keeps
    the last known set and is retried at the next interval.
    """

    def __init__(
        self,
        fetch: RevocationFetcher,
        *,
        watch: RevocationWatch | None = None,
        interval_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._watch = watch
        self._interval = interval_seconds
        self._clock = clock
        # session id -> when its tokens stop mattering (then the entry can go).
        self._revoked: dict[str, float] = {}
        self._page_token = ""
        self._task: asyncio.Task[None] | None = None
        self._first: asyncio.Task[None] | None = None
        # True once the first poll answered or failed: lookups stop waiting.
        self.is_ready = False
        self.poll_count = 0
        # True while the watch stream is delivering (tests wait for it).
        self.watch_connected = False

    def is_revoked(self, session_id: str) -> bool:
        """Whether the session was revoked (as of the last fetch)."""
        return session_id in self._revoked

    async def ready(self) -> None:
        """Starts following the feed on first use and waits for the first answer (or its failure)."""
        if self._task is None:
            self._first = asyncio.ensure_future(self.refresh())
            self._task = asyncio.get_running_loop().create_task(
                self._follow(), name=REVOCATION_TASK
            )
        if self._first is not None:
            first = self._first
            with contextlib.suppress(Exception):
                await asyncio.shield(first)
            if first.done():
                self._first = None
                self.is_ready = True

    async def refresh(self) -> None:
        """One fetch: adds what was revoked since the last one, drops what has expired."""
        try:
            revoked, next_token = await self._fetch(self._page_token)
        except Exception as exc:
            log.warning("cannot fetch revoked sessions", extra={"error": type(exc).__name__})
            return
        self.poll_count += 1
        for session_id, expire_time in revoked:
            self._revoked[session_id] = expire_time
        if next_token:
            self._page_token = next_token
        now = self._clock()
        if any(expire_time <= now for expire_time in self._revoked.values()):
            self._revoked = {s: e for s, e in self._revoked.items() if e > now}

    async def _follow(self) -> None:
        while True:
            if self._watch is not None:
                try:
                    async for _ in self._watch():
                        self.watch_connected = True
                        await self.refresh()
                except Exception as exc:
                    log.info("revocation watch lost", extra={"error": type(exc).__name__})
                self.watch_connected = False
            await asyncio.sleep(self._interval)
            await self.refresh()

    async def aclose(self) -> None:
        """Stops following the feed."""
        for task in (self._task, self._first):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = None


def check_token_size(token: str) -> None:
    """Raises `Unauthenticated` for a token longer than `MAX_TOKEN_CHARS` (before any parsing,
    so a huge token costs no JSON decoding or signature check)."""
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated(
            f"The access token is longer than {MAX_TOKEN_CHARS} characters.",
            reason="TOKEN_TOO_LARGE",
        )


class TokenVerifier:
    """Verifies access tokens against a cached JWKS.

    Verified tokens are remembered (bounded LRU) until they expire, so a caller sending the
    same token on every call pays for the signature check once.
    """

    def __init__(
        self,
        fetch_jwks: JwksFetcher,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float = 5.0,
        refetch_cooldown_seconds: float = 30.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
        revocations: SessionRevocations | None = None,
    ) -> None:
        self._fetch_jwks = fetch_jwks
        self.revocations = revocations
        self.issuer = issuer
        self.audience = audience
        self._leeway = leeway_seconds
        self._cooldown = refetch_cooldown_seconds
        self._cache_size = cache_size
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._last_fetch = float("-inf")
        self._fetch_lock = asyncio.Lock()
        self._verified: OrderedDict[str, Principal] = OrderedDict()
        self.fetch_count = 0

    async def verify(self, token: str) -> Principal:
        """Returns the token's principal, or raises `Unauthenticated` saying what is wrong."""
        check_token_size(token)
        if self.revocations is not None and not self.revocations.is_ready:
            await self.revocations.ready()
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at + self._leeway > self._clock():
                self._verified.move_to_end(token)
                self._check_session(cached)
                return cached
            del self._verified[token]
            raise Unauthenticated("The access token has expired.", reason="TOKEN_EXPIRED")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated(
                "The access token is malformed.", reason="TOKEN_INVALID"
            ) from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(
                "The access token uses an algorithm this service does not accept.",
                reason="TOKEN_INVALID",
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("The access token names no signing key.", reason="TOKEN_INVALID")
        key = await self._key_for(kid)
        principal = self._decode(token, key)
        self._check_session(principal)
        self._remember(token, principal)
        return principal

    def _check_session(self, principal: Principal) -> None:
        if (
            principal.session_id
            and self.revocations is not None
            and self.revocations.is_revoked(principal.session_id)
        ):
            raise Unauthenticated(
                "This session has ended (signed out, or the account was deleted). Sign in again.",
                reason="SESSION_REVOKED",
            )

    async def aclose(self) -> None:
        """Stops the revocation polling, if any."""
        if self.revocations is not None:
            await self.revocations.aclose()

    def _decode(self, token: str, key: Any) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The access token has expired.", reason="TOKEN_EXPIRED") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(
                f"The access token is not valid: {exc}.", reason="TOKEN_INVALID"
            ) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("The access token names no user.", reason="TOKEN_INVALID")
        session_id = claims.get("sid", "")
        return Principal(
            user_id=subject,
            token=token,
            token_id=str(claims["jti"]),
            expires_at=float(claims["exp"]),
            session_id=session_id if isinstance(session_id, str) else "",
        )

    def _remember(self, token: str, principal: Principal) -> None:
        self._verified[token] = principal
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)

    async def _key_for(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._fetch_lock:
            key = self._keys.get(kid)
            if key is None and self._clock() - self._last_fetch >= self._cooldown:
                await self._refresh_keys()
                key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated(
                "The access token was signed by an unknown key.", reason="TOKEN_UNKNOWN_KEY"
            )
        return key

    async def _refresh_keys(self) -> None:
        self._last_fetch = self._clock()
        self.fetch_count += 1
        try:
            jwks = await self._fetch_jwks()
        except Exception as exc:
            # Let the next call try again instead of waiting out the cooldown.
            self._last_fetch = float("-inf")
            log.warning("cannot fetch signing keys", extra={"error": type(exc).__name__})
            raise Unavailable(
                "Cannot verify the access token right now: signing keys are unavailable.",
                reason="JWKS_UNAVAILABLE",
            ) from None
        keys: dict[str, Any] = {}
        for jwk in jwks:
            if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not jwk.get("kid"):
                continue
            keys[str(jwk["kid"])] = OKPAlgorithm.from_jwk(dict(jwk))
        self._keys = keys
        log.info("signing keys loaded", extra={"kids": sorted(keys)})


def bearer_token(authorization: str | None) -> str:
    """Extracts the token from an `authorization: Bearer <token>` value."""
    if not authorization:
        raise Unauthenticated(
            "Missing access token: send `authorization: Bearer <token>`.", reason="TOKEN_MISSING"
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "Malformed authorization: expected `Bearer <token>`.", reason="TOKEN_MISSING"
        )
    return token.strip()


class AuthInterceptor(BehaviorInterceptor):
    """Verifies the bearer token of every call except public ones; handlers read the caller
    with `current_principal()`. Health and reflection are always public."""

    def __init__(self, verifier: TokenVerifier, public_methods: Collection[str] = ()) -> None:
        self._verifier = verifier
        self._public = frozenset(public_methods)

    def applies_to(self, method: str) -> bool:
        """Every method but the public ones and health/reflection."""
        return method not in self._public and not method.startswith(INFRASTRUCTURE_METHOD_PREFIXES)

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> Principal:
        token = bearer_token(metadata_value(context, AUTHORIZATION_KEY))
        return await self._verifier.verify(token)

    def _unary(self, behavior: UnaryBehavior, _method: str) -> UnaryBehavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            principal = await self._authenticate(context)
            reset = _principal_var.set(principal)
            try:
                return await behavior(request, context)
            finally:
                _principal_var.reset(reset)

        return wrapped

    def _stream(self, behavior: StreamBehavior, _method: str) -> StreamBehavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            principal = await self._authenticate(context)
            _principal_var.set(principal)
            async for response in behavior(request, context):
                yield response

        return wrapped
