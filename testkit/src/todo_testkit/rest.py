"""The edge's REST task API as tests drive it: one way to add a task and one way to check that a
create was refused without storing anything.

    task = await create_task(alice_http, title="Team sync", recurrence="FREQ=WEEKLY")
"""

from __future__ import annotations

from typing import Any

import httpx

from todo_testkit.edge import assert_problem

DEFAULT_TITLE = "Buy milk"


async def post_task(http: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    """`POST /api/tasks` with `fields` (the title "Buy milk" unless given); asserts 201 and
    returns the response (for its headers)."""
    response = await http.post("/api/tasks", json={"title": DEFAULT_TITLE, **fields})
    assert response.status_code == 201, response.text
    return response


async def create_task(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A new task (see `post_task`) as the create answers it, `undo_token` included."""
    task: dict[str, Any] = (await post_task(http, **fields)).json()
    return task


async def assert_create_refused(
    http: httpx.AsyncClient, fields: dict[str, Any], field: str
) -> None:
    """A create with `fields` is a 400 problem naming exactly `field`, and the caller's task
    list is as it was."""
    before = (await http.get("/api/tasks")).json()["tasks"]
    response = await http.post("/api/tasks", json={"title": "bad", **fields})
    body = assert_problem(response, 400)
    assert [e["field"] for e in body["errors"]] == [field]
    assert (await http.get("/api/tasks")).json()["tasks"] == before
