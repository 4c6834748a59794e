"""Which model answers: the offline model, OpenAI, or any OpenAI-compatible server.

`AGENT_MODEL=offline` (the default) needs nothing. Any other value is a model name: with
`OPENAI_BASE_URL` it is served by that OpenAI-compatible server over Chat Completions (Ollama,
vLLM, LiteLLM, OpenRouter…); otherwise by OpenAI's Responses API with `OPENAI_API_KEY`.

A model served over HTTP is built as several models, each with its own `AsyncOpenAI` client
and connection pool of at most `CONNECTIONS_PER_CLIENT` connections, together holding
`AGENT_MODEL_MAX_CONNECTIONS` (by default one per turn the process may run). One pool of
thousands would not do: the HTTP client walks every connection of its pool whenever a request
starts or ends, so a turn's cost would grow with the number of turns open, and its default
pool (1,000 connections, 100 kept alive) would queue turns past 1,000 and reconnect past 100.
The service gives each turn the least busy model (`LeastBusy`).

`StreamingClient` is the `openai` client with one hot spot taken out: every streamed chunk
(one per token or so, tens per reply) is built by pydantic's validator instead of the
client's lenient pure-Python constructor, which inspects the chunk's type annotations (and
checks runtime protocols) anew for every chunk and was the largest single cost of a turn
(about 20 % of the agent's CPU; 0.8 ms against 0.04 ms per chunk measured on this machine).
The result is the same `ChatCompletionChunk`; a chunk that does not validate (a server that
leaves out a field) falls back to the client's own constructor, so nothing is rejected that
was accepted before.

It also sends Chat Completions requests in the form every OpenAI-compatible server accepts
(`portable_messages`): the SDK replays an assistant turn that only called tools with
`"content": null`, which OpenAI takes but llama.cpp's server (and others whose chat template
concatenates the content) answer with HTTP 500, so every tool turn failed there.

`ChatCompletionsModel` asks the server for the streamed token counts (`include_usage`), counts
an estimate where it sent none (`todo_agent.usage`), treats a turn with no text and no tool
call as the failure it is (`EmptyModelReply`: a server out of context answers 200 with an
empty stream, and the run used to "succeed" with nothing to show), and makes tool-call
arguments with a raw newline inside a string strict JSON (`_repair_tool_arguments`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from typing import Any, Generic, TypeVar, cast

import httpx2
import pydantic
from agents import (
    AgentOutputSchemaBase,
    Handoff,
    ModelSettings,
    ModelTracing,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Tool,
)
from agents.items import TResponseInputItem, TResponseStreamEvent
from agents.models.interface import Model
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai._models import FinalRequestOptions
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import Response, ResponseUsage
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from todo_common.cli import ConfigurationError

from todo_agent.failures import EmptyModelReply
from todo_agent.offline.model import OfflineModel
from todo_agent.request_body import install as install_plain_body
from todo_agent.settings import AgentSettings
from todo_agent.usage import estimate_tokens, note_estimated_request


class ModelConfigurationError(ConfigurationError):
    """The settings name a model that cannot be used as configured (exit code 2 at start-up)."""


T = TypeVar("T")
R = TypeVar("R")

# The most connections one client's pool holds (see the module docstring).
CONNECTIONS_PER_CLIENT = 128
# An idle connection to the model server is kept this long for the next request.
KEEPALIVE_SECONDS = 30.0


class StreamingClient(AsyncOpenAI):
    """`AsyncOpenAI` whose streamed Chat Completions chunks are validated, not constructed
    field by field (see the module docstring)."""

    def _process_response_data(
        self, *, data: object, cast_to: type[R], response: httpx2.Response
    ) -> R:
        if cast_to is ChatCompletionChunk and isinstance(data, dict):
            try:
                return cast("R", ChatCompletionChunk.model_validate(data))
            except pydantic.ValidationError:
                pass  # the client's lenient constructor below keeps what it can
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)

    async def _prepare_options(self, options: FinalRequestOptions) -> FinalRequestOptions:
        options = await super()._prepare_options(options)
        data = options.json_data
        if (
            options.url.endswith("/chat/completions")
            and isinstance(data, Mapping)
            and isinstance(data.get("messages"), list)
        ):
            # A new body: the options are a copy per attempt, the SDK's messages are not.
            options.json_data = {**data, "messages": portable_messages(data["messages"])}
        return options


def portable_messages(messages: list[Any]) -> list[Any]:
    """Chat Completions messages as every OpenAI-compatible server takes them: an assistant
    message without text (one that only called tools) carries `"content": ""`, not null."""
    out: list[Any] = []
    for message in messages:
        if (
            isinstance(message, Mapping)
            and message.get("role") == "assistant"
            and message.get("content") is None
        ):
            message = {**message, "content": ""}
        out.append(message)
    return out


class ChatCompletionsModel(OpenAIChatCompletionsModel):
    """The SDK's Chat Completions model that asks for token counts, estimates them where the
    server sends none, fails an empty turn (see the module docstring) and closes its own
    client (and its connections) when the service stops; the SDK leaves a client it was given
    open."""

    def __init__(
        self, model: str, openai_client: AsyncOpenAI, *, stream_usage: bool = True
    ) -> None:
        super().__init__(model=model, openai_client=openai_client)
        self._own_client = openai_client
        self._stream_usage = stream_usage

    async def close(self) -> None:
        await self._own_client.close()

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        if self._stream_usage and model_settings.include_usage is None:
            model_settings = dataclasses.replace(model_settings, include_usage=True)
        stream = cast(
            "AsyncGenerator[TResponseStreamEvent, None]",
            super().stream_response(
                system_instructions,
                input,
                model_settings,
                tools,
                output_schema,
                handoffs,
                tracing,
                previous_response_id=previous_response_id,
                conversation_id=conversation_id,
                prompt=prompt,
            ),
        )
        async with aclosing(stream) as events:
            async for event in events:
                if event.type == "response.completed":
                    _repair_tool_arguments(event.response)
                    if not _has_content(event.response):
                        raise EmptyModelReply(
                            "The model server answered with no text and no tool call."
                        )
                    if not event.response.usage or not event.response.usage.total_tokens:
                        event.response.usage = _estimated_usage(
                            event.response, system_instructions, input, tools, handoffs
                        )
                        note_estimated_request()
                yield event


class ResponsesModel(OpenAIResponsesModel):
    """The SDK's Responses model, closing its own client when the service stops."""

    def __init__(self, model: str, openai_client: AsyncOpenAI) -> None:
        super().__init__(model=model, openai_client=openai_client)
        self._own_client = openai_client

    async def close(self) -> None:
        await self._own_client.close()


