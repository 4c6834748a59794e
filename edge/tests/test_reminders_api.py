"""Reminders over REST: `reminders` in and out on create and PATCH, bad ones a 400 naming the
field, and a due reminder arriving on `GET /api/events` as one `event: reminder` frame."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from todo_testkit.auth import SignedUpUser
from todo_testkit.edge import EdgeHandle, assert_problem
from todo_testkit.feeds import open_feed
from todo_testkit.rest import assert_create_refused, create_task


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_reminders_are_set_on_create_and_replaced_or_cleared_by_patch(
    alice_http: httpx.AsyncClient,
) -> None:
    task = await create_task(
        alice_http,
        title="Dentist",
        due_time="2027-03-02T10:00:00Z",
        reminders=[{"before": "PT60M"}, {"at": "2027-03-01T18:00:00+01:00"}],
    )
    assert task.pop("undo_token")  # the create's; GET shows the task alone
    assert task["reminders"] == [{"before": "PT1H"}, {"at": "2027-03-01T17:00:00Z"}]
    assert (await alice_http.get(f"/api/tasks/{task['id']}")).json() == task

    patched = await alice_http.patch(
        f"/api/tasks/{task['id']}", json={"reminders": [{"before": "P1D"}]}
    )
    assert patched.json()["reminders"] == [{"before": "P1D"}]
    cleared = await alice_http.patch(f"/api/tasks/{task['id']}", json={"reminders": None})
    assert cleared.json()["reminders"] == []
    plain = await create_task(alice_http, title="no reminders")
    assert plain["reminders"] == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (
            {"due_time": "2027-03-02T10:00:00Z", "reminders": [{"before": "1h"}]},
            "reminders[0].before",
        ),
        (
            {"due_time": "2027-03-02T10:00:00Z", "reminders": [{"before": "P1M"}]},
            "reminders[0].before",
        ),
        ({"reminders": [{"before": "PT1H"}]}, "reminders[0].before"),
        (
            {"due_time": "2027-03-02T10:00:00Z", "reminders": [{"at": "2027-03-02T11:00:00Z"}]},
            "reminders[0].at",
        ),
        (
            {
                "due_time": "2027-03-02T10:00:00Z",
                "reminders": [{"before": f"PT{n}M"} for n in range(1, 7)],
            },
            "reminders",
        ),
    ],
)
async def test_a_bad_reminder_is_400_naming_the_field(
    alice_http: httpx.AsyncClient, fields: dict[str, object], field: str
) -> None:
    await assert_create_refused(alice_http, fields, field)


async def test_moving_the_due_time_before_a_fixed_reminder_is_400(
    alice_http: httpx.AsyncClient,
) -> None:
    task = await create_task(
        alice_http,
        title="Pay rent",
        due_time="2027-03-02T10:00:00Z",
        reminders=[{"at": "2027-03-02T09:00:00Z"}],
    )
    response = await alice_http.patch(
        f"/api/tasks/{task['id']}", json={"due_time": "2027-03-02T08:00:00Z"}
    )
    body = assert_problem(response, 400)
    assert [e["field"] for e in body["errors"]] == ["reminders[0].at"]


@pytest.mark.parametrize(
    "reminders",
    [
        [{}],
        [{"before": "PT1H", "at": "2027-03-02T09:00:00Z"}],
        [{"at": "2027-03-02T09:00:00"}],  # no offset: ambiguous
        [{"before": "PT1H"}] * 21,
        [{"when": "PT1H"}],
    ],
)
async def test_a_malformed_reminder_body_is_422(
    alice_http: httpx.AsyncClient, reminders: list[dict[str, str]]
) -> None:
    response = await alice_http.post(
        "/api/tasks",
        json={"title": "x", "due_time": "2027-03-02T10:00:00Z", "reminders": reminders},
    )
    assert_problem(response, 422)


async def test_a_due_reminder_arrives_once_on_the_feed(
    edge_service: EdgeHandle, alice: SignedUpUser
) -> None:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    async with (
        edge_service.client(alice.access_token) as http,
        open_feed(http) as feed,
    ):
        task = await create_task(
            http,
            title="Stretch",
            due_time=iso(moment + timedelta(minutes=5)),
            reminders=[{"at": iso(moment)}],
        )
        task.pop("undo_token")
        frame = await feed.next_event("reminder", within=20)
        assert frame.data["type"] == "reminder"
        assert frame.data["task_id"] == task["id"]
        assert frame.data["task"] == task
        assert frame.data["reminder_time"] == iso(moment)
        assert frame.id == frame.data["cursor"]
        # A change after it arrives next: the reminder came once, before it.
        await http.patch(f"/api/tasks/{task['id']}", json={"notes": "after"})
        following = await feed.next_frame(within=20)
        while following.event not in ("task", "reminder"):
            following = await feed.next_frame(within=20)
        assert (following.event, following.data["type"]) == ("task", "task.updated")
