"""Typed settings of the auth service (environment variables with the AUTH_ prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import SettingsConfigDict
from todo_common.settings import (
    DatabaseSettings,
    GrpcServerSettings,
    Port,
    SchemaName,
    TokenSettings,
)

# Asymmetric algorithms an external issuer may use. Symmetric (HS*) and `none` are never
# accepted: with a public JWKS, HS256 would let anyone forge tokens with the public key.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)


class ExternalIssuer(BaseModel):
    """An identity provider whose tokens ExchangeToken accepts (e.g. a Better Auth deployment)."""

    # The exact `iss` claim of its tokens.
    issuer: str = Field(min_length=1)
    # The `aud` its tokens must carry; None skips the audience check.
    audience: str | None = None
    # Where its public keys are: an https URL (or http for local development) or a file.
    jwks_url: str | None = None
    jwks_file: Path | None = None
    # Signature algorithms accepted for this issuer (pinned; the token header cannot widen it).
    algorithms: list[str] = Field(default_factory=lambda: ["EdDSA", "RS256", "ES256"])

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError(f"issuer {self.issuer!r}: set exactly one of jwks_url and jwks_file")
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError(f"issuer {self.issuer!r}: jwks_url must be an http(s) URL")
        unsupported = set(self.algorithms) - ASYMMETRIC_ALGORITHMS
        if unsupported or not self.algorithms:
            raise ValueError(
                f"issuer {self.issuer!r}: algorithms must be a non-empty subset of "
                f"{sorted(ASYMMETRIC_ALGORITHMS)}, got {sorted(unsupported) or 'none'}"
            )
        return self


class AuthSettings(GrpcServerSettings, DatabaseSettings):
    """Everything the auth service is configured with. Its own fields read AUTH_<NAME>; the
    issuer and audience it signs access tokens with are the JWT_ISSUER and JWT_AUDIENCE every
    verifier reads (`token`; its key-fetching fields are for the other processes)."""

    model_config = SettingsConfigDict(env_prefix="AUTH_")

    port: Port = 50051
    database_url: str = "sqlite+aiosqlite:///data/auth.db"
    database_schema: SchemaName = "auth"

    token: TokenSettings = Field(default_factory=TokenSettings)

    access_token_ttl_seconds: int = Field(default=900, ge=1)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=1)
    # A retired signing key stays in the JWKS for access TTL + this, so clock skew and verifier
    # leeway cannot make a still-valid token unverifiable.
    key_retention_leeway_seconds: int = Field(default=60, ge=0)
    # How often GetMe's local verifier may re-read the keys on an unknown `kid` (a DB read).
    jwks_refetch_cooldown_seconds: float = Field(default=1.0, ge=0)

    # WatchRevokedSessions tells every verifier to re-read the revocations at least this often,
    # even when no notification arrived (the bound on a revocation lost in transit).
    revocation_watch_heartbeat_seconds: float = Field(default=5.0, gt=0)

    # Sign-in throttling per (normalised) email: this many failures within the window lock the
    # account for `sign_in_lockout_seconds` after the latest failure.
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_failure_window_seconds: int = Field(default=900, ge=1)
    sign_in_lockout_seconds: int = Field(default=60, ge=1)

    # argon2id, OWASP recommended minimum: m=19 MiB, t=2, p=1.
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_cost_kib: int = Field(default=19456, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    # Threads that hash passwords; bounds the memory and CPU argon2 can take under load.
    password_hash_workers: int = Field(default=2, ge=1)

    # Trusted external issuers for ExchangeToken, as JSON: AUTH_EXTERNAL_ISSUERS='[{"issuer":
    # "https://id.example.com", "jwks_url": "https://id.example.com/api/auth/jwks"}]'.
    external_issuers: list[ExternalIssuer] = Field(default_factory=list)
    external_jwks_timeout_seconds: float = Field(default=3.0, gt=0)
    external_jwks_refetch_cooldown_seconds: float = Field(default=30.0, ge=0)
    # Keys are re-read at least this often even when every kid is known (revoked keys go away).
    external_jwks_max_age_seconds: float = Field(default=3600.0, gt=0)
    external_token_leeway_seconds: float = Field(default=30.0, ge=0)