def _has_content(response: Response) -> bool:
    """Whether a model turn said something or called a tool."""
    for item in response.output:
        if item.type == "function_call":
            return True
        if item.type == "message" and any(
            getattr(part, "text", "").strip() or getattr(part, "refusal", "").strip()
            for part in item.content
        ):
            return True
    return False


def _repair_tool_arguments(response: Response) -> None:
    """Tool-call arguments that are JSON but for a raw control character (a newline) inside a
    string, as small models write them under a grammar, rewritten as strict JSON: the SDK
    parses strictly and would refuse the whole call."""
    for item in response.output:
        if item.type != "function_call":
            continue
        try:
            json.loads(item.arguments or "{}")
        except json.JSONDecodeError:
            try:
                lenient = json.loads(item.arguments, strict=False)
            except json.JSONDecodeError:
                continue  # not JSON at all: the tool tells the model so (tools.argument_problem)
            item.arguments = json.dumps(lenient, ensure_ascii=False)


def _estimated_usage(
    response: Response,
    system_instructions: str | None,
    input: str | list[TResponseInputItem],
    tools: list[Tool],
    handoffs: list[Handoff],
) -> ResponseUsage:
    """Token counts for a request the server did not count, from the length of what was sent
    (instructions, conversation, tool schemas) and what came back."""
    schemas = [
        (
            getattr(t, "name", ""),
            getattr(t, "description", ""),
            getattr(t, "params_json_schema", ""),
        )
        for t in tools
    ] + [(h.tool_name, h.tool_description, h.input_json_schema) for h in handoffs]
    sent = estimate_tokens(system_instructions or "") + estimate_tokens(input)
    sent += estimate_tokens(schemas)
    received = 0
    for item in response.output:
        if item.type == "function_call":
            received += estimate_tokens(item.name + item.arguments)
        elif item.type == "message":
            received += sum(estimate_tokens(getattr(part, "text", "")) for part in item.content)
    return ResponseUsage(
        input_tokens=sent,
        output_tokens=received,
        total_tokens=sent + received,
        input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
    )


