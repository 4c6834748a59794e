"""Repeating tasks over REST: `recurrence` and `time_zone` in, `repeats` and `next_task` out,
a bad rule a 400 naming the field."""

from __future__ import annotations

import httpx
import pytest
from todo_edge.recurrence import describe_recurrence
from todo_testkit.edge import assert_problem
from todo_testkit.rest import assert_create_refused, create_task


async def test_a_weekly_task_comes_back_after_completion(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(
        alice_http,
        title="Team sync",
        due_time="2027-03-22T09:00:00Z",
        recurrence="FREQ=WEEKLY;BYDAY=MO",
        time_zone="Europe/London",
    )
    assert task["recurrence"] == "FREQ=WEEKLY;BYDAY=MO"
    assert task["time_zone"] == "Europe/London"
    assert task["repeats"] == "repeats weekly on Mon"
    assert task["previous_occurrence_id"] is None

    done = await alice_http.post(f"/api/tasks/{task['id']}/complete")
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["state"] == "completed"
    assert done.headers["etag"] == f'"{body["etag"]}"'
    following = body["next_task"]
    # 09:00 in London after the clocks went forward is 08:00 UTC.
    assert following["due_time"] == "2027-03-29T08:00:00Z"
    assert following["previous_occurrence_id"] == task["id"]
    assert following["repeats"] == "repeats weekly on Mon"

    again = await alice_http.post(f"/api/tasks/{task['id']}/complete")
    assert again.json()["next_task"]["id"] == following["id"]
    listed = (await alice_http.get("/api/tasks", params={"state": "open"})).json()["tasks"]
    assert [t["id"] for t in listed] == [following["id"]]


async def test_recurrence_is_patched_and_cleared_with_null(alice_http: httpx.AsyncClient) -> None:
    task = await create_task(alice_http, title="gym")
    assert (task["recurrence"], task["repeats"]) == (None, None)
    patched = await alice_http.patch(
        f"/api/tasks/{task['id']}", json={"recurrence": "FREQ=DAILY;INTERVAL=2"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["repeats"] == "repeats every 2 days"
    assert patched.json()["due_time"] is not None  # a repeating task is always due
    cleared = await alice_http.patch(f"/api/tasks/{task['id']}", json={"recurrence": None})
    assert cleared.json()["recurrence"] is None
    done = await alice_http.post(f"/api/tasks/{task['id']}/complete")
    assert done.json()["next_task"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"recurrence": "FREQ=FORTNIGHTLY"}, "recurrence"),
        ({"recurrence": "FREQ=MINUTELY"}, "recurrence"),
        ({"recurrence": "every monday"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY", "time_zone": "Nowhere/Land"}, "time_zone"),
    ],
)
async def test_a_bad_rule_or_zone_is_400_naming_the_field(
    alice_http: httpx.AsyncClient, fields: dict[str, str], field: str
) -> None:
    await assert_create_refused(alice_http, fields, field)


async def test_an_oversized_rule_is_422(alice_http: httpx.AsyncClient) -> None:
    response = await alice_http.post(
        "/api/tasks", json={"title": "x", "recurrence": "FREQ=DAILY;" + "X" * 500}
    )
    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("", None),
        ("FREQ=DAILY", "repeats daily"),
        ("FREQ=WEEKLY", "repeats weekly"),
        ("FREQ=WEEKLY;INTERVAL=2", "repeats every 2 weeks"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "repeats on weekdays"),
        ("FREQ=WEEKLY;BYDAY=MO,WE", "repeats weekly on Mon, Wed"),
        ("FREQ=MONTHLY;BYMONTHDAY=15", "repeats monthly on day 15"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "repeats monthly on last Fri"),
        ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1", "repeats yearly on day 1 in Mar"),
        ("FREQ=DAILY;COUNT=5", "repeats daily, 5 times"),
        ("FREQ=DAILY;UNTIL=20271231T235959Z", "repeats daily, until 31 Dec 2027"),
    ],
)
def test_rules_read_like_people_say_them(rule: str, text: str | None) -> None:
    assert describe_recurrence(rule) == text
