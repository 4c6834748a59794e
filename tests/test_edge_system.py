"""The README's curl walkthrough, against every process started for real: `todo-auth serve`,
`todo-tasks serve` and `todo-edge serve` as subprocesses on free ports, on migrated databases
(SQLite files, or PostgreSQL schemas when TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from todo_testkit.databases import drop_database, new_database
from todo_testkit.processes import ServiceProcess, run_command, start_service


@pytest.fixture(scope="module")
async def edge_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    folder: Path = tmp_path_factory.mktemp("system")
    auth_db, tasks_db = new_database("auth", folder), new_database("tasks", folder)
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
    started: list[ServiceProcess] = []
    try:
        await run_command("auth", "migrate", env=auth_env)
        await run_command("tasks", "migrate", env=tasks_env)
        auth = await start_service("auth", auth_env, folder / "logs")
        started.append(auth)
        tasks = await start_service(
            "tasks", {**tasks_env, "JWT_AUTH_ADDRESS": auth.address}, folder / "logs"
        )
        started.append(tasks)
        edge = await start_service(
            "edge",
            {
                **common,
                "EDGE_ENVIRONMENT": "test",
                "EDGE_AUTH_ADDRESS": auth.address,
                "EDGE_TASKS_ADDRESS": tasks.address,
                "EDGE_COOKIE_SECURE": "false",
            },
            folder / "logs",
            # The edge imports the ChatKit and Agents SDKs: slow on a loaded 2-core machine.
            startup_seconds=120,
        )
        started.append(edge)
        yield edge.url
        # Graceful shutdown on SIGTERM: the edge exits cleanly.
        assert await edge.stop() == 0, edge.log_tail()
    finally:
        for process in reversed(started):
            await process.stop()
        await drop_database(auth_db)
        await drop_database(tasks_db)


async def test_readme_walkthrough(edge_url: str) -> None:
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as http:
        assert (await http.get("/readyz")).status_code == 200
        credentials = {"email": "readme@example.com", "password": "correct horse battery staple"}
        signup = await http.post("/api/auth/signup", json=credentials)
        assert signup.status_code == 201, signup.text
        login = await http.post("/api/auth/login", json=credentials)
        assert login.status_code == 200
        assert http.cookies.get("todo_refresh")  # Not Secure here (EDGE_COOKIE_SECURE=false).
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

        created = await http.post(
            "/api/tasks",
            json={"title": "Buy milk", "priority": "high", "due_time": "2030-12-01T17:00:00Z"},
            headers={**auth, "Idempotency-Key": "buy-milk-1"},
        )
        assert created.status_code == 201, created.text
        task = created.json()
        listed = await http.get("/api/tasks", params={"state": "open"}, headers=auth)
        assert [t["id"] for t in listed.json()["tasks"]] == [task["id"]]

        etag = (await http.get(f"/api/tasks/{task['id']}", headers=auth)).headers["etag"]
        patched = await http.patch(
            f"/api/tasks/{task['id']}",
            json={"title": "Buy oat milk"},
            headers={**auth, "If-Match": etag},
        )
        assert patched.json()["title"] == "Buy oat milk"
        stale = await http.patch(
            f"/api/tasks/{task['id']}", json={"title": "x"}, headers={**auth, "If-Match": etag}
        )
        assert stale.status_code == 412

        done = await http.post(f"/api/tasks/{task['id']}/complete", headers=auth)
        assert done.json()["state"] == "completed"
        refreshed = await http.post("/api/auth/refresh")  # the cookie from login
        assert refreshed.status_code == 200
        auth = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        assert (await http.delete(f"/api/tasks/{task['id']}", headers=auth)).status_code == 204
        assert (await http.get(f"/api/tasks/{task['id']}", headers=auth)).status_code == 404
        assert (await http.post("/api/auth/logout")).status_code == 204
        assert (await http.post("/api/auth/refresh")).status_code == 401
        metrics = (await http.get("/metrics")).text
        assert 'route="/api/tasks/{task_id}"' in metrics
