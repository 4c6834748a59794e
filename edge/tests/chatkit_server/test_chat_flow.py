"""The streaming operations end to end through the edge, the real agent (offline model) and
the real tasks service: event order, ids, widgets, effects, titles and history."""

from __future__ import annotations

import warnings

from chatkit.types import Thread, ThreadItem
from chatkit.widgets import StrictWidgetRoot
from pydantic import TypeAdapter
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_testkit.chatkit import CARD_TURN, ChatClient
from todo_testkit.tasks import TaskCaller

ITEMS: TypeAdapter[list[ThreadItem]] = TypeAdapter(list[ThreadItem])
STRICT_WIDGET: TypeAdapter[StrictWidgetRoot] = TypeAdapter(StrictWidgetRoot)


def assert_valid_widget(widget: dict[str, object]) -> None:
    """The widget is made only of real ChatKit components with valid props."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        STRICT_WIDGET.validate_python(widget)


async def test_new_thread_streams_in_protocol_order(alice_chat: ChatClient) -> None:
    stream = await alice_chat.create("add buy milk tomorrow, high priority")

    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in stream.headers
    types = stream.types
    assert types[0] == "thread.created"
    assert types[1] == "thread.item.done"
    assert stream.events[1]["item"]["type"] == "user_message"
    assert types[2] == "stream_options"
    assert stream.events[2]["stream_options"] == {"allow_cancel": True}
    assert "progress_update" in types
    assert stream.of("progress_update")[0]["text"] == "Adding task…"
    added = types.index("thread.item.added")
    assert types.index("progress_update") < added
    assert types[-2:] == ["client_effect", "thread.updated"]
    effect = stream.of("client_effect")[0]
    assert effect["name"] == "tasks.changed"
    assert len(effect["data"]["task_ids"]) == 1
    # The title comes from the first message.
    assert (
        stream.of("thread.updated")[0]["thread"]["title"] == "Add buy milk tomorrow, high priority"
    )

    # One widget card for the new task, then the assistant's message.
    [widget] = stream.done_items("widget")
    assert_valid_widget(widget["widget"])
    assert "Buy milk" in widget["copy_text"]
    assert "high priority" in widget["copy_text"]
    text = str(widget["widget"])
    assert "task.complete" in text and "task.delete" in text
    [message] = stream.done_items("assistant_message")
    assert "milk" in message["content"][0]["text"].lower()
    # Deltas add up to the message.
    deltas = "".join(
        event["update"]["delta"]
        for event in stream.of("thread.item.updated")
        if event["update"]["type"] == "assistant_message.content_part.text_delta"
    )
    assert deltas == message["content"][0]["text"]
    # Ids are the edge's and unique.
    ids = [item["id"] for item in stream.done_items()]
    assert len(set(ids)) == len(ids)
    # Messages and cards are `msg_…`; the turn's steps one `wf_…` workflow (test_workflow).
    assert sorted(item_id.split("_", 1)[0] for item_id in ids) == ["msg", "msg", "msg", "wf"]


async def test_reload_returns_exactly_the_streamed_items(alice_chat: ChatClient) -> None:
    stream = await alice_chat.create("add water the plants")
    thread_id = stream.thread_id
    streamed = stream.stored_items()

    response = await alice_chat.post("threads.get_by_id", {"thread_id": thread_id})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    thread = Thread.model_validate(response.json())
    assert thread.title == "Add water the plants"
    assert [item["id"] for item in response.json()["items"]["data"]] == [i["id"] for i in streamed]
    assert response.json()["items"]["data"] == streamed


async def test_second_message_sees_history_and_lists_tasks(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    await alice_tasks.create("Pay rent", priority=tasks_pb.TASK_PRIORITY_HIGH, tags=["home"])
    stream = await alice_chat.create("add call mom")
    second = await alice_chat.say(stream.thread_id, "what are my tasks?")

    assert second.status == 200
    assert second.of("progress_update")[0]["text"] == "Looking up your tasks…"
    [card] = second.done_items("widget")
    assert_valid_widget(card["widget"])
    assert "Pay rent" in card["copy_text"] and "Call mom" in card["copy_text"]
    assert "#home" in card["copy_text"]
    # Reading changes nothing: no tasks.changed effect, and the title stays.
    assert second.of("client_effect") == []
    assert second.of("thread.updated") == []
    assert await alice_chat.item_types(stream.thread_id) == [*CARD_TURN, *CARD_TURN]


async def test_time_zone_header_formats_due_dates(alice_chat: ChatClient) -> None:
    response = await alice_chat.http.post(
        "/chatkit",
        json={
            "type": "threads.create",
            "params": {
                "input": {
                    "content": [{"type": "input_text", "text": "add dentist tomorrow at 9am"}],
                    "attachments": [],
                    "inference_options": {},
                }
            },
        },
        headers={"X-Time-Zone": "Asia/Karachi", "Accept-Language": "en-GB,en;q=0.8"},
    )
    assert response.status_code == 200
    assert "09:00" in response.text
