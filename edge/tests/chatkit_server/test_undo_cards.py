"""Undo in the chat: a card drawn after a change (by the chat or by one of its buttons) has an
Undo button that reverts exactly that change, once; "undo that" runs `undo_last_change`,
which restores the deleted task and shows it on a card."""

from __future__ import annotations

from typing import Any

from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_testkit.chatkit import ChatClient, OwnAgentChat, widget_actions
from todo_testkit.edge import assert_problem
from todo_testkit.tasks import TaskCaller


def _widget_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return next(item for item in items if item["type"] == "widget")


def _action_of(widget: dict[str, Any], action_type: str) -> dict[str, Any]:
    [action] = [a for a in widget_actions(widget) if a["type"] == action_type]
    return action


async def _press(
    chat: ChatClient, thread_id: str, widget: dict[str, Any], action: dict[str, Any]
) -> Any:
    return await chat.post(
        "threads.sync_custom_action",
        {"thread_id": thread_id, "item_id": widget["id"], "action": action},
    )


async def test_undo_on_a_card_restores_the_task_its_delete_button_deleted(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    stream = await alice_chat.create("add buy milk")
    thread_id, card = stream.thread_id, _widget_of(stream.done_items())
    task_id = _action_of(card, "task.delete")["payload"]["task_id"]

    deleted = await _press(alice_chat, thread_id, card, _action_of(card, "task.delete"))
    assert deleted.status_code == 200, deleted.text
    card = deleted.json()["updated_item"]
    undo = _action_of(card, "task.undo")
    assert undo["payload"]["task_id"] == task_id and undo["payload"]["undo_token"]
    assert await alice_tasks.list_all() == []

    undone = await _press(alice_chat, thread_id, card, undo)

    assert undone.status_code == 200, undone.text
    card = undone.json()["updated_item"]
    assert [a["type"] for a in widget_actions(card)] == ["task.complete", "task.delete"]
    assert "Change undone" in card["copy_text"] and "buy milk" in card["copy_text"].lower()
    [restored] = await alice_tasks.list_all()
    assert restored.id == task_id and restored.state == tasks_pb.TASK_STATE_OPEN
    # What a reload shows is the redrawn card.
    assert _widget_of((await alice_chat.items(thread_id))["data"]) == card
    # The same button again: the change was already undone, and nothing changes.
    again = await _press(alice_chat, thread_id, card, undo)
    body = assert_problem(again, 409, "ALREADY_UNDONE")
    assert "already been undone" in body["detail"]
    assert [t.id for t in await alice_tasks.list_all()] == [task_id]


async def test_undo_on_the_chats_own_card_reverts_what_the_chat_did(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    stream = await alice_chat.create("add water the plants")
    thread_id, card = stream.thread_id, _widget_of(stream.done_items())

    undone = await _press(alice_chat, thread_id, card, _action_of(card, "task.undo"))

    assert undone.status_code == 200, undone.text
    card = undone.json()["updated_item"]
    assert widget_actions(card) == []
    assert "Deleted" in card["copy_text"]
    assert await alice_tasks.list_all() == []


async def test_a_forged_undo_token_changes_nothing(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    stream = await alice_chat.create("add call mum")
    thread_id, card = stream.thread_id, _widget_of(stream.done_items())
    undo = _action_of(card, "task.undo")
    forged = {**undo, "payload": {**undo["payload"], "undo_token": "made-up"}}

    body = assert_problem(await _press(alice_chat, thread_id, card, forged), 404)
    assert "can no longer be undone" in body["detail"]
    extra = {**undo, "payload": {**undo["payload"], "more": "x"}}
    assert_problem(await _press(alice_chat, thread_id, card, extra), 400)
    assert [t.title for t in await alice_tasks.list_all()] == ["Call mum"]


async def test_undo_that_in_the_chat_restores_the_deleted_task(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    task = await alice_tasks.create("Pay rent")
    model = ScriptedModel(
        [
            ModelStep(output=[function_call("delete_task", {"task_id": task.id}, call_id="c1")]),
            ModelStep(output=[assistant_message("Deleted Pay rent.")]),
            ModelStep(output=[function_call("undo_last_change", {}, call_id="c2")]),
            ModelStep(output=[assistant_message("Pay rent is back.")]),
        ]
    )
    async with own_agent_chat(custom_model=model) as (_, chat):
        first = await chat.create("delete pay rent")
        deleted_card = _widget_of(first.done_items())
        assert "Pay rent" in str(deleted_card["widget"])
        assert _action_of(deleted_card, "task.undo")["payload"]["task_id"] == task.id
        assert await alice_tasks.list_all() == []

        second = await chat.say(first.thread_id, "undo that")

        assert second.of("error") == []
        card = _widget_of(second.done_items())
        assert card["copy_text"].startswith("Change undone: [open] Pay rent")
        [effect] = second.of("client_effect")
        assert effect["data"]["task_ids"] == [task.id]
    assert [t.id for t in await alice_tasks.list_all()] == [task.id]
    model.assert_complete()
