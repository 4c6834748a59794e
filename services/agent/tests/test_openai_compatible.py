"""The real `openai` client + Agents SDK path, end to end, against a scripted OpenAI-compatible
Chat Completions server on loopback: streamed tool calls and text, and provider failures
mapped to user-safe, correctly retryable `run_failed` events."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from todo.agent.v1 import agent_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_agent.failures import EMPTY_REPLY_MESSAGE
from todo_agent.history_budget import CUT_NOTE
from todo_agent.titles import clean_title
from todo_agent.tools import argument_problem
from todo_testkit.agent import AgentServiceHandle, AskOwnAgent, respond, running_agent_service
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.tasks import TaskCaller, TasksServiceHandle

PROVIDER_SECRET = "provider-internal-detail-sk-live-123"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def tool_call_stream(name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """Chunks of one streamed tool call, its arguments split in two."""
    text = json.dumps(arguments)
    half = len(text) // 2
    return [
        _chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ],
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": text[:half]}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": text[half:]}}]}),
        _chunk({}, "tool_calls"),
        {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "test-model",
            "choices": [],
            "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140},
        },
    ]


def text_stream(*pieces: str) -> list[dict[str, Any]]:
    """Chunks of a streamed text answer."""
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": piece}) for piece in pieces]
    chunks.append(_chunk({}, "stop"))
    chunks.append(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "test-model",
            "choices": [],
            "usage": {"prompt_tokens": 200, "completion_tokens": 8, "total_tokens": 208},
        }
    )
    return chunks


@dataclass
class Reply:
    """What the fake server answers to one request."""

    status: int = 200
    chunks: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    hang: bool = False
    # A whole (not streamed) completion, for requests without `stream`.
    completion: dict[str, Any] | None = None
    # Answers only a streamed ("stream") or only a whole ("whole") request; None: the next
    # request either way (replies are otherwise taken in order).
    only: str | None = None


@dataclass
class FakeProvider:
    """A minimal OpenAI-compatible HTTP server: answers scripted replies in order, records
    every request (path, headers, JSON body)."""

    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def _take(self, kind: str) -> Reply:
        """The first scripted reply for a request of this kind ("stream" or "whole")."""
        for index, reply in enumerate(self.replies):
            if reply.only in (None, kind):
                return self.replies.pop(index)
        return Reply(status=500)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            sent = json.loads(body or b"{}")
            self.requests.append({"method": method, "path": path, "headers": headers, "json": sent})
            reply = self._take("stream" if sent.get("stream") else "whole")
            if reply.hang:
                # Never answer: the client's own time limit must end the call.
                await asyncio.Event().wait()
            if reply.completion is not None:
                payload = json.dumps(reply.completion).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                    + payload
                )
            elif reply.status != 200:
                payload = json.dumps(
                    reply.error or {"error": {"message": PROVIDER_SECRET}}
                ).encode()
                writer.write(
                    f"HTTP/1.1 {reply.status} Error\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                    + payload
                )
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
                )
                for chunk in reply.chunks:
                    writer.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    await writer.drain()
                writer.write(b"data: [DONE]\n\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    fake = FakeProvider(replies=[])
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    async with server:
        yield fake
        server.close()


def _llm_settings(provider: FakeProvider, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "model": "test-model",
        "openai_base_url": f"http://127.0.0.1:{provider.port}/v1",
        "openai_api_key": "test-key",
        "model_max_retries": 0,
    }
    values.update(overrides)
    return values


async def test_streamed_tool_call_and_answer_through_the_real_client(
    ask_own_agent: AskOwnAgent,
    provider: FakeProvider,
    tasks_service: TasksServiceHandle,
    sign_up: Any,
) -> None:
    user = await sign_up()
    provider.replies = [
        Reply(
            chunks=tool_call_stream(
                "add_task",
                {"title": "Buy milk", "due": None, "priority": "high", "tags": None, "notes": None},
            )
        ),
        Reply(chunks=text_stream("Added ", "**Buy milk** ", "with high priority.")),
    ]
    run = await ask_own_agent(
        user.metadata,
        "add buy milk, it's urgent",
        history=[("user", "hi"), ("assistant", "Hello! What needs doing?")],
        agent=_llm_settings(provider),
    )

    kinds = [e.WhichOneof("event") for e in run.events]
    # The run names the configured model (not the offline one) first.
    assert run.events[0].run_started.model == "test-model"
    assert run.events[0].run_started.offline is False
    assert kinds[1:3] == ["tool_call_started", "tool_call_finished"]
    assert kinds[3] == "message_started"
    assert kinds[-2:] == ["message_done", "run_finished"]
    assert run.calls == [
        (
            "add_task",
            {"title": "Buy milk", "due": None, "priority": "high", "tags": None, "notes": None},
        )
    ]
    [finished] = run.finished
    assert finished.ok and finished.name == "add_task"
    assert [(t.title, t.priority) for t in finished.tasks] == [
        ("Buy milk", tasks_pb.TASK_PRIORITY_HIGH)
    ]
    assert run.messages == ["Added **Buy milk** with high priority."]
    assert run.run_finished is not None
    assert run.run_finished.turns == 2
    assert run.run_finished.usage == pb.Usage(requests=2, input_tokens=320, output_tokens=28)

    [task] = await TaskCaller(user=user, stub=tasks_service.stub).list_all()
    assert task.title == "Buy milk"

    first, second = provider.requests
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["authorization"] == "Bearer test-key"
    assert first["json"]["model"] == "test-model"
    assert first["json"]["stream"] is True
    tool_names = {tool["function"]["name"] for tool in first["json"]["tools"]}
    assert {"add_task", "list_tasks", "complete_task", "transfer_to_urdu_assistant"} <= tool_names
    system, *conversation = first["json"]["messages"]
    assert system["role"] == "system" and "Current local time" in system["content"]
    assert [(m["role"], m["content"]) for m in conversation] == [
        ("user", "hi"),
        ("assistant", "Hello! What needs doing?"),
        ("user", "add buy milk, it's urgent"),
    ]
    # Token counts are asked for (a Chat Completions server sends them only when asked).
    assert first["json"]["stream_options"] == {"include_usage": True}
    # The replayed tool-calling turn has text "", not null: llama.cpp's server answers null
    # with HTTP 500 (issue 14), so every tool turn failed there.
    [replayed] = [m for m in second["json"]["messages"] if m.get("tool_calls")]
    assert replayed["role"] == "assistant" and replayed["content"] == ""
    assert replayed["tool_calls"][0]["function"]["name"] == "add_task"
    # The tool's result went back to the model, with no user id anywhere in it.
    tool_message = next(m for m in second["json"]["messages"] if m["role"] == "tool")
    assert tool_message["tool_call_id"] == "call_abc"
    assert json.loads(tool_message["content"])["tasks"][0]["title"] == "Buy milk"
    assert user.user_id not in json.dumps(second["json"])


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (429, pb.FAILURE_CODE_RATE_LIMITED, True),
        # A 500 is the server failing on this request (llama.cpp on a message it cannot
        # template): the same conversation fails the same way, so it is not "try again".
        (500, pb.FAILURE_CODE_MODEL_UNAVAILABLE, False),
        (502, pb.FAILURE_CODE_MODEL_UNAVAILABLE, True),
        (503, pb.FAILURE_CODE_MODEL_UNAVAILABLE, True),
        (404, pb.FAILURE_CODE_MODEL_UNAVAILABLE, False),
        (401, pb.FAILURE_CODE_MODEL_UNAVAILABLE, False),
        (400, pb.FAILURE_CODE_MODEL_UNAVAILABLE, False),
    ],
)
async def test_provider_errors_become_safe_run_failed_events(
    ask_own_agent: AskOwnAgent,
    provider: FakeProvider,
    sign_up: Any,
    status: int,
    code: int,
    retryable: bool,
) -> None:
    user = await sign_up()
    provider.replies = [Reply(status=status)]
    run = await ask_own_agent(user.metadata, "list my tasks", agent=_llm_settings(provider))
    assert run.run_failed is not None
    assert run.run_failed.code == code
    assert run.run_failed.retryable is retryable
    assert PROVIDER_SECRET not in run.run_failed.message
    assert "test-key" not in run.run_failed.message
    assert "Traceback" not in run.run_failed.message
    assert run.run_failed.message.endswith(".")
    assert [e.WhichOneof("event") for e in run.events] == ["run_started", "run_failed"]


async def test_provider_read_timeout_is_retryable_and_not_called_unreachable(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    user = await sign_up()
    provider.replies = [Reply(hang=True)]
    run = await ask_own_agent(
        user.metadata,
        "list my tasks",
        agent=_llm_settings(provider, model_request_timeout_seconds=0.5),
    )
    assert run.run_failed == pb.RunFailed(
        code=pb.FAILURE_CODE_MODEL_UNAVAILABLE,
        message="The assistant's model took too long to answer. Please try again in a moment.",
        retryable=True,
    )


async def test_provider_down_is_retryable(
    ask_own_agent: AskOwnAgent, sign_up: Any, unused_tcp_port: int
) -> None:
    user = await sign_up()
    run = await ask_own_agent(
        user.metadata,
        "list my tasks",
        agent={
            "model": "test-model",
            "openai_base_url": f"http://127.0.0.1:{unused_tcp_port}/v1",
            "model_max_retries": 0,
        },
    )
    assert run.run_failed == pb.RunFailed(
        code=pb.FAILURE_CODE_MODEL_UNAVAILABLE,
        message="The assistant's model could not be reached. Please try again in a moment.",
        retryable=True,
    )


def _without_usage(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stream as a server that never counts tokens sends it."""
    return [chunk for chunk in chunks if "usage" not in chunk]


