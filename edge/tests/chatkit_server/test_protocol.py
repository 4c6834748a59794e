"""Every one of the 16 ChatKit operations as a raw protocol body over HTTP: what it answers,
what it stores, and that another user's ids are 404 with nothing leaked."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from chatkit.types import Page, Thread
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_common.db import Database
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_testkit.auth import SignedUpUser
from todo_testkit.chatkit import ChatClient, user_message, widget_actions
from todo_testkit.databases import IsolatedDatabase as EdgeDatabase
from todo_testkit.edge import assert_problem
from todo_testkit.tasks import TaskCaller


@pytest.fixture
async def store(edge_database: EdgeDatabase) -> AsyncIterator[TodoChatKitStore]:
    """The edge's store, read directly (to check what was persisted)."""
    database = Database.from_url(edge_database.url, edge_database.schema, pool_size=1)
    yield TodoChatKitStore(database)
    await database.dispose()


def _widget_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return next(item for item in items if item["type"] == "widget")


async def _new_card(chat: ChatClient) -> tuple[str, dict[str, Any]]:
    """The user adds "buy milk": the new thread's id and the task card the turn drew."""
    stream = await chat.create("add buy milk")
    return stream.thread_id, _widget_of(stream.done_items())


def _action_of(widget: dict[str, Any], action_type: str) -> dict[str, Any]:
    """The card's one button action of `action_type`."""
    [action] = [a for a in widget_actions(widget) if a["type"] == action_type]
    return action


def _action_params(thread_id: str, widget: dict[str, Any], action: Any) -> dict[str, Any]:
    """The params of threads.(sync_)custom_action: `action` sent from `widget`."""
    return {"thread_id": thread_id, "item_id": widget["id"], "action": action}


# ---- threads ----


async def test_threads_list_pages_newest_first(alice_chat: ChatClient) -> None:
    created = [(await alice_chat.create(f"add chore {n}")).thread_id for n in range(3)]

    first = await alice_chat.post("threads.list", {"limit": 2})
    assert first.status_code == 200
    page = Page[Thread].model_validate(first.json())
    assert [t.id for t in page.data] == created[::-1][:2]
    assert page.has_more is True
    second = Page[Thread].model_validate(
        (await alice_chat.post("threads.list", {"limit": 2, "after": page.after})).json()
    )
    assert [t.id for t in second.data] == created[:1]
    assert second.has_more is False
    assert all(t.title and t.title.startswith("Add chore") for t in page.data + second.data)


async def test_rename_and_delete_thread(alice_chat: ChatClient) -> None:
    thread_id = (await alice_chat.create("add buy stamps")).thread_id

    renamed = await alice_chat.post("threads.update", {"thread_id": thread_id, "title": "Post"})
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Post"
    again = await alice_chat.post("threads.get_by_id", {"thread_id": thread_id})
    assert again.json()["title"] == "Post"

    deleted = await alice_chat.post("threads.delete", {"thread_id": thread_id})
    assert (deleted.status_code, deleted.json()) == (200, {})
    gone = await alice_chat.post("threads.get_by_id", {"thread_id": thread_id})
    assert_problem(gone, 404)
    assert_problem(await alice_chat.post("items.list", {"thread_id": thread_id}), 404)


async def test_items_list_pages_with_after(alice_chat: ChatClient) -> None:
    thread_id = (await alice_chat.create("add buy bread")).thread_id
    await alice_chat.say(thread_id, "add buy jam")
    everything = (await alice_chat.items(thread_id))["data"]

    first = await alice_chat.items(thread_id, limit=2)
    rest = await alice_chat.items(thread_id, limit=100, after=first["after"])
    assert first["has_more"] is True
    assert [i["id"] for i in first["data"] + rest["data"]] == [i["id"] for i in everything]
    newest = await alice_chat.items(thread_id, order="desc", limit=1)
    assert newest["data"][0]["id"] == everything[-1]["id"]


