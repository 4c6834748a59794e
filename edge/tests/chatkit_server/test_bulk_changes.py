"""Bulk changes in the chat, over the ChatKit protocol: the model previews with
`preview_bulk_change` (a scripted model drives the real tool), the edge shows a Confirm /
Cancel card, Confirm makes exactly the previewed change to exactly the previewed tasks (a task
added since is not touched), a second Confirm changes nothing again, and Cancel changes
nothing and says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.testing import ScriptedModel, assistant_message, function_call
from google.protobuf.timestamp_pb2 import Timestamp
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_testkit.chatkit import ChatClient, OwnAgentChat, widget_actions
from todo_testkit.edge import assert_problem
from todo_testkit.tasks import TaskCaller


def _due_in(days: int, hour: int = 12) -> Timestamp:
    moment = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    stamp = Timestamp()
    stamp.FromDatetime(moment + timedelta(days=days))
    return stamp


def _preview_model(**arguments: Any) -> ScriptedModel:
    return ScriptedModel(
        [
            [function_call("preview_bulk_change", arguments, call_id="bulk_1")],
            [assistant_message("Here is what would change; confirm on the card.")],
        ]
    )


async def _preview(chat: ChatClient, text: str) -> tuple[str, dict[str, Any]]:
    stream = await chat.create(text)
    assert stream.status == 200, stream.text
    [card] = stream.done_items("widget")
    assert not stream.of("client_effect")  # a preview changes nothing
    return stream.thread_id, card


def _title(widget_item: dict[str, Any]) -> str:
    return str(widget_item["widget"]["children"][0]["value"])


def _button(widget_item: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(a for a in widget_actions(widget_item) if a["type"] == kind)


async def _press(
    chat: ChatClient, thread_id: str, card: dict[str, Any], action: dict[str, Any]
) -> dict[str, Any]:
    response = await chat.post(
        "threads.sync_custom_action",
        {"thread_id": thread_id, "item_id": card["id"], "action": action},
    )
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["updated_item"]
    return item


async def test_reschedule_is_previewed_then_confirmed_once(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    today = [await alice_tasks.create(f"errand {n}", due_time=_due_in(0)) for n in range(4)]
    later = await alice_tasks.create("later", due_time=_due_in(5))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    model = _preview_model(action="reschedule", due="today", new_due=tomorrow)

    async with own_agent_chat(custom_model=model) as (_, chat):
        thread_id, card = await _preview(chat, "move everything due today to tomorrow")
        assert _title(card) == "Reschedule 4 tasks to tomorrow?"
        assert [a["type"] for a in widget_actions(card)] == ["bulk.confirm", "bulk.cancel"]
        assert all(t.title in card["copy_text"] for t in today)
        assert "later" not in card["copy_text"]
        # Nothing changed yet; a task added after the preview is not part of it.
        assert [await alice_tasks.get(t.id) for t in today] == today
        newcomer = await alice_tasks.create("newcomer", due_time=_due_in(0))

        confirm = _button(card, "bulk.confirm")
        done = await _press(chat, thread_id, card, confirm)
        assert _title(done) == "Rescheduled 4 tasks to tomorrow"
        assert [a["type"] for a in widget_actions(done)] == ["task.complete", "task.delete"] * 4
        moved = [await alice_tasks.get(t.id) for t in today]
        assert {m.due_time.ToDatetime(tzinfo=UTC).date().isoformat() for m in moved} == {tomorrow}
        assert await alice_tasks.get(newcomer.id) == newcomer
        assert await alice_tasks.get(later.id) == later

        # A second Confirm (a stale tab still showing the preview) answers the card as it is
        # and changes nothing again; so does a streamed one.
        again = await _press(chat, thread_id, card, confirm)
        assert again == done
        streamed = await chat.stream(
            "threads.custom_action",
            {"thread_id": thread_id, "item_id": card["id"], "action": confirm},
        )
        assert streamed.types == ["stream_options", "thread.item.replaced"]
        assert [await alice_tasks.get(t.id) for t in today] == moved
        # A reload shows the settled card.
        items = (await chat.items(thread_id))["data"]
        assert [i for i in items if i["type"] == "widget"] == [done]


async def test_concurrent_confirms_change_the_tasks_once(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    weekly = await alice_tasks.create(
        "sync", due_time=_due_in(1), recurrence="FREQ=WEEKLY", tags=["work"]
    )
    plain = await alice_tasks.create("report", tags=["work"])
    model = _preview_model(action="complete", tag="work")

    async with own_agent_chat(custom_model=model) as (_, chat):
        thread_id, card = await _preview(chat, "mark all my #work tasks done")
        assert _title(card) == "Complete 2 tasks?"
        confirm = _button(card, "bulk.confirm")
        first, second = await asyncio.gather(
            _press(chat, thread_id, card, confirm), _press(chat, thread_id, card, confirm)
        )

    assert _title(first) == _title(second) == "Completed 2 tasks"
    assert "next occurrence added" in first["copy_text"]
    assert (await alice_tasks.get(weekly.id)).state == tasks_pb.TASK_STATE_COMPLETED
    assert (await alice_tasks.get(plain.id)).state == tasks_pb.TASK_STATE_COMPLETED
    # Exactly one next occurrence, whichever confirm got there first.
    [following] = await alice_tasks.list_all(state=tasks_pb.TASK_STATE_OPEN)
    assert following.previous_occurrence_id == weekly.id


async def test_cancel_changes_nothing_and_says_so(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    doomed = [await alice_tasks.create(f"old {n}") for n in range(2)]
    model = _preview_model(action="delete", query="old")

    async with own_agent_chat(custom_model=model) as (_, chat):
        thread_id, card = await _preview(chat, "delete the old ones")
        assert _title(card) == "Delete 2 tasks?"
        cancelled = await _press(chat, thread_id, card, _button(card, "bulk.cancel"))
        assert "Cancelled: nothing was changed." in cancelled["copy_text"]
        assert widget_actions(cancelled) == []
        # Confirm after Cancel: the card stays cancelled, nothing is deleted.
        after = await _press(chat, thread_id, card, _button(card, "bulk.confirm"))
        assert after == cancelled

    assert [await alice_tasks.get(t.id) for t in doomed] == doomed


async def test_confirm_uses_the_stored_preview_not_the_clients_payload(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller, new_task_caller: Any
) -> None:
    bob = await new_task_caller()
    bobs = await bob.create("bob's", tags=["x"])
    mine = await alice_tasks.create("mine")
    model = _preview_model(action="tag", add_tags=["urgent"])

    async with own_agent_chat(custom_model=model) as (_, chat):
        thread_id, card = await _preview(chat, "tag everything urgent")
        forged = {
            "type": "bulk.confirm",
            "payload": {"action": "delete", "task_ids": [bobs.id], "due_time": None},
        }
        done = await _press(chat, thread_id, card, forged)

    assert _title(done) == "Re-tagged 1 task: add #urgent"
    assert list((await alice_tasks.get(mine.id)).tags) == ["urgent"]
    assert await bob.get(bobs.id) == bobs


async def test_a_task_gone_since_the_preview_fails_the_whole_change(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    kept, gone = await alice_tasks.create("kept"), await alice_tasks.create("gone")
    model = _preview_model(action="complete")

    async with own_agent_chat(custom_model=model) as (_, chat):
        thread_id, card = await _preview(chat, "mark everything done")
        await alice_tasks.delete(gone.id)
        params = {
            "thread_id": thread_id,
            "item_id": card["id"],
            "action": _button(card, "bulk.confirm"),
        }
        body = assert_problem(await chat.post("threads.sync_custom_action", params), 404)
        assert "Nothing was changed" in body["detail"]
        streamed = await chat.stream("threads.custom_action", params)
        [error] = streamed.of("error")
        assert error["allow_retry"] is False
        # The card still offers the (now impossible) change; nothing happened.
        items = (await chat.items(thread_id))["data"]
        assert [i for i in items if i["type"] == "widget"] == [card]

    assert (await alice_tasks.get(kept.id)).state == tasks_pb.TASK_STATE_OPEN


async def test_bulk_buttons_need_a_preview_card(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller
) -> None:
    await alice_tasks.create("a")
    model = ScriptedModel(
        [
            [function_call("list_tasks", {}, call_id="l1")],
            [assistant_message("Here.")],
        ]
    )
    async with own_agent_chat(custom_model=model) as (_, chat):
        stream = await chat.create("show my tasks")
        [card] = stream.done_items("widget")
        confirm = {"type": "bulk.confirm", "payload": {}}
        params = {"thread_id": stream.thread_id, "item_id": card["id"], "action": confirm}
        assert_problem(await chat.post("threads.sync_custom_action", params), 404)
        del params["item_id"]
        assert_problem(await chat.post("threads.sync_custom_action", params), 400)
    assert (await alice_tasks.list_all())[0].state == tasks_pb.TASK_STATE_OPEN
