"""The README's curl walkthrough, against every process started for real: `todo-auth serve`,
`todo-tasks serve` and `todo-edge serve` as subprocesses on free ports, on migrated databases
(SQLite files, or PostgreSQL schemas when TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from todo_testkit.ports import free_port
from todo_testkit.stack import running_stack

# The test also waits for the processes to start (and, at the end, to drain), which takes
# long on a busy machine: the launcher's own ceilings bound each step.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
async def edge_urls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, str]]:
    """The edge's public URL and its metrics URL (a port of its own)."""
    folder = tmp_path_factory.mktemp("system")
    metrics_port = free_port()
    env = {"EDGE_METRICS_PORT": str(metrics_port)}
    async with running_stack("auth", "tasks", "edge", folder=folder, env=env) as stack:
        yield stack["edge"].url, f"http://127.0.0.1:{metrics_port}/metrics"


async def test_readme_walkthrough(edge_urls: tuple[str, str]) -> None:
    edge_url, metrics_url = edge_urls
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
        assert (await http.delete(f"/api/tasks/{task['id']}", headers=auth)).status_code == 200
        assert (await http.get(f"/api/tasks/{task['id']}", headers=auth)).status_code == 404
        assert (await http.post("/api/auth/logout")).status_code == 204
        assert (await http.post("/api/auth/refresh")).status_code == 401
        assert (await http.get("/metrics")).status_code == 404  # Not on the public port.
        metrics = (await http.get(metrics_url)).text
        assert 'route="/api/tasks/{task_id}"' in metrics