async def test_retry_after_item_replaces_the_answer(alice_chat: ChatClient) -> None:
    stream = await alice_chat.create("what are my tasks?")
    thread_id = stream.thread_id
    [user] = stream.done_items("user_message")
    old_answer = stream.done_items("assistant_message")[0]["id"]

    retried = await alice_chat.stream(
        "threads.retry_after_item", {"thread_id": thread_id, "item_id": user["id"]}
    )
    assert retried.status == 200
    assert retried.types[0] == "stream_options"
    [answer] = retried.done_items("assistant_message")
    assert answer["id"] != old_answer
    items = (await alice_chat.items(thread_id))["data"]
    assert [i["id"] for i in items] == [user["id"]] + [i["id"] for i in retried.stored_items()]


async def test_feedback_is_persisted(
    alice_chat: ChatClient, alice: SignedUpUser, store: TodoChatKitStore
) -> None:
    stream = await alice_chat.create("add buy eggs")
    [answer] = stream.done_items("assistant_message")

    response = await alice_chat.post(
        "items.feedback",
        {"thread_id": stream.thread_id, "item_ids": [answer["id"]], "kind": "negative"},
    )
    assert (response.status_code, response.json()) == (200, {})
    context = ChatContext(user_id=alice.user_id, token="")
    assert await store.load_feedback(stream.thread_id, context) == {answer["id"]: "negative"}

    bad_kind = await alice_chat.post(
        "items.feedback",
        {"thread_id": stream.thread_id, "item_ids": [answer["id"]], "kind": "meh"},
    )
    assert_problem(bad_kind, 400, "INVALID_CHATKIT_REQUEST")


@pytest.mark.parametrize(
    ("op", "params", "what"),
    [
        ("attachments.create", {"name": "a.png", "size": 10, "mime_type": "image/png"}, "attach"),
        ("attachments.delete", {"attachment_id": "atc_1"}, "attach"),
        ("input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/webm"}, "ictation"),
    ],
)
async def test_unsupported_features_are_400_not_500(
    alice_chat: ChatClient, op: str, params: dict[str, Any], what: str
) -> None:
    body = assert_problem(await alice_chat.post(op, params), 400, "FEATURE_NOT_ENABLED")
    assert what in body["detail"] and "not enabled" in body["detail"]


async def test_message_with_attachments_is_refused_before_anything_is_stored(
    alice_chat: ChatClient,
) -> None:
    message = user_message("add buy milk")
    message["attachments"] = ["atc_123"]
    response = await alice_chat.post("threads.create", {"input": message})
    assert_problem(response, 400, "FEATURE_NOT_ENABLED")
    threads = await alice_chat.post("threads.list", {"limit": 100})
    assert threads.json()["data"] == []


async def test_client_tool_output_and_structured_input_without_a_pending_request(
    alice_chat: ChatClient,
) -> None:
    stream = await alice_chat.create("add buy tea")
    thread_id = stream.thread_id
    [user] = stream.done_items("user_message")

    tool_output = await alice_chat.post(
        "threads.add_client_tool_output", {"thread_id": thread_id, "result": {"ok": True}}
    )
    assert_problem(tool_output, 400, "NO_PENDING_TOOL_CALL")
    structured = await alice_chat.post(
        "threads.add_structured_input",
        {"thread_id": thread_id, "item_id": user["id"], "input": {"answers": {}}},
    )
    assert_problem(structured, 400, "NO_PENDING_INPUT")
    # Nothing was added to the thread.
    assert len((await alice_chat.items(thread_id))["data"]) == len(stream.done_items())


# ---- widget actions ----


