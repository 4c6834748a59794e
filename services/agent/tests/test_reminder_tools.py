"""The assistant's tools speak reminders: add_task and update_task take `remind_before` ("1h",
"30m", ISO "PT1H"), and update_task removes them with `no_reminders` (a duration the tool or
the tasks service refuses: test_add_task_refusals.py)."""

from __future__ import annotations

import pytest
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_agent.tools import ToolInputError, remind_before_duration
from todo_testkit.agent import ToolTurnFor
from todo_testkit.tasks import TaskCaller


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("1h", "PT1H"),
        ("30m", "PT30M"),
        ("1h30m", "PT1H30M"),
        ("2d", "P2D"),
        ("1w", "P1W"),
        ("1d 2h", "P1DT2H"),
        ("0m", "PT0S"),
        ("PT1H", "PT1H"),
        ("pt45m", "PT45M"),
    ],
)
def test_remind_before_takes_short_and_iso_durations(text: str, iso: str) -> None:
    assert remind_before_duration(text) == iso


@pytest.mark.parametrize("text", ["", "soon", "1 hour", "h1", "30m1h", "-1h"])
def test_remind_before_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ToolInputError):
        remind_before_duration(text)


async def test_add_a_reminder_then_change_and_remove_it(
    alice_tool_turn: ToolTurnFor, alice_tasks: TaskCaller
) -> None:
    dentist = {"title": "Dentist", "due": "2031-01-20T09:00", "remind_before": "1h"}
    added = await alice_tool_turn(
        "add dentist at 9 on jan 20, remind me an hour before", "add_task", dentist
    )
    [created] = added.run.finished[0].tasks
    assert list(created.reminders) == [pb.Reminder(before="PT1H")]
    assert '"remind_before": ["PT1H"]' in added.told_model

    for arguments, expected in (
        ({"remind_before": "30m"}, [pb.Reminder(before="PT30M")]),
        ({"no_reminders": True}, []),
    ):
        update = {"task_id": created.id, **arguments}
        await alice_tool_turn("change the reminder", "update_task", update, call_id="c")
        assert list((await alice_tasks.get(created.id)).reminders) == expected
