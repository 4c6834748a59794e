"""Chat end to end with every process started for real: `todo-auth`, `todo-tasks`,
`todo-agent` (offline model) and `todo-edge` as subprocesses on free ports, on migrated
databases (SQLite files, or PostgreSQL schemas when TEST_DATABASE_URL is set).

A user signs up over REST, adds a task by chat, sees the task card, completes the task with
the card's button (no model round trip), reloads the thread and gets the same items back.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from todo_testkit.chatkit import ChatClient
from todo_testkit.databases import drop_database, new_database
from todo_testkit.processes import ServiceProcess, run_command, start_service

# Four processes importing at once on a small, busy machine can take a while to bind.
STARTUP_SECONDS = 90.0


@pytest.fixture(scope="module")
async def edge_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    folder: Path = tmp_path_factory.mktemp("chat-e2e")
    auth_db, tasks_db, edge_db = (new_database(name, folder) for name in ("auth", "tasks", "edge"))
    common = {"JWT_ISSUER": "todo-auth", "JWT_AUDIENCE": "todo-api"}
    auth_env = {
        **common,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_DATABASE_URL": auth_db.url,
        "AUTH_DATABASE_SCHEMA": auth_db.schema,
    }
    tasks_env = {
        **common,
        "TASKS_ENVIRONMENT": "test",
        "TASKS_DATABASE_URL": tasks_db.url,
        "TASKS_DATABASE_SCHEMA": tasks_db.schema,
    }
    edge_env = {
        **common,
        "EDGE_ENVIRONMENT": "test",
        "EDGE_COOKIE_SECURE": "false",
        "EDGE_DATABASE_URL": edge_db.url,
        "EDGE_DATABASE_SCHEMA": edge_db.schema,
    }
    started: list[ServiceProcess] = []
    logs = folder / "logs"
    try:
        # Start-up is mostly Python imports: migrate concurrently, then start every process
        # at once on ports chosen up front (the edge and agent need their backends' addresses).
        await asyncio.gather(
            run_command("auth", "migrate", env=auth_env),
            run_command("tasks", "migrate", env=tasks_env),
            run_command("edge", "migrate", env=edge_env),
        )
        auth_port, tasks_port, agent_port = _free_ports(3)
        auth_address = f"127.0.0.1:{auth_port}"
        tasks_address = f"127.0.0.1:{tasks_port}"
        agent_address = f"127.0.0.1:{agent_port}"
        processes = await asyncio.gather(
            start_service(
                "auth",
                {**auth_env, "AUTH_PORT": str(auth_port)},
                logs,
                startup_seconds=STARTUP_SECONDS,
            ),
            start_service(
                "tasks",
                {**tasks_env, "TASKS_PORT": str(tasks_port), "JWT_AUTH_ADDRESS": auth_address},
                logs,
                startup_seconds=STARTUP_SECONDS,
            ),
            start_service(
                "agent",
                {
                    **common,
                    "AGENT_ENVIRONMENT": "test",
                    "AGENT_PORT": str(agent_port),
                    "AGENT_MODEL": "offline",
                    "AGENT_TASKS_ADDRESS": tasks_address,
                    "JWT_AUTH_ADDRESS": auth_address,
                },
                logs,
                startup_seconds=STARTUP_SECONDS,
            ),
            start_service(
                "edge",
                {
                    **edge_env,
                    "EDGE_AUTH_ADDRESS": auth_address,
                    "EDGE_TASKS_ADDRESS": tasks_address,
                    "EDGE_AGENT_ADDRESS": agent_address,
                    "EDGE_READINESS_BACKENDS": "auth,tasks,agent",
                },
                logs,
                startup_seconds=STARTUP_SECONDS,
            ),
            return_exceptions=True,
        )
        started.extend(p for p in processes if isinstance(p, ServiceProcess))
        for process in processes:
            if isinstance(process, BaseException):
                raise process
        edge = started[-1]
        yield edge.url
        assert await edge.stop() == 0, edge.log_tail()
    finally:
        for process in reversed(started):
            await process.stop()
        for database in (auth_db, tasks_db, edge_db):
            await drop_database(database)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


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
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("onClickAction")
            if isinstance(action, dict) and action.get("type") == action_type:
                found.append(action)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(widget)
    assert len(found) == 1, found
    return found[0]


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
        expected = [updated if item["id"] == card["id"] else item for item in created.done_items()]
        thread = (await chat.post("threads.get_by_id", {"thread_id": thread_id})).json()
        assert thread["title"] == "Add buy milk tomorrow, high priority #errands"
        assert thread["items"]["data"] == expected
        assert (await chat.items(thread_id))["data"] == expected

        # The thread goes on: a second turn lists the open tasks (none left).
        listed = await chat.say(thread_id, "show my tasks")
        assert listed.of("error") == []
        [list_card] = listed.done_items("widget")
        assert list_card["copy_text"] == "Your tasks:"
