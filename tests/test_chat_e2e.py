"""Chat end to end with every process started for real: `todo-auth`, `todo-tasks`,
`todo-agent` (offline model) and `todo-edge` as subprocesses on free ports, on migrated
databases (SQLite files, or PostgreSQL schemas when TEST_DATABASE_URL is set).

A user signs up over REST, adds a task by chat, sees the task card, completes the task with
the card's button (no model round trip), reloads the thread and gets the same items back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from todo_testkit.chatkit import ChatClient, widget_actions
from todo_testkit.stack import SERVICES, running_stack

# The test also waits for the processes to start (and, at the end, to drain), which takes
# long on a busy machine: the launcher's own ceilings bound each step.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
async def edge_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with running_stack(*SERVICES, folder=tmp_path_factory.mktemp("chat-e2e")) as stack:
        yield stack["edge"].url


async def _sign_up(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/api/auth/signup",
        json={
            "email": f"chat-{uuid.uuid4().hex[:10]}@example.com",
            "password": "correct horse battery staple",
            "display_name": "Chat E2E",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"])


def _button(widget: dict[str, Any], action_type: str) -> dict[str, Any]:
    [action] = [a for a in widget_actions(widget) if a["type"] == action_type]
    return action


async def test_add_by_chat_complete_by_button_and_reload(edge_url: str) -> None:
    async with httpx.AsyncClient(base_url=edge_url, timeout=30) as anonymous:
        assert (await anonymous.get("/readyz")).status_code == 200
        token = await _sign_up(anonymous)
    async with httpx.AsyncClient(
        base_url=edge_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        chat = ChatClient(http)
        created = await chat.create("add buy milk tomorrow, high priority #errands")
        assert created.status == 200, created.text
        assert created.of("error") == []
        thread_id = created.thread_id
        [card] = created.done_items("widget")
        assert "Buy milk" in card["copy_text"]
        assert created.of("client_effect")[0]["name"] == "tasks.changed"

        # The task exists in the tasks service, as the REST API shows it.
        tasks = (await http.get("/api/tasks")).json()["tasks"]
        assert [(t["title"], t["priority"], t["tags"]) for t in tasks] == [
            ("Buy milk", "high", ["errands"])
        ]

        complete = _button(card["widget"], "task.complete")
        done = await chat.post(
            "threads.sync_custom_action",
            {"thread_id": thread_id, "item_id": card["id"], "action": complete},
        )
        assert done.status_code == 200, done.text
        updated = done.json()["updated_item"]
        _button(updated["widget"], "task.reopen")
        assert (await http.get(f"/api/tasks/{tasks[0]['id']}")).json()["state"] == "completed"

        # Reload: the thread and its items are exactly what was streamed, with the card as the
        # button left it.
        expected = [
            updated if item["id"] == card["id"] else item for item in created.stored_items()
        ]
        thread = (await chat.post("threads.get_by_id", {"thread_id": thread_id})).json()
        assert thread["title"] == "Add buy milk tomorrow, high priority #errands"
        assert thread["items"]["data"] == expected
        assert (await chat.items(thread_id))["data"] == expected

        # The thread goes on: a second turn lists the open tasks (none left).
        listed = await chat.say(thread_id, "show my tasks")
        assert listed.of("error") == []
        [list_card] = listed.done_items("widget")
        assert list_card["copy_text"] == "Your tasks:"
