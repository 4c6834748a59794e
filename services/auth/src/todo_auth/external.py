"""Verification of tokens from trusted external issuers (e.g. a Better Auth deployment).

Each configured issuer has a JWKS (URL or file), cached here; an unknown `kid` triggers a
refetch at most once per cooldown, and keys are re-read after a maximum age. The algorithm is
pinned per issuer: the token's header may only pick one of the configured asymmetric ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from todo_common.errors import Unauthenticated, Unavailable

from todo_auth.settings import AuthSettings, ExternalIssuer
from todo_auth.text import has_control_characters, without_control_characters

log = logging.getLogger(__name__)

# Which JWK key type each algorithm family needs (a key of another type never verifies it).
_KEY_TYPE_BY_ALGORITHM_PREFIX = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
# Echoing attacker-chosen text in errors is fine in small doses.
_MAX_ECHO = 200


@dataclass(frozen=True)
class ExternalIdentityClaims:
    """Who a verified external token says the caller is."""

    issuer: str
    subject: str
    # Only a verified email (email_verified / emailVerified true), normalised; else None.
    email: str | None
    name: str | None


@dataclass
class _IssuerKeys:
    config: ExternalIssuer
    keys: list[jwt.PyJWK] = field(default_factory=list)
    fetched_at: float = float("-inf")
    attempted_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def matching(self, kid: str | None, algorithm: str) -> list[jwt.PyJWK]:
        key_type = _KEY_TYPE_BY_ALGORITHM_PREFIX.get(algorithm[:2])
        found = []
        for key in self.keys:
            if kid is not None and key.key_id != kid:
                continue
            if key.key_type != key_type:
                continue
            declared = key._jwk_data.get("alg")
            if declared is not None and declared != algorithm:
                continue
            # Without a declared alg, an EC or OKP key's curve fixes its algorithm.
            if declared is None and key_type != "RSA" and key.algorithm_name != algorithm:
                continue
            found.append(key)
        return found


class ExternalTokenVerifier:
    """Verifies subject tokens for ExchangeToken against the configured issuers."""

    def __init__(
        self,
        issuers: Sequence[ExternalIssuer],
        *,
        timeout_seconds: float = 3.0,
        refetch_cooldown_seconds: float = 30.0,
        max_age_seconds: float = 3600.0,
        leeway_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = {issuer.issuer: _IssuerKeys(issuer) for issuer in issuers}
        self._timeout = timeout_seconds
        self._cooldown = refetch_cooldown_seconds
        self._max_age = max_age_seconds
        self._leeway = leeway_seconds
        self._clock = clock
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, clock: Callable[[], float]
    ) -> ExternalTokenVerifier:
        """A verifier for the issuers and limits in `settings`."""
        return cls(
            settings.external_issuers,
            timeout_seconds=settings.external_jwks_timeout_seconds,
            refetch_cooldown_seconds=settings.external_jwks_refetch_cooldown_seconds,
            max_age_seconds=settings.external_jwks_max_age_seconds,
            leeway_seconds=settings.external_token_leeway_seconds,
            clock=clock,
        )

    async def close(self) -> None:
        """Closes the HTTP client."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def verify(self, token: str) -> ExternalIdentityClaims:
        """The identity in `token`, or `Unauthenticated` saying why it is not acceptable."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthenticated(
                "The subject token is not a well-formed JWT.", reason="EXTERNAL_TOKEN_INVALID"
            ) from None
        issuer_claim = unverified.get("iss")
        state = self._issuers.get(issuer_claim) if isinstance(issuer_claim, str) else None
        if state is None:
            raise Unauthenticated(
                f"The subject token's issuer {str(issuer_claim)[:_MAX_ECHO]!r} is not a trusted "
                "external issuer.",
                reason="EXTERNAL_ISSUER_UNKNOWN",
            )
        config = state.config
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in config.algorithms:
            raise Unauthenticated(
                f"The subject token's algorithm {str(algorithm)[:_MAX_ECHO]!r} is not accepted "
                f"for issuer {config.issuer!r} (accepted: {', '.join(config.algorithms)}).",
                reason="EXTERNAL_TOKEN_INVALID",
            )
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) and kid else None
        candidates = await self._candidates(state, kid, algorithm)
        claims = self._decode(token, candidates, config, algorithm)
        subject = claims.get("sub")
        if (
            not isinstance(subject, str)
            or not subject.strip()
            or len(subject) > 255
            or has_control_characters(subject)
        ):
            raise Unauthenticated(
                "The subject token has no usable `sub` claim.", reason="EXTERNAL_TOKEN_INVALID"
            )
        return ExternalIdentityClaims(
            issuer=config.issuer,
            subject=subject,
            email=_verified_email(claims),
            name=without_control_characters(claims["name"])
            if isinstance(claims.get("name"), str)
            else None,
        )

    def _decode(
        self,
        token: str,
        candidates: Sequence[jwt.PyJWK],
        config: ExternalIssuer,
        algorithm: str,
    ) -> dict[str, Any]:
        for key in candidates:
            try:
                return jwt.decode(
                    token,
                    key.key,
                    algorithms=[algorithm],
                    issuer=config.issuer,
                    audience=config.audience,
                    leeway=self._leeway,
                    options={
                        "require": ["exp", "iss", "sub"],
                        "verify_aud": config.audience is not None,
                    },
                )
            except jwt.ExpiredSignatureError:
                raise Unauthenticated(
                    "The subject token has expired.", reason="EXTERNAL_TOKEN_EXPIRED"
                ) from None
            except jwt.InvalidSignatureError:
                continue  # without a kid, another key may be the right one
            except jwt.PyJWTError as exc:
                raise Unauthenticated(
                    f"The subject token is not valid: {str(exc).rstrip('.')}.",
                    reason="EXTERNAL_TOKEN_INVALID",
                ) from None
        raise Unauthenticated(
            f"The subject token's signature does not verify with issuer {config.issuer!r}'s keys.",
            reason="EXTERNAL_TOKEN_INVALID",
        )

    async def _candidates(
        self, state: _IssuerKeys, kid: str | None, algorithm: str
    ) -> list[jwt.PyJWK]:
        now = self._clock()
        candidates = state.matching(kid, algorithm)
        stale = now - state.fetched_at >= self._max_age
        if (not candidates or stale) and now - state.attempted_at >= self._cooldown:
            async with state.lock:
                if state.attempted_at <= now:  # nobody refreshed while we waited
                    await self._fetch(state, must_succeed=not state.keys)
            candidates = state.matching(kid, algorithm)
        if not candidates:
            raise Unauthenticated(
                f"The subject token was signed by a key issuer {state.config.issuer!r} does not "
                "publish.",
                reason="EXTERNAL_TOKEN_UNKNOWN_KEY",
            )
        return candidates

    async def _fetch(self, state: _IssuerKeys, *, must_succeed: bool) -> None:
        config = state.config
        state.attempted_at = self._clock()
        try:
            document = await self._read_jwks(config)
            keys = _parse_jwks(document)
        except Exception as exc:
            log.warning(
                "cannot fetch external issuer keys",
                extra={"issuer": config.issuer, "error": type(exc).__name__},
            )
            if must_succeed:
                # Let the next call retry at once rather than failing for a whole cooldown.
                state.attempted_at = float("-inf")
                raise Unavailable(
                    f"Cannot fetch the signing keys of issuer {config.issuer!r} right now.",
                    reason="EXTERNAL_JWKS_UNAVAILABLE",
                ) from None
            return
        state.keys = keys
        state.fetched_at = state.attempted_at
        log.info(
            "external issuer keys loaded",
            extra={"issuer": config.issuer, "kids": [k.key_id for k in keys]},
        )

    async def _read_jwks(self, config: ExternalIssuer) -> Any:
        if config.jwks_file is not None:
            return json.loads(await asyncio.to_thread(config.jwks_file.read_text, "utf-8"))
        assert config.jwks_url is not None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        response = await self._http.get(config.jwks_url, timeout=self._timeout)
        response.raise_for_status()
        return response.json()


def _parse_jwks(document: Any) -> list[jwt.PyJWK]:
    """The usable signing keys of a JWKS document (unsupported or private-use keys skipped)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            keys.append(jwt.PyJWK(entry))
        except jwt.PyJWTError:
            log.info("skipping unusable JWK", extra={"kid": entry.get("kid")})
    return keys


def _verified_email(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    verified = claims.get("email_verified", claims.get("emailVerified"))
    if not isinstance(email, str) or verified is not True:
        return None
    return email.strip().lower() or None
