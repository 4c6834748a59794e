"""Which model answers: the offline model, OpenAI, or any OpenAI-compatible server.

`AGENT_MODEL=offline` (the default) needs nothing. Any other value is a model name: with
`OPENAI_BASE_URL` it is served by that OpenAI-compatible server over Chat Completions (Ollama,
vLLM, LiteLLM, OpenRouter…); otherwise by OpenAI's Responses API with `OPENAI_API_KEY`.
"""

from __future__ import annotations

from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
from agents.models.interface import Model
from openai import AsyncOpenAI
from todo_common.cli import ConfigurationError

from todo_agent.offline.model import OfflineModel
from todo_agent.settings import AgentSettings


class ModelConfigurationError(ConfigurationError):
    """The settings name a model that cannot be used as configured (exit code 2 at start-up)."""


def build_model(settings: AgentSettings) -> Model:
    """The model the service runs every request with. Raises on an unusable configuration."""
    if settings.is_offline:
        return OfflineModel()
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    if settings.openai_base_url:
        client = AsyncOpenAI(
            base_url=settings.openai_base_url,
            # Local servers (Ollama, vLLM) accept any key; the client insists on one.
            api_key=key or "not-needed",
            timeout=settings.model_request_timeout_seconds,
            max_retries=settings.model_max_retries,
        )
        return OpenAIChatCompletionsModel(model=settings.model, openai_client=client)
    if not key:
        raise ModelConfigurationError(
            f"AGENT_MODEL={settings.model!r} needs OPENAI_API_KEY (or OPENAI_BASE_URL for an "
            "OpenAI-compatible server); use AGENT_MODEL=offline to run without one."
        )
    client = AsyncOpenAI(
        api_key=key,
        timeout=settings.model_request_timeout_seconds,
        max_retries=settings.model_max_retries,
    )
    return OpenAIResponsesModel(model=settings.model, openai_client=client)
