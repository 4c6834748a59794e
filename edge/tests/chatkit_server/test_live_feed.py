"""Changes made in the chat (a model turn's tool call, a task card's button) reach the user's
live feed on another edge, like REST changes do: every writer goes through the tasks service,
whose outbox the feed reads."""

from __future__ import annotations

from typing import Any

from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.chatkit import ChatClient, widget_actions
from todo_testkit.edge import edge_settings_for, running_edge
from todo_testkit.feeds import open_feed
from todo_testkit.tasks import TasksServiceHandle


def _complete_action(items: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    widget = next(item for item in items if item["type"] == "widget")
    [action] = [a for a in widget_actions(widget) if a["type"] == "task.complete"]
    return widget, action


async def test_chat_changes_reach_a_feed_on_another_edge(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    alice: SignedUpUser,
    alice_chat: ChatClient,
) -> None:
    async with (
        running_edge(edge_settings_for(auth_service, tasks_service)) as other,
        other.client(alice.access_token) as http,
        open_feed(http) as feed,
    ):
        stream = await alice_chat.create("add buy milk tomorrow, high priority")
        created = await feed.next_task_event()
        assert created.data["type"] == "task.created"
        assert created.data["task"]["title"] == "Buy milk"
        assert created.data["task"]["priority"] == "high"

        widget, action = _complete_action(stream.done_items())
        assert action["payload"]["task_id"] == created.data["task_id"]
        response = await alice_chat.post(
            "threads.sync_custom_action",
            {"thread_id": stream.thread_id, "item_id": widget["id"], "action": action},
        )
        assert response.status_code == 200, response.text
        completed = await feed.next_task_event()
        assert (completed.data["type"], completed.data["task_id"]) == (
            "task.completed",
            created.data["task_id"],
        )
