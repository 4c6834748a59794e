"""Happy paths of /api/tasks over real HTTP against the real tasks service."""

from __future__ import annotations

import uuid

import httpx
from todo_testkit.edge import assert_problem
from todo_testkit.rest import create_task, post_task


async def test_create_returns_201_with_location_and_etag(alice_http: httpx.AsyncClient) -> None:
    response = await post_task(
        alice_http,
        notes="2 litres",
        priority="high",
        due_time="2030-01-02T17:00:00+01:00",
        tags=["Errands", "home"],
    )
    task = response.json()
    assert response.headers["location"] == f"/api/tasks/{task['id']}"
    assert response.headers["etag"] == f'"{task["etag"]}"'
    assert task["title"] == "Buy milk"
    assert task["notes"] == "2 litres"
    assert task["state"] == "open"
    assert task["priority"] == "high"
    assert task["due_time"] == "2030-01-02T16:00:00Z"
    assert sorted(task["tags"]) == ["errands", "home"]
    assert task["complete_time"] is None
    assert task["create_time"].endswith("Z")


async def test_defaults_on_create(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http)
    assert task["priority"] == "medium"
    assert task["notes"] == ""
    assert task["tags"] == []
    assert task["due_time"] is None


async def test_get_returns_the_task_with_etag(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http)
    response = await alice_http.get(f"/api/tasks/{task['id']}")
    assert response.status_code == 200
    del task["undo_token"]  # only a change answers one
    assert response.json() == task
    assert response.headers["etag"] == f'"{task["etag"]}"'


async def test_patch_changes_only_the_fields_sent(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http, notes="keep me", due_time="2030-01-01T00:00:00Z")
    response = await alice_http.patch(
        f"/api/tasks/{task['id']}", json={"title": "Buy oat milk", "priority": "low"}
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "Buy oat milk"
    assert updated["priority"] == "low"
    assert updated["notes"] == "keep me"
    assert updated["due_time"] == "2030-01-01T00:00:00Z"
    assert updated["etag"] != task["etag"]
    assert response.headers["etag"] == f'"{updated["etag"]}"'


async def test_patch_null_clears_due_time_notes_and_tags(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http, notes="n", tags=["x"], due_time="2030-01-01T00:00:00Z")
    response = await alice_http.patch(
        f"/api/tasks/{task['id']}",
        json={"due_time": None, "notes": None, "tags": None},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["due_time"], updated["notes"], updated["tags"]) == (None, "", [])


async def test_patch_with_current_if_match_succeeds_and_stale_is_412(
    alice_http: httpx.AsyncClient,
) -> None:
    task = await create_task(alice_http)
    first = await alice_http.patch(
        f"/api/tasks/{task['id']}",
        json={"title": "v2"},
        headers={"If-Match": f'"{task["etag"]}"'},
    )
    assert first.status_code == 200, first.text
    stale = await alice_http.patch(
        f"/api/tasks/{task['id']}",
        json={"title": "v3"},
        headers={"If-Match": f'"{task["etag"]}"'},
    )
    assert_problem(stale, 412)
    current = await alice_http.get(f"/api/tasks/{task['id']}")
    assert current.json()["title"] == "v2"


async def test_if_match_star_means_any_version(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http)
    response = await alice_http.patch(
        f"/api/tasks/{task['id']}", json={"title": "v2"}, headers={"If-Match": "*"}
    )
    assert response.status_code == 200


async def test_stale_if_match_on_complete_and_delete_is_412(
    alice_http: httpx.AsyncClient,
) -> None:
    task = await create_task(alice_http)
    await alice_http.patch(f"/api/tasks/{task['id']}", json={"title": "changed"})
    stale = {"If-Match": f'"{task["etag"]}"'}
    assert_problem(await alice_http.post(f"/api/tasks/{task['id']}/complete", headers=stale), 412)
    assert_problem(await alice_http.delete(f"/api/tasks/{task['id']}", headers=stale), 412)
    assert (await alice_http.get(f"/api/tasks/{task['id']}")).status_code == 200


async def test_complete_and_reopen(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http)
    done = await alice_http.post(
        f"/api/tasks/{task['id']}/complete", headers={"If-Match": f'"{task["etag"]}"'}
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed"
    assert done.json()["complete_time"] is not None
    reopened = await alice_http.post(f"/api/tasks/{task['id']}/reopen")
    assert reopened.status_code == 200
    assert reopened.json()["state"] == "open"
    assert reopened.json()["complete_time"] is None


async def test_delete_then_get_is_404(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http)
    response = await alice_http.delete(f"/api/tasks/{task['id']}")
    assert response.status_code == 200
    assert response.json()["undo_token"]
    assert_problem(await alice_http.get(f"/api/tasks/{task['id']}"), 404)


async def test_idempotency_key_returns_the_first_task(alice_http: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await alice_http.post("/api/tasks", json={"title": "Once"}, headers=key)
    again = await alice_http.post("/api/tasks", json={"title": "Once"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    listed = (await alice_http.get("/api/tasks", params={"query": "Once"})).json()["tasks"]
    assert [t["id"] for t in listed] == [first.json()["id"]]


async def test_idempotency_key_with_another_body_is_409(alice_http: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    await alice_http.post("/api/tasks", json={"title": "One thing"}, headers=key)
    conflict = await alice_http.post("/api/tasks", json={"title": "Another"}, headers=key)
    assert_problem(conflict, 409)


async def test_list_paginates_with_next_page_token(alice_http: httpx.AsyncClient) -> None:
    created = {(await create_task(alice_http, title=f"Task {i}"))["id"] for i in range(5)}
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"page_size": 2}
        if token:
            params["page_token"] = token
        response = await alice_http.get("/api/tasks", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["tasks"]) <= 2
        seen += [t["id"] for t in body["tasks"]]
        pages += 1
        token = body["next_page_token"]
        if token is None:
            break
    assert set(seen) == created
    assert len(seen) == len(created)
    assert pages == 3


async def test_list_filters(alice_http: httpx.AsyncClient) -> None:
    high = await create_task(alice_http, title="Call the plumber", priority="high", tags=["home"])
    low = await create_task(
        alice_http, title="Read a book", priority="low", due_time="2031-05-01T00:00:00Z"
    )
    overdue = await create_task(alice_http, title="Pay rent", due_time="2001-01-01T00:00:00Z")
    done = await create_task(alice_http, title="Water plants")
    await alice_http.post(f"/api/tasks/{done['id']}/complete")

    async def ids(**params: object) -> list[str]:
        response = await alice_http.get("/api/tasks", params=params)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["tasks"]]

    assert await ids(priority="high") == [high["id"]]
    assert await ids(tag="HOME") == [high["id"]]
    assert await ids(state="completed") == [done["id"]]
    assert done["id"] not in await ids(state="open")
    assert await ids(query="plumb") == [high["id"]]
    assert await ids(overdue="true") == [overdue["id"]]
    assert await ids(due_after="2031-01-01T00:00:00Z") == [low["id"]]
    assert await ids(due_before="2002-01-01T00:00:00Z") == [overdue["id"]]
    by_priority = await ids(order_by="priority desc")
    assert by_priority.index(high["id"]) < by_priority.index(low["id"])


async def test_users_see_only_their_own_tasks(
    alice_http: httpx.AsyncClient, bob_http: httpx.AsyncClient
) -> None:
    await create_task(alice_http, title="Alice's secret")
    assert (await bob_http.get("/api/tasks")).json() == {"tasks": [], "next_page_token": None}
