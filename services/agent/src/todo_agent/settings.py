"""Typed settings of the agent service (environment variables prefixed AGENT_).

The agent owns no data, so unlike auth and tasks it takes the shared server settings without
the database layer. The OpenAI credentials use their standard names (OPENAI_API_KEY,
OPENAI_BASE_URL) so existing tooling and documentation apply unchanged.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict
from todo_common.settings import BackendClientSettings, GrpcServerSettings, Port

OFFLINE_MODEL = "offline"


class AgentSettings(GrpcServerSettings, BackendClientSettings):
    """Where the agent service listens, which model it runs and the limits of one run.
    (Token settings, including where the signing keys are, come from the JWT_ variables.)"""

    model_config = SettingsConfigDict(env_prefix="AGENT_")

    port: Port = 50053
    # Above `max_concurrent_turns`, so a busy agent refuses a turn itself, with a retry hint
    # (see there), before the gRPC server's own limit (a bare RESOURCE_EXHAUSTED) is reached.
    maximum_concurrent_rpcs: int = Field(default=4096, ge=1)
    # A request carries the conversation's history: allow more than the services' default.
    max_receive_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    # Where the tasks service listens; the tools call it with the caller's token.
    tasks_address: str = "127.0.0.1:50052"

    # `offline` (the built-in deterministic model) or a model name served by OpenAI or by the
    # OpenAI-compatible server at OPENAI_BASE_URL.
    model: str = OFFLINE_MODEL
    # More model names a caller may pick per turn (`RespondRequest.model`, listed by
    # ListModels), comma-separated, served by the same provider as `model`. The offline model
    # can always be picked.
    extra_models: str = ""
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
    # Connections to the model server, spread over clients of at most 128 each (see
    # todo_agent.models); 0 means one per concurrent turn (`max_concurrent_turns`).
    model_max_connections: int = Field(default=0, ge=0)
    # Ask a Chat Completions server for the token counts of streamed replies
    # (`stream_options.include_usage`); off only for a server that rejects the option. A reply
    # without counts is estimated and the run's usage says so (todo_agent.usage).
    model_stream_usage: bool = True
    # The configured model's context window in tokens. The history sent with a turn is cut,
    # oldest messages first, to what fits beside the instructions, the tools, the new message
    # and `model_reply_tokens` (todo_agent.history_budget); 0 sends the history uncut. The
    # default suits most current models; a small local model (llama.cpp's default context is
    # 2,048) needs its own figure.
    model_context_tokens: int = Field(default=8192, ge=0)
    # Tokens kept free in the context for the model's reply.
    model_reply_tokens: int = Field(default=1024, ge=0)
    # Send traces to OpenAI's tracing backend. Off by default: no network unless asked for.
    tracing_enabled: bool = False

    # Turns (Respond calls) one process runs at once. Past it a new turn is refused at once,
    # before any event, with RESOURCE_EXHAUSTED (reason AGENT_BUSY, RetryInfo of
    # `busy_retry_after_seconds`), which the edge answers with 429 + Retry-After: a quick,
    # retryable refusal instead of slow turns for everyone. 2,500 is above the 2,000
    # simultaneous streams measured (RSS under 230 MiB, 13 KiB per open stream at 2,000); CPU,
    # not memory, is what a busy agent runs out of first (bench/README.md, "Agent turn cost").
    max_concurrent_turns: int = Field(default=2500, ge=1)
    busy_retry_after_seconds: float = Field(default=1.0, gt=0)

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
    def is_offline(self) -> bool:
        """True when the built-in deterministic model answers."""
        return self.model.strip().lower() == OFFLINE_MODEL

    @property
    def model_names(self) -> list[str]:
        """The models a turn may run: the default (`model`) first, then the offline model,
        then `extra_models`, each once."""
        names = [OFFLINE_MODEL if self.is_offline else self.model.strip(), OFFLINE_MODEL]
        names += [name.strip() for name in self.extra_models.split(",")]
        unique: dict[str, None] = {}
        for name in names:
            key = OFFLINE_MODEL if name.lower() == OFFLINE_MODEL else name
            if key:
                unique.setdefault(key, None)
        return list(unique)

    def for_model(self, name: str) -> AgentSettings:
        """These settings with `name` as the model."""
        return self.model_copy(update={"model": name})
