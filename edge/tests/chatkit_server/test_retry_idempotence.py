"""A retried message does not repeat what its first run already did: `add_task` succeeded, the
next model call failed, and `threads.retry_after_item` runs the message again; the task it
creates again is the one created the first time, not a second copy (issue 14, item 2)."""

from __future__ import annotations

import httpx
import openai
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from todo_testkit.chatkit import ChatClient, OwnAgentChat, Stream
from todo_testkit.tasks import TaskCaller

ADD_MILK = {"title": "Buy milk", "due": None, "priority": "high", "tags": None, "notes": None}


def _overloaded() -> openai.APIStatusError:
    request = httpx.Request("POST", "http://model.invalid/v1/chat/completions")
    return openai.InternalServerError(
        "overloaded", response=httpx.Response(503, request=request), body=None
    )


def _added_then_failed(call_id: str) -> list[ModelStep]:
    """A first run that adds the milk, then fails at the model before it can answer."""
    return [
        ModelStep(output=[function_call("add_task", ADD_MILK, call_id=call_id)]),
        ModelStep.raise_error(_overloaded()),
    ]


async def _retry(chat: ChatClient, first: Stream) -> Stream:
    """`threads.retry_after_item` on the user's message of the thread `first` created."""
    [user] = first.done_items("user_message")
    return await chat.stream(
        "threads.retry_after_item", {"thread_id": first.thread_id, "item_id": user["id"]}
    )


async def test_retry_after_add_task_succeeded_does_not_add_it_twice(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    model = ScriptedModel(
        [
            *_added_then_failed("call_first"),
            # The retry: the model adds the same task again (a new call id), then answers.
            ModelStep(output=[function_call("add_task", ADD_MILK, call_id="call_retry")]),
            ModelStep(output=[assistant_message("Added Buy milk.")]),
            # A new message asking for the same thing is a new task.
            ModelStep(output=[function_call("add_task", ADD_MILK, call_id="call_again")]),
            ModelStep(output=[assistant_message("Added another Buy milk.")]),
        ]
    )
    async with own_agent_chat(custom_model=model) as (_, chat):
        first = await chat.create("add buy milk, it's urgent")
        [error] = first.of("error")
        assert error["allow_retry"] is True
        [created] = await alice_tasks.list_all()
        assert created.title == "Buy milk"

        retried = await _retry(chat, first)
        assert retried.of("error") == []
        assert "Added Buy milk." in retried.reply
        # The retry's add_task answered with the task the first run created.
        assert [t.id for t in await alice_tasks.list_all()] == [created.id]

        again = await chat.say(first.thread_id, "add buy milk, it's urgent")
        assert again.of("error") == []
    tasks = await alice_tasks.list_all()
    assert len(tasks) == 2 and created.id in {t.id for t in tasks}
    model.assert_complete()


async def test_a_retry_that_asks_for_a_different_task_gets_it(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    model = ScriptedModel(
        [
            *_added_then_failed("c1"),
            # The retry's model worded the task otherwise: that is a task of its own.
            ModelStep(
                output=[
                    function_call("add_task", {**ADD_MILK, "title": "Buy oat milk"}, call_id="c2")
                ]
            ),
            ModelStep(output=[assistant_message("Added Buy oat milk.")]),
        ]
    )
    async with own_agent_chat(custom_model=model) as (_, chat):
        first = await chat.create("add buy milk")
        retried = await _retry(chat, first)
        assert retried.of("error") == []
    assert sorted(t.title for t in await alice_tasks.list_all()) == ["Buy milk", "Buy oat milk"]
