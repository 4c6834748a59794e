"""Who is calling: bearer tokens verified locally, external tokens exchanged once.

Internal access tokens are verified with the shared `TokenVerifier` (keys from
AuthService.GetJwks, cached). A token whose (unverified) `iss` is a configured external issuer
is sent to AuthService.ExchangeToken — which verifies it against that issuer's keys — and the
internal token it returns is cached until it (or the external token) expires, so one exchange
serves every request made with that external token.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

import jwt
from todo.auth.v1 import auth_service_pb2
from todo_common.tokens import Principal, TokenVerifier, check_token_size

from todo_edge.backends import Backends


class Identity:
    """Turns a bearer token into a verified principal (exchanging external tokens)."""

    def __init__(
        self,
        verifier: TokenVerifier,
        backends: Backends,
        external_issuers: frozenset[str],
        *,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self._backends = backends
        self._external_issuers = external_issuers
        self._cache_size = cache_size
        self._clock = clock
        # sha256(external token) -> (internal token, valid until).
        self._exchanged: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.exchange_count = 0

    async def principal(self, token: str) -> Principal:
        """The verified caller; raises Unauthenticated (→ 401) or Unavailable (→ 503)."""
        check_token_size(token)  # Before the unverified decode below, too.
        if self._external_issuers:
            token = await self._internal_token(token)
        return await self.verifier.verify(token)

    async def _internal_token(self, token: str) -> str:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return token  # Not a JWT at all: the verifier says why.
        issuer = claims.get("iss")
        if issuer not in self._external_issuers:
            return token
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._exchanged.get(key)
        now = self._clock()
        if cached is not None and cached[1] > now:
            self._exchanged.move_to_end(key)
            return cached[0]
        response = await self._backends.auth_for(None).ExchangeToken(
            auth_service_pb2.ExchangeTokenRequest(subject_token=token)
        )
        self.exchange_count += 1
        valid_until = float(response.access_token_expire_time.seconds)
        external_exp = claims.get("exp")
        if isinstance(external_exp, int | float):
            valid_until = min(valid_until, float(external_exp))
        self._exchanged[key] = (response.access_token, valid_until)
        if len(self._exchanged) > self._cache_size:
            self._exchanged.popitem(last=False)
        return str(response.access_token)