async def test_sync_action_completes_and_reopens_without_the_model(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    thread_id, widget = await _new_card(alice_chat)
    complete = _action_of(widget, "task.complete")
    assert complete["streaming"] is False
    task_id = complete["payload"]["task_id"]

    response = await alice_chat.post(
        "threads.sync_custom_action", _action_params(thread_id, widget, complete)
    )
    assert response.status_code == 200, response.text
    updated = response.json()["updated_item"]
    assert updated["id"] == widget["id"]
    assert [a["type"] for a in widget_actions(updated)] == [
        "task.reopen",
        "task.delete",
        "task.undo",
    ]
    assert "Done" in updated["copy_text"]
    assert (await alice_tasks.get(task_id)).state == tasks_pb.TASK_STATE_COMPLETED
    # The redrawn card is what a reload shows.
    items = (await alice_chat.items(thread_id))["data"]
    assert _widget_of(items) == updated

    reopen = _action_of(updated, "task.reopen")
    response = await alice_chat.post(
        "threads.sync_custom_action", _action_params(thread_id, widget, reopen)
    )
    assert response.status_code == 200
    assert (await alice_tasks.get(task_id)).state == tasks_pb.TASK_STATE_OPEN


async def test_streaming_action_replaces_the_card_and_signals_the_change(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    thread_id, widget = await _new_card(alice_chat)
    delete = _action_of(widget, "task.delete")
    task_id = delete["payload"]["task_id"]

    result = await alice_chat.stream(
        "threads.custom_action", _action_params(thread_id, widget, delete)
    )
    assert result.status == 200
    assert result.types == ["stream_options", "thread.item.replaced", "client_effect"]
    replaced = result.of("thread.item.replaced")[0]["item"]
    assert replaced["id"] == widget["id"]
    assert [a["type"] for a in widget_actions(replaced)] == ["task.undo"]
    assert "Deleted" in replaced["copy_text"]
    assert result.of("client_effect")[0] == {
        "type": "client_effect",
        "name": "tasks.changed",
        "data": {"task_ids": [], "deleted_task_ids": [task_id]},
    }
    assert await alice_tasks.list_all() == []
    assert _widget_of((await alice_chat.items(thread_id))["data"]) == replaced


async def test_action_on_a_missing_task_is_a_friendly_error_and_changes_nothing(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    thread_id, widget = await _new_card(alice_chat)
    complete = _action_of(widget, "task.complete")
    await alice_tasks.delete(complete["payload"]["task_id"])
    params = _action_params(thread_id, widget, complete)

    sync = await alice_chat.post("threads.sync_custom_action", params)
    body = assert_problem(sync, 404, "TASK_NOT_FOUND")
    assert "no longer exists" in body["detail"]
    streamed = await alice_chat.stream("threads.custom_action", params)
    [error] = streamed.of("error")
    assert "no longer exists" in error["message"]
    assert error["allow_retry"] is False
    assert _widget_of((await alice_chat.items(thread_id))["data"]) == widget


async def test_action_naming_someone_elses_task_changes_nothing(
    alice_chat: ChatClient, new_task_caller: Any
) -> None:
    bobs = await new_task_caller()
    bobs_task = await bobs.create("Bob's secret")
    thread_id, widget = await _new_card(alice_chat)
    forged = {"type": "task.complete", "payload": {"task_id": bobs_task.id}}
    params = _action_params(thread_id, widget, forged)

    assert_problem(await alice_chat.post("threads.sync_custom_action", params), 404)
    # Without a sender card the tasks service itself says NOT_FOUND for another user's task.
    del params["item_id"]
    response = await alice_chat.post("threads.sync_custom_action", params)
    body = assert_problem(response, 404, "TASK_NOT_FOUND")
    assert "Bob" not in response.text and "secret" not in body["detail"]
    assert (await bobs.get(bobs_task.id)).state == tasks_pb.TASK_STATE_OPEN


async def test_unknown_action_is_400(alice_chat: ChatClient) -> None:
    thread_id, widget = await _new_card(alice_chat)
    params = _action_params(thread_id, widget, {"type": "task.launch", "payload": {}})
    assert_problem(await alice_chat.post("threads.sync_custom_action", params), 400)
    no_id = {**params, "action": {"type": "task.complete", "payload": {}}}
    assert_problem(await alice_chat.post("threads.sync_custom_action", no_id), 400)


# ---- another user's ids ----


async def test_every_op_with_another_users_ids_is_404_and_leaks_nothing(
    alice_chat: ChatClient, bob_chat: ChatClient
) -> None:
    secret_title = "add renew alice passport"
    stream = await alice_chat.create(secret_title)
    thread_id = stream.thread_id
    [user] = stream.done_items("user_message")
    widget = _widget_of(stream.done_items())
    action = widget_actions(widget)[0]
    before = (await alice_chat.items(thread_id))["data"]

    json_ops: list[tuple[str, dict[str, Any]]] = [
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("threads.update", {"thread_id": thread_id, "title": "stolen"}),
        ("threads.delete", {"thread_id": thread_id}),
        ("items.list", {"thread_id": thread_id}),
        ("items.feedback", {"thread_id": thread_id, "item_ids": [user["id"]], "kind": "positive"}),
        (
            "threads.sync_custom_action",
            {"thread_id": thread_id, "item_id": widget["id"], "action": action},
        ),
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_message("hi")}),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user["id"]}),
        (
            "threads.custom_action",
            {"thread_id": thread_id, "item_id": widget["id"], "action": action},
        ),
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}}),
        (
            "threads.add_structured_input",
            {"thread_id": thread_id, "item_id": user["id"], "input": {"answers": {}}},
        ),
    ]
    for op, params in json_ops:
        response = await bob_chat.post(op, params)
        assert_problem(response, 404)
        assert "passport" not in response.text, op
        assert thread_id not in response.text, op

    listed = await bob_chat.post("threads.list", {"limit": 100})
    assert listed.json()["data"] == []
    # alice's thread is untouched.
    after = await alice_chat.post("threads.get_by_id", {"thread_id": thread_id})
    assert after.json()["title"] == "Add renew alice passport"
    assert (await alice_chat.items(thread_id))["data"] == before


