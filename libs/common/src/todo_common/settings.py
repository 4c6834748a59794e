"""Typed settings shared by the gRPC services (each service adds its own with an env prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ISSUER = "todo-auth"
DEFAULT_AUDIENCE = "todo-api"


class GrpcServiceSettings(BaseSettings):
    """What every gRPC service is configured with. Subclasses set `env_prefix`."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    log_level: str = "INFO"
    maximum_concurrent_rpcs: int = Field(default=1000, ge=1)
    max_receive_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=5.0, ge=0)
    database_url: str
    # The PostgreSQL schema this service owns (ignored for SQLite: one file per service).
    database_schema: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    database_pool_size: int = Field(default=10, ge=1)

    @property
    def address(self) -> str:
        """host:port to bind."""
        return f"{self.host}:{self.port}"


class TokenSettings(BaseSettings):
    """How a backend verifies access tokens (the values the auth service issues with)."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="JWT_")

    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    # Where to fetch signing keys (AuthService.GetJwks).
    auth_address: str = "127.0.0.1:50051"
    jwks_refetch_cooldown_seconds: float = Field(default=30.0, ge=0)
