"""Typed settings of the tasks service (environment variables prefixed TASKS_)."""

from __future__ import annotations

import secrets
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from todo_common.settings import (
    BackendClientSettings,
    DatabaseSettings,
    GrpcServerSettings,
    Port,
    SchemaName,
)

# Shortest page-token secret accepted outside development: 32 characters ≈ 128+ bits.
MIN_SECRET_LENGTH = 32


class TasksSettings(GrpcServerSettings, DatabaseSettings, BackendClientSettings):
    """Where the tasks service listens, which database it owns and how it signs page tokens.
    (Token settings, including where the signing keys are, come from the JWT_ variables.)"""

    model_config = SettingsConfigDict(env_prefix="TASKS_")

    port: Port = 50052
    database_url: str = "sqlite+aiosqlite:///data/tasks.db"
    database_schema: SchemaName = "tasks"
    # HMAC key for ListTasks page tokens. Required in production: every replica must share it,
    # or a token minted by one replica is rejected by the next. In development and test a
    # random per-process key is used when it is unset, so tokens do not survive a restart.
    page_token_secret: SecretStr | None = None
    # WatchTaskEvents: how often a stream looks at the outbox without a wake-up (the only way
    # to see another process's writes on SQLite; a safety net under LISTEN/NOTIFY on
    # PostgreSQL), and how long it may stay silent before it sends an empty heartbeat batch.
    feed_poll_seconds: float = Field(default=0.5, gt=0)
    feed_postgres_poll_seconds: float = Field(default=10.0, gt=0)
    feed_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Undo: how long a change can be undone (UndoChange), which is also how long a deleted
    # task is kept before it is purged, and how often this process purges what has expired.
    undo_window_seconds: float = Field(default=600.0, gt=0)
    undo_purge_seconds: float = Field(default=60.0, gt=0)

    # The reminder scheduler: how often each process looks for due reminders (a reminder
    # arrives at most this late), and how many one pass claims.
    reminder_poll_seconds: float = Field(default=1.0, gt=0)
    reminder_batch_size: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _require_secret_outside_development(self) -> Self:
        secret = self.page_token_secret.get_secret_value() if self.page_token_secret else ""
        if self.environment == "production":
            if len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "TASKS_PAGE_TOKEN_SECRET must be set to at least "
                    f"{MIN_SECRET_LENGTH} characters in production"
                )
        elif not secret:
            self.page_token_secret = SecretStr(secrets.token_urlsafe(32))
        return self

    @property
    def page_token_key(self) -> bytes:
        """The page-token HMAC key as bytes."""
        assert self.page_token_secret is not None  # set by the validator
        return self.page_token_secret.get_secret_value().encode()
