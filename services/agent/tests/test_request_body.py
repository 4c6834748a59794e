"""`todo_agent.request_body`: the Chat Completions body without the client's type walk is the
body the client's own transform makes, for every body the Agents SDK builds for our assistant
(its tool schemas, a conversation with a tool call and its result, streamed and not)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
import typing_extensions
from agents import ModelSettings, ModelTracing
from openai import AsyncOpenAI
from openai._utils import PropertyInfo, is_given
from openai.resources.chat.completions import completions as completions_module
from openai.types.chat import completion_create_params
from todo_agent import request_body
from todo_agent.assistant import build_agents
from todo_agent.models import ChatCompletionsModel

STREAMING = completion_create_params.CompletionCreateParamsStreaming

CONVERSATION: list[Any] = [
    {"role": "user", "content": "add buy milk tomorrow"},
    {
        "type": "function_call",
        "call_id": "call_1",
        "name": "add_task",
        "arguments": '{"title": "Buy milk", "due": "2031-01-16"}',
    },
    {"type": "function_call_output", "call_id": "call_1", "output": '{"ok": true}'},
    {"role": "assistant", "content": "Added “Buy milk” for tomorrow."},
    {"role": "user", "content": "thanks ✓"},
]


class Sent(Exception):
    """Stops the request where the client would send it."""


class CapturingClient(AsyncOpenAI):
    async def post(self, path: str, *, body: object = None, **_: Any) -> Any:
        raise Sent(body)


async def _bodies_the_sdk_builds(
    monkeypatch: pytest.MonkeyPatch, *, stream: bool
) -> list[tuple[object, object]]:
    """Every (untransformed body, params type) the SDK hands the client for one request."""
    seen: list[tuple[object, object]] = []

    async def record(data: object, expected_type: object) -> Any:
        seen.append((data, expected_type))
        return await request_body.plain_body(data, expected_type)

    monkeypatch.setattr(completions_module, "async_maybe_transform", record)
    model = ChatCompletionsModel("test-model", CapturingClient(api_key="k", base_url="http://x"))
    agent = build_agents()
    arguments: dict[str, Any] = {
        "system_instructions": "You are a to-do assistant.",
        "input": CONVERSATION,
        "model_settings": ModelSettings(temperature=0.2, parallel_tool_calls=False),
        "tools": list(agent.tools),
        "output_schema": None,
        "handoffs": [],
        "tracing": ModelTracing.DISABLED,
        "previous_response_id": None,
        "conversation_id": None,
        "prompt": None,
    }
    with pytest.raises(Sent):
        if stream:
            async for _ in model.stream_response(**arguments):
                pass
        else:
            await model.get_response(**arguments)
    return seen


@pytest.mark.parametrize("stream", [True, False])
async def test_the_body_is_the_clients_own_for_what_the_sdk_sends(
    monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    seen = await _bodies_the_sdk_builds(monkeypatch, stream=stream)
    assert len(seen) == 1
    data, expected_type = seen[0]
    assert isinstance(data, dict) and data["tools"] and len(data["messages"]) == 6
    # The short way is the one taken: everything the SDK set is plain JSON.
    assert all(request_body.is_plain_json(v) for v in data.values() if is_given(v))
    ours = await request_body.plain_body(data, expected_type)
    theirs = await request_body.client_transform(data, expected_type)
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)  # same keys in the same order: same bytes


def test_the_installed_clients_create_params_need_no_transform() -> None:
    assert request_body.install()
    assert completions_module.async_maybe_transform is request_body.plain_body  # type: ignore[attr-defined]


class Aliased(typing_extensions.TypedDict, total=False):
    items: typing_extensions.Required[list[Annotated[str, PropertyInfo(alias="other")]]]


class Formatted(typing_extensions.TypedDict, total=False):
    when: int | Annotated[str, PropertyInfo(format="iso8601")]


class Nested(typing_extensions.TypedDict, total=False):
    inner: dict[str, Formatted]


def test_an_alias_or_format_anywhere_in_the_params_is_noticed() -> None:
    assert not request_body.transform_is_identity(Aliased)
    assert not request_body.transform_is_identity(Nested)
    assert request_body.transform_is_identity(STREAMING)


async def test_a_body_that_is_not_plain_json_goes_through_the_clients_transform() -> None:
    body = {"model": "m", "messages": ({"role": "user", "content": "hi"},), "stream": True}
    out = await request_body.plain_body(body, STREAMING)
    assert out == {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    other = {"a": (1, 2)}
    assert await request_body.plain_body(other, dict) == other


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"a": [1, 2.5, True, None, "x", {"b": []}]}, True),
        ({1: "int key"}, False),
        ([(1, 2)], False),
        ({"a": {1, 2}}, False),
    ],
)
def test_plain_json(value: object, plain: bool) -> None:
    assert request_body.is_plain_json(value) is plain
