"""`GET /api/events`: a second client sees the caller's REST changes live, resumes with
Last-Event-ID, never sees another user's, and bad or excess requests are clean 4xx."""

from __future__ import annotations

import asyncio

from todo_testkit.auth import SignedUpUser
from todo_testkit.edge import EdgeHandle, assert_problem, edge_settings_for, running_edge
from todo_testkit.feeds import open_feed
from todo_testkit.rest import create_task


async def test_a_second_client_sees_every_rest_change(
    edge_service: EdgeHandle, alice: SignedUpUser
) -> None:
    async with (
        edge_service.client(alice.access_token) as watcher,
        edge_service.client(alice.access_token) as writer,
        open_feed(watcher) as feed,
    ):
        task = await create_task(
            writer, title="Water plants", due_time="2027-01-04T09:00:00Z", recurrence="FREQ=WEEKLY"
        )
        del task["undo_token"]  # the change's, not the task's
        first = await feed.next_task_event()
        assert first.data["type"] == "task.created"
        assert first.data["task"] == task
        assert first.id == first.data["cursor"]

        await writer.patch(f"/api/tasks/{task['id']}", json={"notes": "the fern too"})
        updated = await feed.next_task_event()
        assert (updated.data["type"], updated.data["task"]["notes"]) == (
            "task.updated",
            "the fern too",
        )

        done = (await writer.post(f"/api/tasks/{task['id']}/complete")).json()
        completed = await feed.next_task_event()
        following = await feed.next_task_event()
        assert (completed.data["type"], completed.data["task_id"]) == ("task.completed", task["id"])
        assert following.data["type"] == "task.created"
        assert following.data["task"] == done["next_task"]

        await writer.delete(f"/api/tasks/{task['id']}")
        deleted = await feed.next_task_event()
        assert deleted.data == {**deleted.data, "type": "task.deleted", "task": None}
        ids = [int(f.id or 0) for f in (first, updated, completed, following, deleted)]
        assert ids == sorted(ids)


async def test_last_event_id_resumes_after_what_was_seen(
    edge_service: EdgeHandle, alice: SignedUpUser
) -> None:
    async with edge_service.client(alice.access_token) as http:
        async with open_feed(http) as feed:
            await http.post("/api/tasks", json={"title": "seen"})
            seen = await feed.next_task_event()
        missed = [
            (await http.post("/api/tasks", json={"title": f"missed {n}"})).json() for n in range(2)
        ]
        async with open_feed(http, last_event_id=seen.id) as resumed:
            replayed = [await resumed.next_task_event() for _ in missed]
    assert [f.data["task_id"] for f in replayed] == [t["id"] for t in missed]


async def test_another_users_changes_never_arrive(
    edge_service: EdgeHandle, alice: SignedUpUser, bob: SignedUpUser
) -> None:
    async with (
        edge_service.client(alice.access_token) as alices,
        edge_service.client(bob.access_token) as bobs,
        open_feed(alices) as feed,
    ):
        await bobs.post("/api/tasks", json={"title": "bob's secret"})
        mine = (await alices.post("/api/tasks", json={"title": "alice's"})).json()
        event = await feed.next_task_event()
    assert event.data["task_id"] == mine["id"]


async def test_without_a_token_it_is_401(edge_service: EdgeHandle) -> None:
    async with edge_service.client() as http:
        assert_problem(await http.get("/api/events"), 401)


async def test_a_malformed_last_event_id_is_422(
    edge_service: EdgeHandle, alice: SignedUpUser
) -> None:
    async with edge_service.client(alice.access_token) as http:
        for bad in ("abc", "-1", "1" * 20):
            response = await http.get("/api/events", headers={"Last-Event-ID": bad})
            assert_problem(response, 422)


async def test_heartbeats_a_bound_on_duration_and_a_cap_per_user(
    auth_service, tasks_service, alice: SignedUpUser
) -> None:
    settings = edge_settings_for(
        auth_service,
        tasks_service,
        events_heartbeat_seconds=0.2,
        events_max_seconds=2.0,
        events_per_user=2,
    )
    async with running_edge(settings) as edge, edge.client(alice.access_token) as http:
        async with open_feed(http) as one, open_feed(http):
            beat = await one.next_frame()
            assert beat.comments == ["keep-alive"]
            third = await http.get("/api/events")
            assert_problem(third, 429, "TOO_MANY_EVENT_STREAMS")
            assert third.headers["retry-after"]
            # The stream ends by itself within its bound (the client then resumes).
            async with asyncio.timeout(10):
                while True:
                    try:
                        await one.next_frame()
                    except EOFError:
                        break
        # Both slots are free again.
        async with open_feed(http), open_feed(http):
            pass


async def test_a_feed_on_one_edge_sees_a_change_made_through_another(
    auth_service, tasks_service, edge_service: EdgeHandle, alice: SignedUpUser
) -> None:
    async with (
        running_edge(edge_settings_for(auth_service, tasks_service)) as other,
        edge_service.client(alice.access_token) as here,
        other.client(alice.access_token) as there,
        open_feed(here) as feed,
    ):
        task = (await there.post("/api/tasks", json={"title": "via the other edge"})).json()
        event = await feed.next_task_event()
    del task["undo_token"]  # the change's, not the task's
    assert event.data["task"] == task


async def test_the_event_stream_is_in_the_openapi_document(edge_service: EdgeHandle) -> None:
    async with edge_service.client() as http:
        spec = (await http.get("/openapi.json")).json()
    operation = spec["paths"]["/api/events"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
