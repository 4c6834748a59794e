"""`undo_token` on every REST task change and `POST /api/undo`, over real HTTP against the real
tasks service: a delete, update, complete and create undone; a token used twice, another
user's token, garbage and bad bodies refused as problems."""

from __future__ import annotations

import httpx
from todo_testkit.edge import assert_problem
from todo_testkit.rest import create_task


async def undo(http: httpx.AsyncClient, token: str) -> list[dict]:
    response = await http.post("/api/undo", json={"undo_token": token})
    assert response.status_code == 200, response.text
    tasks: list[dict] = response.json()["tasks"]
    return tasks


async def test_undo_restores_a_deleted_task(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http, tags=["errands"], priority="high")
    deleted = await alice_http.delete(f"/api/tasks/{task['id']}")
    assert deleted.status_code == 200
    assert_problem(await alice_http.get(f"/api/tasks/{task['id']}"), 404)

    (restored,) = await undo(alice_http, deleted.json()["undo_token"])

    assert (restored["id"], restored["title"], restored["tags"], restored["priority"]) == (
        task["id"],
        "Buy milk",
        ["errands"],
        "high",
    )
    fetched = await alice_http.get(f"/api/tasks/{task['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["etag"] == restored["etag"]


async def test_every_change_answers_a_token_that_reverts_it(alice_http: httpx.AsyncClient) -> None:
    created = await create_task(alice_http, title="Draft")
    assert created["undo_token"]
    task_url = f"/api/tasks/{created['id']}"

    patched = await alice_http.patch(task_url, json={"title": "Final", "notes": "x"})
    assert patched.json()["undo_token"]
    assert (await undo(alice_http, patched.json()["undo_token"]))[0]["title"] == "Draft"

    done = await alice_http.post(f"{task_url}/complete")
    assert done.json()["undo_token"]
    assert (await undo(alice_http, done.json()["undo_token"]))[0]["state"] == "open"

    # Reopening an open task changes nothing: no token.
    assert (await alice_http.post(f"{task_url}/reopen")).json()["undo_token"] is None

    assert await undo(alice_http, created["undo_token"]) == []
    assert_problem(await alice_http.get(task_url), 404)


async def test_undoing_a_weekly_completion_removes_the_next_occurrence(
    alice_http: httpx.AsyncClient,
) -> None:
    task = await create_task(
        alice_http, title="Team sync", due_time="2027-01-04T09:00:00Z", recurrence="FREQ=WEEKLY"
    )
    done = (await alice_http.post(f"/api/tasks/{task['id']}/complete")).json()
    assert done["next_task"]

    await undo(alice_http, done["undo_token"])

    assert_problem(await alice_http.get(f"/api/tasks/{done['next_task']['id']}"), 404)
    assert (await alice_http.get(f"/api/tasks/{task['id']}")).json()["state"] == "open"


async def test_an_empty_body_undoes_the_most_recent_change(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http, title="Latest")
    await alice_http.delete(f"/api/tasks/{task['id']}")

    response = await alice_http.post("/api/undo", json={})

    assert response.status_code == 200, response.text
    assert [t["id"] for t in response.json()["tasks"]] == [task["id"]]


async def test_a_token_works_once(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http)
    token = (await alice_http.delete(f"/api/tasks/{task['id']}")).json()["undo_token"]
    await undo(alice_http, token)

    problem = assert_problem(await alice_http.post("/api/undo", json={"undo_token": token}), 409)

    assert problem["reason"] == "ALREADY_UNDONE"


async def test_another_users_token_is_404_like_a_missing_one(
    alice_http: httpx.AsyncClient, bob_http: httpx.AsyncClient
) -> None:
    task = await create_task(alice_http)
    token = (await alice_http.delete(f"/api/tasks/{task['id']}")).json()["undo_token"]

    foreign = assert_problem(await bob_http.post("/api/undo", json={"undo_token": token}), 404)
    missing = assert_problem(
        await bob_http.post("/api/undo", json={"undo_token": "no such token"}), 404
    )

    assert foreign["reason"] == missing["reason"] == "UNDO_TOKEN_NOT_FOUND"
    assert foreign["detail"] == missing["detail"]
    assert_problem(await bob_http.get(f"/api/tasks/{task['id']}"), 404)
    assert [t["id"] for t in await undo(alice_http, token)] == [task["id"]]


async def test_bad_undo_bodies_are_422(alice_http: httpx.AsyncClient, http: httpx.AsyncClient):
    for body in ({"undo_token": 5}, {"undo_token": "x" * 257}, {"token": "x"}, ["x"]):
        assert_problem(await alice_http.post("/api/undo", json=body), 422)
    assert_problem(await alice_http.post("/api/undo", content=b"{not json"), 422)
    assert_problem(await http.post("/api/undo", json={"undo_token": "x"}), 401)
