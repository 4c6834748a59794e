"""Typed settings of the agent service (environment variables prefixed AGENT_).

The agent owns no data, so unlike auth and tasks it has no database settings. The OpenAI
credentials use their standard names (OPENAI_API_KEY, OPENAI_BASE_URL) so existing tooling and
documentation apply unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

OFFLINE_MODEL = "offline"


class AgentSettings(BaseSettings):
    """Where the agent service listens, which model it runs and the limits of one run."""

    model_config = SettingsConfigDict(env_prefix="AGENT_", extra="ignore", env_file=None)

    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=50053, ge=0, le=65535)
    log_level: str = "INFO"
    maximum_concurrent_rpcs: int = Field(default=1000, ge=1)
    max_receive_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=5.0, ge=0)

    # Where the tasks service listens; the tools call it with the caller's token.
    tasks_address: str = "127.0.0.1:50052"

    # `offline` (the built-in deterministic model) or a model name served by OpenAI or by the
    # OpenAI-compatible server at OPENAI_BASE_URL.
    model: str = OFFLINE_MODEL
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "AGENT_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "AGENT_OPENAI_BASE_URL")
    )
    # One provider request may take this long (the SDK client's own timeout).
    model_request_timeout_seconds: float = Field(default=60.0, gt=0)
    # Retries inside the OpenAI client for connection errors, 429 and 5xx. Kept low: the caller
    # (a person waiting) is better served by a quick, retryable failure than a long silence.
    model_max_retries: int = Field(default=1, ge=0, le=5)
    # Send traces to OpenAI's tracing backend. Off by default: no network unless asked for.
    tracing_enabled: bool = False

    # Limits of one run.
    max_turns: int = Field(default=10, ge=1, le=50)
    run_timeout_seconds: float = Field(default=120.0, gt=0)
    tool_timeout_seconds: float = Field(default=10.0, gt=0)
    max_input_chars: int = Field(default=8000, ge=1)
    max_history_messages: int = Field(default=50, ge=0)
    max_history_message_chars: int = Field(default=8000, ge=1)
    # How often buffered text deltas are flushed to the caller: every this many seconds or
    # this many characters, whichever comes first.
    text_flush_interval_seconds: float = Field(default=0.03, ge=0)
    text_flush_chars: int = Field(default=64, ge=1)

    @property
    def address(self) -> str:
        """host:port to bind."""
        return f"{self.host}:{self.port}"

    @property
    def is_offline(self) -> bool:
        """True when the built-in deterministic model answers."""
        return self.model.strip().lower() == OFFLINE_MODEL
