"""The model picker end to end: the agent's ListModels through `GET /api/chat/models` (the
page's `composer.models`), and `inference_options.model` choosing the model of one turn —
a model the agent does not list is a clean ChatKit error with nothing run and no reply stored.
"""

from __future__ import annotations

from typing import Any

from agents.testing import ScriptedModel
from todo_testkit.agent import scripted_reply
from todo_testkit.chatkit import ChatClient, OwnAgentChat
from todo_testkit.edge import EdgeHandle
from todo_testkit.tasks import TaskCaller


def picked(text: str, model: str) -> dict[str, Any]:
    """A message answered by `model`."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {"model": model},
    }


async def test_the_page_lists_the_agents_models(
    chat_edge: EdgeHandle, alice_chat: ChatClient
) -> None:
    response = await alice_chat.http.get("/api/chat/models")

    assert response.status_code == 200, response.text
    [offline] = response.json()["models"]
    assert offline["id"] == "offline"
    assert offline["default"] is True
    assert offline["label"] and offline["description"]


async def test_the_model_list_needs_a_signed_in_user(chat_edge: EdgeHandle) -> None:
    async with chat_edge.client(None) as anonymous:
        response = await anonymous.get("/api/chat/models")
    assert response.status_code == 401


async def test_an_unknown_model_is_refused_before_anything_runs(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    stream = await alice_chat.stream(
        "threads.create", {"input": picked("add buy milk", "gpt-does-not-exist")}
    )

    assert stream.status == 200
    [error] = stream.of("error")
    assert "gpt-does-not-exist" in error["message"]
    assert error["allow_retry"] is False
    assert "progress_update" not in stream.types
    assert stream.done_items("assistant_message") == []
    assert stream.done_items("widget") == []
    assert await alice_tasks.list_all() == []
    # Only the user's message is stored; no reply.
    assert await alice_chat.item_types(stream.thread_id) == ["user_message"]


async def test_the_picked_model_answers_that_turn(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    # Twice: the first turn also asks the picked (default) model for the thread's title.
    scripted = ScriptedModel([scripted_reply("Hello from the scripted model.")] * 2)
    async with own_agent_chat(custom_model=scripted, model="scripted-model") as (_, chat):
        listed = (await chat.http.get("/api/chat/models")).json()["models"]
        assert [(m["id"], m["default"]) for m in listed] == [
            ("scripted-model", True),
            ("offline", False),
        ]

        by_default = await chat.create("hello")
        assert "Hello from the scripted model." in by_default.reply

        offline = await chat.stream(
            "threads.add_user_message",
            {"thread_id": by_default.thread_id, "input": picked("add buy milk", "offline")},
        )
        assert "error" not in offline.types, offline.events
        assert [task.title for task in await alice_tasks.list_all()] == ["Buy milk"]

        named = await chat.stream(
            "threads.add_user_message",
            {"thread_id": by_default.thread_id, "input": picked("hi again", "scripted-model")},
        )
        assert "error" in named.types  # the script had one step: the scripted model ran