async def test_an_item_of_another_thread_is_404(alice_chat: ChatClient) -> None:
    first = await alice_chat.create("add buy milk")
    second = await alice_chat.create("add buy bread")
    [user] = first.done_items("user_message")
    response = await alice_chat.post(
        "threads.retry_after_item", {"thread_id": second.thread_id, "item_id": user["id"]}
    )
    assert_problem(response, 404)


MALFORMED_ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("no type", {"payload": {"task_id": "t"}}),
    ("nothing", {}),
    ("null type", {"type": None, "payload": {"task_id": "t"}}),
    ("number type", {"type": 7, "payload": {"task_id": "t"}}),
    ("object type", {"type": {"a": 1}, "payload": {"task_id": "t"}}),
    ("unknown type", {"type": "task.launch", "payload": {"task_id": "t"}}),
    ("huge type", {"type": "t" * 200_000, "payload": {"task_id": "t"}}),
    ("no payload", {"type": "task.complete"}),
    ("string payload", {"type": "task.complete", "payload": "t"}),
    ("list payload", {"type": "task.complete", "payload": ["t"]}),
    ("number task id", {"type": "task.complete", "payload": {"task_id": 7}}),
    ("list task id", {"type": "task.complete", "payload": {"task_id": ["t"]}}),
    ("empty task id", {"type": "task.complete", "payload": {"task_id": ""}}),
    ("long task id", {"type": "task.complete", "payload": {"task_id": "t" * 129}}),
    (
        "huge payload",
        {"type": "task.complete", "payload": {"task_id": "t", "junk": "j" * 500_000}},
    ),
    (
        "deep payload",
        {"type": "task.delete", "payload": {"task_id": "t", "junk": [[[[[[[[[[1]]]]]]]]]]}},
    ),
]


@pytest.mark.parametrize(
    ("case", "action"), MALFORMED_ACTIONS, ids=[c for c, _ in MALFORMED_ACTIONS]
)
async def test_every_malformed_action_is_400_or_a_clean_error_event(
    alice_chat: ChatClient,
    alice_tasks: TaskCaller,
    caplog: pytest.LogCaptureFixture,
    case: str,
    action: dict[str, Any],
) -> None:
    stream = await alice_chat.create("add buy milk")
    widget = _widget_of(stream.done_items())
    before = (await alice_chat.items(stream.thread_id))["data"]
    params = {"thread_id": stream.thread_id, "item_id": widget["id"], "action": action}
    caplog.clear()

    response = await alice_chat.post("threads.sync_custom_action", params)
    body = assert_problem(response, 400)
    assert len(response.content) < 4096, case
    assert "TypeError" not in body["detail"]

    streamed = await alice_chat.stream("threads.custom_action", params)
    if streamed.status == 200:
        [error] = streamed.of("error")
        assert error["allow_retry"] is False
        assert "thread.item.replaced" not in streamed.types
        assert len(error.get("message") or "") < 1024
    else:
        assert streamed.status == 400, case
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Nothing changed: the card and the task are as they were.
    assert (await alice_chat.items(stream.thread_id))["data"] == before
    [task] = await alice_tasks.list_all()
    assert task.state == tasks_pb.TASK_STATE_OPEN