def build_model(settings: AgentSettings, *, connections: int = CONNECTIONS_PER_CLIENT) -> Model:
    """One model object with its own client of at most `connections` connections. Raises on
    an unusable configuration."""
    if settings.is_offline:
        return OfflineModel()
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    if not key and not settings.openai_base_url:
        raise ModelConfigurationError(
            f"AGENT_MODEL={settings.model!r} needs OPENAI_API_KEY (or OPENAI_BASE_URL for an "
            "OpenAI-compatible server); use AGENT_MODEL=offline to run without one."
        )
    install_plain_body()  # the body's type walk skipped where it changes nothing
    client = StreamingClient(
        base_url=settings.openai_base_url,
        # Local servers (Ollama, vLLM) accept any key; the client insists on one.
        api_key=key or "not-needed",
        timeout=settings.model_request_timeout_seconds,
        max_retries=settings.model_max_retries,
        http_client=DefaultAioHttpClient(
            timeout=settings.model_request_timeout_seconds,
            limits=httpx2.Limits(
                max_connections=connections,
                max_keepalive_connections=connections,
                keepalive_expiry=KEEPALIVE_SECONDS,
            ),
        ),
    )
    if settings.openai_base_url:
        return ChatCompletionsModel(
            model=settings.model, openai_client=client, stream_usage=settings.model_stream_usage
        )
    return ResponsesModel(model=settings.model, openai_client=client)


def build_models(settings: AgentSettings) -> list[Model]:
    """The models the service spreads its turns over: one offline model, or enough clients of
    at most `CONNECTIONS_PER_CLIENT` connections to hold `model_max_connections`."""
    if settings.is_offline:
        return [OfflineModel()]
    total = settings.model_max_connections or settings.max_concurrent_turns
    count = math.ceil(total / CONNECTIONS_PER_CLIENT)
    per_client = math.ceil(total / count)
    return [build_model(settings, connections=per_client) for _ in range(count)]


def build_model_choices(
    settings: AgentSettings, default: Sequence[Model] | None = None
) -> dict[str, list[Model]]:
    """The models a turn may pick (`AgentSettings.model_names`) → the model objects each is
    spread over; the default first, as `default` when given (tests script it)."""
    names = settings.model_names
    choices: dict[str, list[Model]] = {}
    for name in names:
        if name == names[0] and default is not None:
            choices[name] = list(default)
        else:
            choices[name] = build_models(settings.for_model(name))
    return choices


class LeastBusy(Generic[T]):
    """Hands each turn the item (a model's run configuration) with the fewest turns running on
    it, so the turns in flight spread evenly over the models' connection pools."""

    def __init__(self, items: Sequence[T]) -> None:
        if not items:
            raise ValueError("at least one item is needed")
        self.items = list(items)
        self._running = [0] * len(self.items)

    @contextmanager
    def acquire(self) -> Iterator[T]:
        """The least busy item, counted as busy until the block ends."""
        index = min(range(len(self._running)), key=self._running.__getitem__)
        self._running[index] += 1
        try:
            yield self.items[index]
        finally:
            self._running[index] -= 1
