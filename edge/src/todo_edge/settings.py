"""Typed settings of the HTTP edge (env prefix EDGE_; token issuer/audience from JWT_)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from todo_common.settings import (
    BackendClientSettings,
    DatabaseSettings,
    Port,
    ProcessSettings,
    SchemaName,
    TokenSettings,
)


def _split_list(value: object) -> object:
    """Lets list settings come from the environment as `a,b,c` (or as a JSON list)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


class EdgeSettings(ProcessSettings, DatabaseSettings, BackendClientSettings):
    """Everything the edge is configured with. Outside development, unsafe or missing values
    fail at start-up rather than at the first request.

    The auth service is at ONE address, `EDGE_AUTH_ADDRESS`: the edge calls it for sign-in and
    fetches the token signing keys from it over the same channel. `JWT_AUTH_ADDRESS` (where the
    other processes fetch the keys) is accepted as its alias, so one shared variable can point
    every process at auth; setting both to different addresses is an error. The issuer,
    audience and key-refetch cooldown come from JWT_ISSUER, JWT_AUDIENCE and
    JWT_JWKS_REFETCH_COOLDOWN_SECONDS, like every other verifier's (`token`).
    """

    model_config = SettingsConfigDict(env_prefix="EDGE_", extra="ignore", env_file=None)

    port: Port = 8000
    # Prometheus metrics are served on a port of their own (never the public one): bind it
    # where only the scraper reaches. None serves no metrics; 0 picks a free port (logged as
    # `metrics serving`).
    metrics_host: str = "127.0.0.1"
    metrics_port: Port | None = None
    # Behind a reverse proxy: whose X-Forwarded-For uvicorn may believe (client address for
    # the per-address rate limit).
    forwarded_allow_ips: str = "127.0.0.1"

    # Backends (host:port), resolved with gRPC's DNS resolver (see `grpc_load_balancing`).
    auth_address: str = "127.0.0.1:50051"
    tasks_address: str = "127.0.0.1:50052"
    agent_address: str = "127.0.0.1:50053"
    # Backends /readyz checks. The agent joins the list once the edge calls it (ChatKit).
    readiness_backends: CommaList = Field(default_factory=lambda: ["auth", "tasks"])

    # Deadlines of outbound calls.
    grpc_timeout_seconds: float = Field(default=5.0, gt=0)
    auth_timeout_seconds: float = Field(default=5.0, gt=0)
    health_timeout_seconds: float = Field(default=1.0, gt=0)

    # Browser origins allowed to call the API with credentials. Never `*`.
    cors_origins: CommaList = Field(
        default_factory=lambda: ["http://localhost:8000", "http://127.0.0.1:8000"]
    )
    # `Secure` on the refresh-token cookie. `make run` sets false for plain-http localhost.
    cookie_secure: bool = True
    refresh_cookie_name: str = "todo_refresh"

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # On SIGTERM the edge stops accepting connections and gives open requests (chat streams
    # included) this long to finish. Behind an orchestrator keep it at least as long as the
    # longest reply (`agent_timeout_seconds`) and below the pod's termination grace period.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    # The edge's own database (ChatKit threads, items, feedback). `todo-edge migrate` creates
    # its tables; on PostgreSQL they live in `database_schema`.
    database_url: str = "sqlite+aiosqlite:///data/edge.db"
    database_schema: SchemaName = "edge"
    # How long a store call may wait for a pooled connection (EDGE_DATABASE_POOL_SIZE, plus as
    # many again as overflow) before it fails as 503. No turn holds a connection while the
    # model answers, only for one statement at a time, so a wait is CPU backlog during a
    # burst, not a shortage: it is allowed to last, and the turn limit
    # (chatkit_max_concurrent_turns) bounds how many can wait.
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)

    # ChatKit (`POST /chatkit`). The deadline of one AgentService.Respond call (the agent caps
    # a run itself too); an SSE comment is sent after this many seconds of silence so proxies
    # keep the stream open; at most this many recent items are sent to the agent as history.
    agent_timeout_seconds: float = Field(default=120.0, gt=0)
    chatkit_heartbeat_seconds: float = Field(default=15.0, gt=0)
    chatkit_history_items: int = Field(default=30, ge=0, le=50)
    chatkit_max_input_chars: int = Field(default=8000, ge=1, le=8000)
    # At most this many ChatKit streams (turns) run at once in one edge process; past it a new
    # one is refused at once with 429 and `Retry-After: <chatkit_busy_retry_after_seconds>`.
    # The default holds 2,000 paced streams opened together (bench/README.md, "Chat turns
    # under load"); set it to what one process serves, and add replicas beyond that.
    chatkit_max_concurrent_turns: int = Field(default=2000, ge=1)
    chatkit_busy_retry_after_seconds: float = Field(default=1.0, gt=0)
    # The user's time zone when the client sends no `X-Time-Zone` header.
    chatkit_default_time_zone: str = "UTC"
    # GET /api/events (the live change feed, SSE): an SSE comment after this many seconds of
    # silence; each stream ends after `events_max_seconds` (the client resumes with
    # Last-Event-ID, with a fresh token); at most this many open feeds per user per process.
    events_heartbeat_seconds: float = Field(default=15.0, gt=0)
    events_max_seconds: float = Field(default=300.0, gt=0)
    events_per_user: int = Field(default=8, ge=1)
    # POST /api/chatkit/session calls per user per rate-limit window.
    chatkit_sessions_per_user: int = Field(default=30, ge=1)
    # The domain key the `<openai-chatkit>` web component on the page sends (register the
    # page's domain in OpenAI's domain allowlist to get one). The default is a placeholder
    # that is fine for localhost; the page's built-in fallback client does not use it.
    chatkit_domain_key: str = Field(
        default="domain_pk_local_placeholder", min_length=1, max_length=200
    )

    # Rate limits (requests per window). Sign-in and sign-up are limited per account (email)
    # and per client address; everything authenticated is limited per user.
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)
    auth_attempts_per_account: int = Field(default=10, ge=1)
    auth_attempts_per_address: int = Field(default=30, ge=1)
    requests_per_user: int = Field(default=1200, ge=1)
    # Shared counters for several replicas. Without it counters live in process memory, which
    # is only right for a single replica (development, `make run`).
    redis_url: str | None = None

    # Issuers (the `iss` claim) whose tokens are exchanged for internal ones via
    # AuthService.ExchangeToken, e.g. a Better Auth deployment. The auth service holds their
    # JWKS; the edge only needs to recognise them.
    external_issuers: CommaList = Field(default_factory=list)

    token: TokenSettings = Field(default_factory=TokenSettings)

    # The edge's public base URL as clients reach it (e.g. https://todo.example.com): names the
    # MCP resource (`/mcp`) in its OAuth protected-resource metadata and in `WWW-Authenticate`.
    # Unset: taken from each request (its scheme and Host).
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # The OAuth authorization servers the metadata sends MCP clients to for tokens (e.g. your
    # Better Auth deployment, listed in `external_issuers` too). Empty: the edge itself.
    mcp_authorization_servers: CommaList = Field(default_factory=list)

    _split = field_validator(
        "cors_origins",
        "external_issuers",
        "readiness_backends",
        "mcp_authorization_servers",
        mode="before",
    )(_split_list)

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, origins: list[str]) -> list[str]:
        # Credentials (the refresh cookie, Authorization) must never be shared with any origin.
        if any(origin.strip() == "*" for origin in origins):
            raise ValueError("`*` is not allowed: list the browser origins explicitly")
        return [origin.rstrip("/") for origin in origins]

    @field_validator("readiness_backends")
    @classmethod
    def _known_backends(cls, names: list[str]) -> list[str]:
        unknown = sorted(set(names) - {"auth", "tasks", "agent"})
        if unknown:
            raise ValueError(f"unknown backends: {', '.join(unknown)}")
        return names

    @model_validator(mode="after")
    def _one_auth_address(self) -> EdgeSettings:
        # `token.auth_address` holds JWT_AUTH_ADDRESS when it was set (and not empty).
        shared = self.token.auth_address if "auth_address" in self.token.model_fields_set else ""
        if shared:
            if "auth_address" in self.model_fields_set and shared != self.auth_address:
                raise ValueError(
                    f"EDGE_AUTH_ADDRESS ({self.auth_address}) and JWT_AUTH_ADDRESS ({shared}) "
                    "name different auth services: set one of them"
                )
            self.auth_address = shared
        # Whoever reads `token` sees the one address too.
        self.token = self.token.model_copy(update={"auth_address": self.auth_address})
        return self

    @model_validator(mode="after")
    def _production_requirements(self) -> EdgeSettings:
        if self.environment != "production":
            return self
        missing = []
        if not self.redis_url:
            missing.append("EDGE_REDIS_URL (rate-limit counters shared by replicas)")
        if not self.cookie_secure:
            missing.append("EDGE_COOKIE_SECURE=true (refresh cookie over HTTPS only)")
        if not self.cors_origins:
            missing.append("EDGE_CORS_ORIGINS")
        if missing:
            raise ValueError("production needs: " + "; ".join(missing))
        return self

    def backend_address(self, name: str) -> str:
        """host:port of a backend by name (auth, tasks, agent)."""
        addresses = {
            "auth": self.auth_address,
            "tasks": self.tasks_address,
            "agent": self.agent_address,
        }
        return addresses[name]
