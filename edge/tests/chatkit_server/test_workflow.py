"""Visible agent activity, composer tools and notices through the real edge, agent and tasks
service: each turn's tool calls and handoffs are one stored workflow item, streamed live and
kept on reload; a composer tool steers the model; the offline model and an unreachable model
say so in a notice."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from todo_edge.chatkit.notices import OFFLINE_NOTICE, UNREACHABLE_NOTICE
from todo_edge.chatkit.workflow import FAILED_ICON, STOPPED_REASON
from todo_testkit.chatkit import (
    CARD_TURN,
    ChatClient,
    HeldLookupChat,
    OwnAgentChat,
    Stream,
    user_message,
)
from todo_testkit.tasks import TaskCaller
from todo_testkit.waiting import eventually


def _workflow_updates(stream: Stream) -> list[dict[str, Any]]:
    return [
        event["update"]
        for event in stream.of("thread.item.updated")
        if event["update"]["type"].startswith("workflow.")
    ]


def _the_workflow(stream: Stream) -> dict[str, Any]:
    [workflow] = stream.done_items("workflow")
    return workflow


def _steps(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    return [(task["title"], task["status_indicator"]) for task in workflow["workflow"]["tasks"]]


def _with_tool(text: str, tool_id: str) -> dict[str, Any]:
    message = user_message(text)
    message["inference_options"] = {"tool_choice": {"id": tool_id}}
    return message


async def test_tool_calls_stream_as_one_workflow_with_a_summary(alice_chat: ChatClient) -> None:
    stream = await alice_chat.create("add buy milk and call mom")

    [added] = [e for e in stream.of("thread.item.added") if e["item"]["type"] == "workflow"]
    # The item appears with its first step running…
    assert added["item"]["workflow"]["tasks"] == [
        {
            "type": "custom",
            "title": "Adding 'Buy milk'…",
            "icon": "plus",
            "status_indicator": "loading",
        }
    ]
    workflow_id = added["item"]["id"]
    assert workflow_id.startswith("wf_")
    # …gets the second one, and each is marked done as its call ends.
    updates = _workflow_updates(stream)
    assert [(u["type"], u["task_index"], u["task"]["title"]) for u in updates] == [
        ("workflow.task.added", 1, "Adding 'Call mom'…"),
        ("workflow.task.updated", 0, "Added 'Buy milk'"),
        ("workflow.task.updated", 1, "Added 'Call mom'"),
    ]
    assert all(
        e["item_id"] == workflow_id
        for e in stream.of("thread.item.updated")
        if e["update"]["type"].startswith("workflow.")
    )
    workflow = _the_workflow(stream)
    assert workflow["id"] == workflow_id
    assert _steps(workflow) == [("Added 'Buy milk'", "complete"), ("Added 'Call mom'", "complete")]
    assert workflow["workflow"]["summary"] == {"title": "Added 2 tasks", "icon": "check-circle"}
    assert workflow["workflow"]["expanded"] is False
    # The task cards and the reply are still there, after the workflow appeared.
    types = stream.types
    workflow_at = next(
        i
        for i, e in enumerate(stream.events)
        if e["type"] == "thread.item.added" and e["item"]["type"] == "workflow"
    )
    first_card = next(
        i
        for i, e in enumerate(stream.events)
        if e["type"] == "thread.item.done" and e["item"]["type"] == "widget"
    )
    assert workflow_at < first_card
    assert len(stream.done_items("widget")) == 2
    assert "Call mom" in stream.reply
    assert "client_effect" in types


async def test_the_workflow_is_kept_on_reload_in_its_place(alice_chat: ChatClient) -> None:
    first = await alice_chat.create("add water the plants")
    thread_id = first.thread_id
    second = await alice_chat.say(thread_id, "show my tasks")
    listed = _the_workflow(second)
    assert _steps(listed) == [("Listed 1 task", "complete")]
    assert listed["workflow"]["summary"]["title"] == "Listed 1 task"
    # The model still read the history (the workflow item does not get in its way).
    assert "Water the plants" in second.reply

    # Stored as streamed; in creation order, so the workflow (done last) comes before the
    # cards and the reply of its turn, as it appeared live.
    streamed = [*first.stored_items(), *second.stored_items()]
    page = await alice_chat.items(thread_id)
    assert page["data"] == streamed
    assert [item["type"] for item in page["data"]] == [*CARD_TURN, *CARD_TURN]
    response = await alice_chat.post("threads.get_by_id", {"thread_id": thread_id})
    assert response.status_code == 200
    assert response.json()["items"]["data"] == streamed
    newest = await alice_chat.items(thread_id, order="desc", limit=3)
    assert [item["type"] for item in newest["data"]] == ["assistant_message", "widget", "workflow"]


async def test_a_failed_call_is_marked_failed_with_the_reason(alice_chat: ChatClient) -> None:
    stream = await alice_chat.create("add " + "x" * 250)
    workflow = _the_workflow(stream)
    [task] = workflow["workflow"]["tasks"]
    assert task["title"].startswith("Couldn't add 'X")
    assert task["title"].endswith("…'")
    assert task["icon"] == FAILED_ICON
    assert task["status_indicator"] == "none"
    assert "200 characters" in task["content"]
    assert workflow["workflow"]["summary"] == {"title": task["title"], "icon": FAILED_ICON}
    # No card for a failed call; the stored item is the streamed one.
    assert stream.done_items("widget") == []
    assert (await alice_chat.items(stream.thread_id))["data"][1] == workflow


@pytest.mark.parametrize(
    ("text", "steps", "summary"),
    [
        # The Urdu handoff is a step of its own.
        (
            "میرے کام دکھائیں",
            [("Handed over to the Urdu Assistant", "agent"), ("Listed 1 task", "search")],
            "Listed 1 task",
        ),
        # A delete step names the task.
        (
            "delete the milk one",
            [("Listed 1 task", "search"), ("Deleted 'Buy milk'", "write")],
            "Deleted 1 task",
        ),
    ],
    ids=["urdu-handoff", "delete"],
)
async def test_each_step_of_a_turn_is_named_and_complete(
    alice_chat: ChatClient,
    alice_tasks: TaskCaller,
    text: str,
    steps: list[tuple[str, str]],
    summary: str,
) -> None:
    await alice_tasks.create("Buy milk")
    workflow = _the_workflow(await alice_chat.create(text))
    assert _steps(workflow) == [(title, "complete") for title, _ in steps]
    assert [task["icon"] for task in workflow["workflow"]["tasks"]] == [icon for _, icon in steps]
    assert workflow["workflow"]["summary"]["title"] == summary


async def test_a_turn_without_tool_calls_has_no_workflow(alice_chat: ChatClient) -> None:
    stream = await alice_chat.create("hello")
    assert stream.done_items("workflow") == []
    assert _workflow_updates(stream) == []


async def test_the_offline_notice_comes_once_per_thread(alice_chat: ChatClient) -> None:
    first = await alice_chat.create("help")
    assert first.of("notice") == [{"type": "notice", "level": "info", "message": OFFLINE_NOTICE}]
    # Before the reply.
    assert first.types.index("notice") < first.types.index("thread.item.added")
    again = await alice_chat.say(first.thread_id, "show my tasks")
    assert again.of("notice") == []
    other = await alice_chat.create("help")
    assert len(other.of("notice")) == 1
    # The flag lives in the thread's stored metadata, not in what a client reads.
    response = await alice_chat.post("threads.get_by_id", {"thread_id": first.thread_id})
    assert response.json().get("metadata", {}) == {}


async def test_an_unreachable_model_is_a_warning_notice(own_agent_chat: OwnAgentChat) -> None:
    request = httpx.Request("POST", "http://model.invalid/v1/responses")
    model = ScriptedModel([ModelStep.raise_error(openai.APIConnectionError(request=request))])
    async with own_agent_chat(custom_model=model) as (_, chat):
        stream = await chat.create("add buy milk")
    # A real model: no offline notice, but a warning before the retryable error.
    assert stream.of("notice") == [
        {"type": "notice", "level": "warning", "message": UNREACHABLE_NOTICE}
    ]
    assert stream.types.index("notice") < stream.types.index("error")
    assert stream.of("error")[0]["allow_retry"] is True


async def test_a_stopped_turn_keeps_its_steps(
    held_lookup_chat: HeldLookupChat, alice_tasks: TaskCaller
) -> None:
    await alice_tasks.create("Buy milk")
    async with held_lookup_chat() as (_, chat, lookup, _):
        async with chat.open_create("mark the milk one done") as opened:
            await opened.read_until(lambda seen: b"workflow" in seen)
            await asyncio.wait_for(lookup.entered.wait(), 10)
        # The client went away mid-call (Stop): the workflow is stored, its step stopped.
        threads = (await chat.post("threads.list", {"limit": 1})).json()["data"]
        thread_id = threads[0]["id"]

        async def stored_workflow() -> list[dict[str, Any]]:
            items = (await chat.items(thread_id))["data"]
            found = [item for item in items if item["type"] == "workflow"]
            assert found, "no workflow stored yet"
            return found

        [workflow] = await eventually(stored_workflow, what="the stopped workflow stored")
        lookup.release()
    [task] = workflow["workflow"]["tasks"]
    assert task["title"] == "Listing your tasks…"
    assert task["icon"] == FAILED_ICON
    assert task["content"] == STOPPED_REASON
    assert workflow["workflow"]["summary"]["title"] == "Stopped"


async def test_the_brain_dump_tool_adds_every_line(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    stream = await alice_chat.stream(
        "threads.create",
        {
            "input": _with_tool(
                "buy milk tomorrow\n- call mom, high priority\npay rent", "brain_dump"
            )
        },
    )
    assert stream.of("error") == []
    workflow = _the_workflow(stream)
    assert [title for title, _ in _steps(workflow)] == [
        "Added 'Buy milk'",
        "Added 'Call mom'",
        "Added 'Pay rent'",
    ]
    assert workflow["workflow"]["summary"]["title"] == "Added 3 tasks"
    assert sorted(t.title for t in await alice_tasks.list_all()) == [
        "Buy milk",
        "Call mom",
        "Pay rent",
    ]
    # The tool choice is kept on the stored message.
    [user] = stream.done_items("user_message")
    assert user["inference_options"]["tool_choice"] == {"id": "brain_dump"}


async def test_a_composer_tool_steers_a_real_model(own_agent_chat: OwnAgentChat) -> None:
    model = ScriptedModel(
        [
            ModelStep(
                output=[
                    function_call("list_tasks", {"due": "today"}, call_id="call_today"),
                ]
            ),
            ModelStep(output=[assistant_message("Nothing is due today.")]),
        ]
    )
    async with own_agent_chat(custom_model=model) as (_, chat):
        stream = await chat.stream("threads.create", {"input": _with_tool("plan it", "plan_day")})
    assert stream.of("error") == []
    first, second = model.calls
    assert first.model_settings.tool_choice == "list_tasks"
    assert "plan_day" in (first.system_instructions or "")
    # The SDK lets the model answer freely once the chosen tool ran.
    assert second.model_settings.tool_choice is None
    assert _steps(_the_workflow(stream)) == [("Listed 0 tasks", "complete")]


async def test_an_unknown_composer_tool_is_refused_and_nothing_is_stored(
    alice_chat: ChatClient,
) -> None:
    before = (await alice_chat.post("threads.list", {"limit": 100})).json()["data"]
    response = await alice_chat.post(
        "threads.create", {"input": _with_tool("add buy milk", "launch_rockets")}
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["reason"] == "UNKNOWN_COMPOSER_TOOL"
    assert problem["errors"][0]["field"] == "params.input.inference_options.tool_choice.id"
    after = (await alice_chat.post("threads.list", {"limit": 100})).json()["data"]
    assert after == before

    thread = await alice_chat.create("help")
    response = await alice_chat.post(
        "threads.add_user_message",
        {"thread_id": thread.thread_id, "input": _with_tool("add buy milk", "nope")},
    )
    assert response.status_code == 400
    assert await alice_chat.item_types(thread.thread_id) == ["user_message", "assistant_message"]
