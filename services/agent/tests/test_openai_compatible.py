"""The real `openai` client + Agents SDK path, end to end, against a scripted OpenAI-compatible
Chat Completions server on loopback: streamed tool calls and text, and provider failures
mapped to user-safe, correctly retryable `run_failed` events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from todo.agent.v1 import agent_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_testkit.agent import AskOwnAgent
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


@dataclass
class FakeProvider:
    """A minimal OpenAI-compatible HTTP server: answers scripted replies in order, records
    every request (path, headers, JSON body)."""

    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

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
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "headers": headers,
                    "json": json.loads(body or b"{}"),
                }
            )
            reply = self.replies.pop(0) if self.replies else Reply(status=500)
            if reply.hang:
                # Never answer: the client's own time limit must end the call.
                await asyncio.Event().wait()
            if reply.status != 200:
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
    assert kinds[:2] == ["tool_call_started", "tool_call_finished"]
    assert kinds[2] == "message_started"
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
    run = await ask_own_agent(
        user.metadata,
        "list my tasks",
        agent=_llm_settings(provider),
    )
    assert run.run_failed is not None
    assert run.run_failed.code == code
    assert run.run_failed.retryable is retryable
    assert PROVIDER_SECRET not in run.run_failed.message
    assert "test-key" not in run.run_failed.message
    assert "Traceback" not in run.run_failed.message
    assert run.run_failed.message.endswith(".")
    assert [e.WhichOneof("event") for e in run.events] == ["run_failed"]


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
    assert run.run_failed is not None
    assert run.run_failed.code == pb.FAILURE_CODE_MODEL_UNAVAILABLE
    assert run.run_failed.retryable is True
