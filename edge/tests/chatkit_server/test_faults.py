"""Faults around a chat stream: the agent down, failing or dying mid-stream, the client
going away mid-stream, and long silences (heartbeats)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
from agents.testing import ModelStep, ScriptedModel
from openai.types.responses import ResponseTextDeltaEvent
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_edge.chatkit.transport import HEARTBEAT
from todo_testkit.auth import SignedUpUser
from todo_testkit.chatkit import (
    CARD_TURN,
    ChatClient,
    ChatStack,
    HeldLookupChat,
    OwnAgentChat,
    Stream,
    parse_sse,
)
from todo_testkit.edge import EdgeHandle
from todo_testkit.ports import free_port
from todo_testkit.tasks import TaskCaller
from todo_testkit.waiting import eventually


def _retryable_failure(stream: Stream) -> dict[str, Any]:
    """Checks a turn that failed the way a user can retry: the stream itself answered 200 and
    opened as usual, and carries exactly one error event, with a message and allow_retry.
    Returns that event."""
    assert stream.status == 200
    assert stream.types[:3] == ["thread.created", "thread.item.done", "stream_options"]
    [error] = stream.of("error")
    assert error["allow_retry"] is True
    assert error["message"]
    return error


async def _wait_ready(edge: EdgeHandle) -> None:
    async with edge.client() as http:

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready, what="the edge to see the agent come back")


async def test_agent_down_then_back(chat_stack: ChatStack, alice: SignedUpUser) -> None:
    port = free_port()
    async with (
        chat_stack.edge(f"127.0.0.1:{port}", readiness_backends=["auth", "tasks", "agent"]) as edge,
        edge.client(alice.access_token) as http,
    ):
        chat = ChatClient(http)
        down = await chat.create("add buy milk")
        error = _retryable_failure(down)
        # A warning notice that the assistant cannot be reached, then the error.
        assert down.types[3:] == ["notice", "error", "thread.updated"]
        assert "unavailable" in error["message"]
        # The user's message is kept, and the thread got its title.
        assert await chat.item_types(down.thread_id) == ["user_message"]

        async with chat_stack.agent(port=port):
            await _wait_ready(edge)
            back = await chat.say(down.thread_id, "add buy milk")
        assert back.of("error") == []
        assert "milk" in back.reply.lower()
        # The message of the failed turn, then the retried one's whole turn.
        assert await chat.item_types(down.thread_id) == ["user_message", *CARD_TURN]


async def test_model_failure_is_an_error_event_with_retry(own_agent_chat: OwnAgentChat) -> None:
    request = httpx.Request("POST", "http://model.invalid/v1/responses")
    model = ScriptedModel([ModelStep.raise_error(openai.APIConnectionError(request=request))])
    async with own_agent_chat(custom_model=model) as (_, chat):
        stream = await chat.create("add buy milk")
    [error] = stream.of("error")
    assert error == {
        "type": "error",
        "code": "custom",
        "message": "The assistant's model could not be reached. Please try again in a moment.",
        "allow_retry": True,
    }
    assert stream.types[-1] == "thread.updated"


async def test_agent_dying_mid_stream_ends_with_an_error_event(
    held_lookup_chat: HeldLookupChat, alice_tasks: TaskCaller
) -> None:
    await alice_tasks.create("Buy milk")
    async with held_lookup_chat() as (agent, chat, lookup, _):
        reply = asyncio.create_task(chat.create("mark the milk one done"))
        await asyncio.wait_for(lookup.entered.wait(), 10)
        await agent.running.stop(0)
        lookup.release()
        stream = await asyncio.wait_for(reply, 10)
        item_types = await chat.item_types(stream.thread_id)
    _retryable_failure(stream)
    # The offline model's notice, then the lookup's progress.
    assert stream.types[3:5] == ["notice", "progress_update"]
    # The lookup that never finished is a failed step of the stored workflow.
    assert item_types == ["user_message", "workflow"]
    assert (await alice_tasks.list_all())[0].state == tasks_pb.TASK_STATE_OPEN


async def test_client_disconnect_stops_the_agent_run(
    held_lookup_chat: HeldLookupChat, alice_tasks: TaskCaller
) -> None:
    milk = await alice_tasks.create("Buy milk")
    async with held_lookup_chat() as (_, chat, lookup, hook):
        async with chat.open_create("mark the milk one done") as stream:
            assert stream.response.status_code == 200
            received = await stream.read_until(lambda got: b"progress_update" in got)
            # The run is inside its first tool call; now the Stop button aborts the request.
            await asyncio.wait_for(lookup.entered.wait(), 10)
        # Leaving the block closed the connection mid-stream.
        events, _ = parse_sse(received.decode()[: received.decode().rindex("\n\n") + 2])
        thread_id = events[0]["thread"]["id"]
        # The run is cancelled while its first tool call is in flight: the held lookup is
        # abandoned (cancelled), never answered, so the run cannot go on to CompleteTask.
        await asyncio.wait_for(lookup.abandoned.wait(), 10)
        lookup.release()

        async def stored_types() -> list[str]:
            types = await chat.item_types(thread_id)
            assert types == ["user_message", "workflow"]
            return types

        await eventually(stored_types, what="the stopped turn's items stored")

    assert hook.methods == ["ListTasks"]
    assert (await alice_tasks.get(milk.id)).state == tasks_pb.TASK_STATE_OPEN
    # The user's message stays, and the stopped turn's steps (test_workflow); the SDK's cancel
    # note is stored but hidden from the client.


async def test_heartbeats_keep_a_silent_stream_open(held_lookup_chat: HeldLookupChat) -> None:
    # The lookup is held (the stream goes silent) until the client has had two heartbeats.
    heartbeats = {"chatkit_heartbeat_seconds": 0.05}
    async with held_lookup_chat(edge_overrides=heartbeats) as held:
        async with held.chat.open_create("what are my tasks?") as opened:
            await opened.read_until(lambda got: got.count(HEARTBEAT) >= 2)
            held.lookup.release()
            await opened.read_until()
        stream = opened.parsed()
    assert held.lookup.entered.is_set()
    assert stream.heartbeats >= 2
    assert ": keep-alive\n\n" in stream.text
    assert stream.of("error") == []
    assert stream.done_items("assistant_message")


def _talks_then_hangs(hanging: asyncio.Event) -> ScriptedModel:
    """A model that streams the start of an answer and then never finishes it."""

    async def events(_call: Any) -> AsyncIterator[Any]:
        yield ResponseTextDeltaEvent(
            type="response.output_text.delta",
            content_index=0,
            delta="Let me think about your milk",
            item_id="msg_model",
            logprobs=[],
            output_index=0,
            sequence_number=1,
        )
        hanging.set()
        await asyncio.Event().wait()

    return ScriptedModel([ModelStep.stream(events)])


async def test_stop_keeps_the_partial_answer(own_agent_chat: OwnAgentChat) -> None:
    hanging = asyncio.Event()
    async with own_agent_chat(custom_model=_talks_then_hangs(hanging)) as (_, chat):
        async with chat.open_create("add buy milk") as stream:
            received = await stream.read_until(lambda got: b"text_delta" in got)
            await asyncio.wait_for(hanging.wait(), 10)
        thread_id = json.loads(received.split(b"\n\n")[0][len(b"data: ") :])["thread"]["id"]

        async def partial_answer_saved() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await chat.items(thread_id))["data"]
            assert [item["type"] for item in items] == ["user_message", "assistant_message"]
            return items

        items = await eventually(partial_answer_saved)
    assert items[1]["content"][0]["text"] == "Let me think about your milk"