async def test_an_empty_model_turn_is_a_clear_failure(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    """A server out of context answers 200 with an empty stream: that is no answer."""
    user = await sign_up()
    provider.replies = [Reply(chunks=[])]
    run = await ask_own_agent(user.metadata, "list my tasks", agent=_llm_settings(provider))
    assert run.run_failed == pb.RunFailed(
        code=pb.FAILURE_CODE_MODEL_UNAVAILABLE, message=EMPTY_REPLY_MESSAGE, retryable=False
    )
    assert run.messages == [] and run.run_finished is None


async def test_a_reply_of_only_white_space_is_an_empty_turn(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    user = await sign_up()
    provider.replies = [Reply(chunks=text_stream(" ", "\n"))]
    run = await ask_own_agent(user.metadata, "hello", agent=_llm_settings(provider))
    assert run.run_failed is not None
    assert run.run_failed.message == EMPTY_REPLY_MESSAGE


async def test_usage_is_estimated_and_says_so_when_the_server_counts_nothing(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    user = await sign_up()
    answer = "You have no tasks yet. " * 10
    provider.replies = [Reply(chunks=_without_usage(text_stream(answer)))]
    run = await ask_own_agent(user.metadata, "what is on my list?", agent=_llm_settings(provider))
    assert run.run_finished is not None
    usage = run.run_finished.usage
    assert usage.estimated is True and usage.requests == 1
    # About 4 characters a token: the reply's 230 characters, and at least the tool schemas
    # (several thousand characters) on the way in.
    assert usage.output_tokens == math.ceil(len(answer) / 4)
    assert usage.input_tokens > 1000


async def test_counted_usage_is_not_labelled_an_estimate(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    user = await sign_up()
    provider.replies = [Reply(chunks=text_stream("Hello."))]
    run = await ask_own_agent(user.metadata, "hello", agent=_llm_settings(provider))
    assert run.run_finished is not None
    assert run.run_finished.usage == pb.Usage(requests=1, input_tokens=200, output_tokens=8)


async def test_history_is_cut_oldest_first_to_the_models_context(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    user = await sign_up()
    history = [
        ("user" if i % 2 == 0 else "assistant", f"message {i}: " + "words " * 150)
        for i in range(40)
    ]
    provider.replies = [Reply(chunks=text_stream("Sure."))]
    run = await ask_own_agent(
        user.metadata,
        "and the newest question",
        history=history,
        agent=_llm_settings(provider, model_context_tokens=6000, model_reply_tokens=500),
    )
    assert run.run_failed is None
    [request] = provider.requests
    _system, *conversation = request["json"]["messages"]
    sent = sum(len(m["content"]) for m in conversation)
    # (6000 - 500) tokens at 3 characters, less the instructions and tools: about 7,800.
    assert sent < 8000
    assert conversation[-1] == {"role": "user", "content": "and the newest question"}
    kept = conversation[:-1]
    assert 2 <= len(kept) < len(history)
    # The newest messages are the ones kept, in order, and the oldest kept one (a user
    # message) starts with the note that earlier ones were cut.
    assert kept[0]["role"] == "user"
    assert kept[0]["content"].startswith(CUT_NOTE)
    newest = [text for _role, text in history[-(len(kept) - 1) :]]
    assert [m["content"] for m in kept[1:]] == newest
    assert kept[0]["content"].endswith(history[-len(kept)][1])


async def test_history_that_fits_is_sent_whole(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    user = await sign_up()
    provider.replies = [Reply(chunks=text_stream("Sure."))]
    await ask_own_agent(
        user.metadata,
        "and now?",
        history=[("user", "hi"), ("assistant", "Hello!")],
        agent=_llm_settings(provider, model_context_tokens=6000),
    )
    _system, *conversation = provider.requests[0]["json"]["messages"]
    assert [m["content"] for m in conversation] == ["hi", "Hello!", "and now?"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"title": "Buy milk", "priority": "urgent"}', "priority"),
        ('{"title": "Buy milk", "tags": "groceries"}', "tags"),
        ('{"due": "2031-01-16"}', "title"),
    ],
)
async def test_arguments_the_sdk_refuses_come_back_as_a_correctable_message(
    ask_own_agent: AskOwnAgent,
    provider: FakeProvider,
    tasks_service: TasksServiceHandle,
    sign_up: Any,
    arguments: str,
    expected: str,
) -> None:
    user = await sign_up()
    call = tool_call_stream("add_task", {})
    call[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] = arguments
    call[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] = ""
    provider.replies = [Reply(chunks=call), Reply(chunks=text_stream("Which priority?"))]
    run = await ask_own_agent(user.metadata, "add buy milk", agent=_llm_settings(provider))
    assert run.run_finished is not None
    [finished] = run.finished
    assert finished.ok is False
    tool_message = next(m for m in provider.requests[1]["json"]["messages"] if m["role"] == "tool")
    told = json.loads(tool_message["content"])
    assert told["ok"] is False and told["error"] == "invalid_arguments"
    assert expected in told["message"]
    assert "add_task again" in told["message"]
    assert await TaskCaller(user=user, stub=tasks_service.stub).list_all() == []


def test_arguments_that_are_not_json_are_named_as_such() -> None:
    # (Through the service the stream's ToolCallStarted would carry the broken text, so this
    # case is checked on the function that words the message.)
    assert argument_problem("add_task", '{"title": "Buy milk",').startswith(
        "The arguments are not valid JSON"
    )
    assert argument_problem("add_task", "[1]") == (
        "The arguments must be a JSON object of named parameters"
    )
    assert argument_problem("add_task", '{"title": "Buy milk"}') == ""
    assert argument_problem("no_such_tool", "{") == ""


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-title",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45},
    }


SuggestTitle = Callable[..., Awaitable[pb.SuggestTitleResponse]]


@pytest.fixture
def suggest_title(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    provider: FakeProvider,
    alice: SignedUpUser,
) -> SuggestTitle:
    """`await suggest_title(text, locale=…)`: alice's SuggestTitle call to an agent of the
    test's own on the `provider`'s model."""

    async def call(text: str, **fields: Any) -> pb.SuggestTitleResponse:
        async with running_agent_service(
            auth_service, tasks_service.address, **_llm_settings(provider)
        ) as agent:
            response: pb.SuggestTitleResponse = await agent.stub.SuggestTitle(
                pb.SuggestTitleRequest(text=text, **fields), metadata=alice.metadata, timeout=20
            )
            return response

    return call


async def test_the_configured_model_writes_the_thread_title(
    provider: FakeProvider, suggest_title: SuggestTitle
) -> None:
    provider.replies = [Reply(completion=_completion('Title: "Weekly groceries."\nDone.'))]
    response = await suggest_title("add milk, eggs and bread for this week", locale="en")
    assert response.title == "Weekly groceries"
    [request] = provider.requests
    assert "stream" not in request["json"] and "tools" not in request["json"]
    system, message = request["json"]["messages"]
    assert system["role"] == "system" and "title" in system["content"]
    assert message == {"role": "user", "content": "add milk, eggs and bread for this week"}


async def test_a_first_turn_gets_its_title_in_the_same_call(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    """`suggest_title`: the model writes the title beside the answer (its own request, not
    counted in the run's usage), and it arrives in `run_finished`."""
    user = await sign_up()
    provider.replies = [
        Reply(chunks=text_stream("Hello! ", "What needs doing?"), only="stream"),
        Reply(completion=_completion("Title: Weekly groceries."), only="whole"),
    ]
    run = await ask_own_agent(
        user.metadata, "hi there", agent=_llm_settings(provider), suggest_title=True
    )
    assert run.messages == ["Hello! What needs doing?"]
    assert run.run_finished is not None
    assert run.run_finished.title == "Weekly groceries"
    assert run.run_finished.usage.requests == 1
    [titled] = [r["json"] for r in provider.requests if "stream" not in r["json"]]
    assert titled["messages"][-1] == {"role": "user", "content": "hi there"}
    assert "tools" not in titled


async def test_a_title_the_model_fails_to_write_leaves_the_answer_alone(
    ask_own_agent: AskOwnAgent, provider: FakeProvider, sign_up: Any
) -> None:
    user = await sign_up()
    provider.replies = [
        Reply(chunks=text_stream("Done."), only="stream"),
        Reply(status=500, only="whole"),
    ]
    run = await ask_own_agent(
        user.metadata, "hi", agent=_llm_settings(provider), suggest_title=True
    )
    assert run.messages == ["Done."]
    assert run.run_finished is not None and run.run_finished.title == ""
    # Without `suggest_title` no title is asked for.
    provider.requests.clear()
    provider.replies = [Reply(chunks=text_stream("Again."))]
    plain = await ask_own_agent(user.metadata, "hi", agent=_llm_settings(provider))
    assert plain.run_finished is not None and plain.run_finished.title == ""
    assert [r["json"].get("stream") for r in provider.requests] == [True]


async def test_a_failing_model_writes_no_title(
    provider: FakeProvider, suggest_title: SuggestTitle
) -> None:
    provider.replies = [Reply(status=500)]
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await suggest_title("add milk")
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert PROVIDER_SECRET not in (failed.value.details() or "")


async def test_the_offline_model_leaves_the_title_to_the_caller(
    agent_service: AgentServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    response = await agent_service.stub.SuggestTitle(
        pb.SuggestTitleRequest(text="add milk"), metadata=user.metadata, timeout=10
    )
    assert response.title == ""
    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await agent_service.stub.SuggestTitle(
            pb.SuggestTitleRequest(text="  "), metadata=user.metadata, timeout=10
        )
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Asked for beside a first turn, it is empty too, and the turn is answered.
    run = await respond(agent_service.stub, user.metadata, "add milk", suggest_title=True)
    assert run.run_finished is not None and run.run_finished.title == ""
    assert run.messages


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Groceries for the week", "Groceries for the week"),
        ('"Dentist appointment."', "Dentist appointment"),
        ("**Title:** Tax return\nI hope this helps!", "Tax return"),
        ("\n\n", ""),
        ("word " * 30, ("word " * 11).strip() + "…"),
    ],
)
def test_model_titles_are_cleaned(answer: str, title: str) -> None:
    assert clean_title(answer) == title
