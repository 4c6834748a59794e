"""Typed settings every process shares, in layers a process picks from.

- `ProcessSettings`: what every process has (environment, where it listens, log level).
- `GrpcServerSettings`: a gRPC server's limits and drain time (auth, tasks, agent).
- `DatabaseSettings`: the database a process owns (auth, tasks, edge; the agent has none).
- `BackendClientSettings`: how a process balances its calls over a backend's replicas.
- `TokenSettings`: the issuer and audience of access tokens and where verifiers get the keys.

Each process's settings class combines the layers it needs and sets its own `env_prefix`; every
layer reads the environment only (no .env file) and ignores the variables it does not know
(`SettingsLayer`), so a process's class inherits that and sets nothing else.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ISSUER = "todo-auth"
DEFAULT_AUDIENCE = "todo-api"

# A TCP port; 0 binds a free one (tests).
Port = Annotated[int, Field(ge=0, le=65535)]
# A PostgreSQL schema name this project creates (lower-case, unquoted-safe).
SchemaName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]
LoadBalancing = Literal["pick_first", "round_robin"]


class SettingsLayer(BaseSettings):
    """The base of every layer: the environment only, unknown variables ignored."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)


class ProcessSettings(SettingsLayer):
    """What every process is configured with. Subclasses set `env_prefix` and the port."""

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: Port
    log_level: str = "INFO"


class GrpcServerSettings(ProcessSettings):
    """A gRPC server: its limits and how long it drains on SIGTERM."""

    maximum_concurrent_rpcs: int = Field(default=1000, ge=1)
    max_receive_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=5.0, ge=0)

    @property
    def address(self) -> str:
        """host:port to bind."""
        return f"{self.host}:{self.port}"


class DatabaseSettings(SettingsLayer):
    """The database a process owns. Subclasses give the defaults (their file, their schema)."""

    database_url: str
    # The PostgreSQL schema the process owns (ignored for SQLite: one file per process).
    database_schema: SchemaName
    database_pool_size: int = Field(default=10, ge=1)


class BackendClientSettings(SettingsLayer):
    """How a process calls its backends. Addresses are resolved with gRPC's DNS resolver, so a
    headless Kubernetes Service name plus `round_robin` spreads calls over the replicas."""

    grpc_load_balancing: LoadBalancing = "pick_first"


class TokenSettings(SettingsLayer):
    """Access tokens, from the JWT_ variables every process reads alike: the issuer and
    audience the auth service signs with and every verifier checks, and (for verifiers) where
    the signing keys are served (AuthService.GetJwks) and how often an unknown key may make a
    verifier fetch them again."""

    model_config = SettingsConfigDict(env_prefix="JWT_")

    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    auth_address: str = "127.0.0.1:50051"
    jwks_refetch_cooldown_seconds: float = Field(default=30.0, ge=0)
    # How often a verifier asks AuthService.ListRevokedSessions what was revoked: a signed-out
    # session's access tokens stop working within about this long.
    revocation_poll_seconds: float = Field(default=1.0, gt=0, le=5)
