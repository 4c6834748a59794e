"""Bulk changes over REST: `POST /api/tasks:batchUpdate`, `:batchDelete`, `:batchComplete`
against the real tasks service. All-or-nothing, idempotent with `Idempotency-Key`, and bad
input is a problem+json 4xx that changes nothing."""

from __future__ import annotations

import httpx
from todo_testkit.edge import assert_problem
from todo_testkit.rest import create_task

MISSING_ID = "0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10"


async def create(http: httpx.AsyncClient, title: str, **fields: object) -> dict:
    """A new task as GET shows it (the create's `undo_token` set aside)."""
    task = await create_task(http, title=title, **fields)
    assert task.pop("undo_token")
    return task


async def listed(http: httpx.AsyncClient, **params: str) -> list[dict]:
    response = await http.get("/api/tasks", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["tasks"])


async def test_batch_update_reschedules_and_retags(alice_http: httpx.AsyncClient) -> None:
    one = await create(alice_http, "one", tags=["someday"])
    two = await create(alice_http, "two", due_time="2030-01-01T00:00:00Z")

    response = await alice_http.post(
        "/api/tasks:batchUpdate",
        json={
            "ids": [one["id"], two["id"]],
            "due_time": "2030-02-01T17:00:00+01:00",
            "priority": "high",
            "add_tags": ["#Urgent"],
            "remove_tags": ["someday"],
        },
    )

    assert response.status_code == 200, response.text
    tasks = response.json()["tasks"]
    assert [task["id"] for task in tasks] == [one["id"], two["id"]]
    assert {task["due_time"] for task in tasks} == {"2030-02-01T16:00:00Z"}
    assert {task["priority"] for task in tasks} == {"high"}
    assert [task["tags"] for task in tasks] == [["urgent"], ["urgent"]]

    cleared = await alice_http.post(
        "/api/tasks:batchUpdate", json={"ids": [one["id"]], "due_time": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["tasks"][0]["due_time"] is None


async def test_batch_complete_answers_next_occurrences(alice_http: httpx.AsyncClient) -> None:
    weekly = await create(
        alice_http, "sync", due_time="2030-01-07T09:00:00Z", recurrence="FREQ=WEEKLY"
    )
    plain = await create(alice_http, "once")

    response = await alice_http.post(
        "/api/tasks:batchComplete", json={"ids": [weekly["id"], plain["id"]]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [task["state"] for task in body["tasks"]] == ["completed", "completed"]
    [following] = body["next_tasks"]
    assert following["previous_occurrence_id"] == weekly["id"]
    assert following["due_time"] == "2030-01-14T09:00:00Z"


async def test_batch_delete_with_idempotency_key_replays(alice_http: httpx.AsyncClient) -> None:
    doomed = [await create(alice_http, f"doomed {n}") for n in range(3)]
    body = {"ids": [task["id"] for task in doomed]}
    headers = {"Idempotency-Key": "clear-out-1"}

    first = await alice_http.post("/api/tasks:batchDelete", json=body, headers=headers)
    again = await alice_http.post("/api/tasks:batchDelete", json=body, headers=headers)

    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert [task["title"] for task in first.json()["tasks"]] == [t["title"] for t in doomed]
    assert not {t["id"] for t in await listed(alice_http)} & set(body["ids"])
    # The same key for another body is a conflict.
    other = await create(alice_http, "other")
    reused = await alice_http.post(
        "/api/tasks:batchDelete", json={"ids": [other["id"]]}, headers=headers
    )
    assert_problem(reused, 409, "REQUEST_ID_REUSED")


async def test_another_users_id_is_404_and_nothing_changes(
    alice_http: httpx.AsyncClient, bob_http: httpx.AsyncClient
) -> None:
    mine = await create(alice_http, "mine")
    theirs = await create(bob_http, "theirs")

    for path, extra in (
        (":batchComplete", {}),
        (":batchDelete", {}),
        (":batchUpdate", {"priority": "low"}),
    ):
        for stranger in (theirs["id"], MISSING_ID):
            response = await alice_http.post(
                f"/api/tasks{path}", json={"ids": [mine["id"], stranger], **extra}
            )
            assert_problem(response, 404, "TASK_NOT_FOUND")

    again = await alice_http.get(f"/api/tasks/{mine['id']}")
    assert again.json() == mine
    assert (await bob_http.get(f"/api/tasks/{theirs['id']}")).json() == theirs


async def test_bad_batches_are_4xx_problems(alice_http: httpx.AsyncClient) -> None:
    task = await create(alice_http, "a")
    ids = [task["id"]]
    cases: list[tuple[str, object, int]] = [
        (":batchComplete", {"ids": []}, 422),
        (":batchComplete", {"ids": [f"{n}" for n in range(101)]}, 422),
        (":batchComplete", {}, 422),
        (":batchComplete", {"ids": ids, "extra": 1}, 422),
        (":batchComplete", [task["id"]], 422),
        (":batchDelete", {"ids": [task["id"], task["id"]]}, 400),
        (":batchDelete", {"ids": ["x\u0000"]}, 422),
        (":batchUpdate", {"ids": ids}, 422),
        (":batchUpdate", {"ids": ids, "priority": None}, 422),
        (":batchUpdate", {"ids": ids, "priority": "urgent"}, 422),
        (":batchUpdate", {"ids": ids, "due_time": "tomorrow"}, 422),
        (":batchUpdate", {"ids": ids, "due_time": "2030-01-01T00:00:00"}, 422),
        (":batchUpdate", {"ids": ids, "add_tags": ["no spaces"]}, 400),
        (":batchUpdate", {"ids": ids, "add_tags": ["a"], "remove_tags": ["a"]}, 400),
        (":batchUpdate", {"ids": ids, "due_time": "2150-01-01T00:00:00Z"}, 400),
    ]
    for path, body, status in cases:
        response = await alice_http.post(f"/api/tasks{path}", json=body)
        assert_problem(response, status)
    assert (await alice_http.get(f"/api/tasks/{task['id']}")).json() == task


async def test_batches_need_a_token(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/tasks:batchComplete", json={"ids": [MISSING_ID]})
    assert_problem(response, 401)
