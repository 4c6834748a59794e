"""The one JWT verifier and the auth interceptor every backend uses.

Access tokens are EdDSA (Ed25519) JWTs issued by the auth service. Keys come from a JWKS
source (normally `AuthService.GetJwks`), are cached, and an unknown `kid` triggers one refetch
per cooldown period. The algorithm is pinned: a token whose header names any other algorithm
(`none`, HS256 signed with a public key, …) is rejected before any key is chosen.
"""

from __future__ import annotations

import asyncio
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

JwksFetcher = Callable[[], Awaitable[Sequence[dict[str, Any]]]]


@dataclass(frozen=True)
class Principal:
    """The verified caller: their user id and the token they presented (to forward it)."""

    user_id: str
    token: str
    token_id: str
    expires_at: float


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


def remote_token_verifier(
    settings: TokenSettings, auth_channel: grpc.aio.Channel, *, jwks_timeout: float = 3.0
) -> TokenVerifier:
    """The verifier of a process that is not the auth service: the issuer and audience from
    `settings`, the signing keys from `AuthService.GetJwks` over `auth_channel`."""
    return TokenVerifier(
        grpc_jwks_fetcher(auth_channel, timeout=jwks_timeout),
        issuer=settings.issuer,
        audience=settings.audience,
        refetch_cooldown_seconds=settings.jwks_refetch_cooldown_seconds,
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
    ) -> None:
        self._fetch_jwks = fetch_jwks
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
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at + self._leeway > self._clock():
                self._verified.move_to_end(token)
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
        self._remember(token, principal)
        return principal

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
        return Principal(
            user_id=subject,
            token=token,
            token_id=str(claims["jti"]),
            expires_at=float(claims["exp"]),
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
