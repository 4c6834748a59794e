"""The assistant's tools speak recurrence: add_task and update_task pass an RRULE read in the
user's time zone (a rule the tasks service refuses: test_add_task_refusals.py)."""

from __future__ import annotations

from todo_testkit.agent import ToolTurnFor
from todo_testkit.tasks import TaskCaller


async def test_add_and_stop_a_repeating_task(
    alice_tool_turn: ToolTurnFor, alice_tasks: TaskCaller
) -> None:
    weekly = {"title": "Team sync", "due": "2031-01-20T09:00", "recurrence": "FREQ=WEEKLY"}
    added = await alice_tool_turn("add team sync every monday at 9", "add_task", weekly)
    [created] = added.run.finished[0].tasks
    assert (created.recurrence, created.time_zone) == ("FREQ=WEEKLY", "Europe/London")
    assert '"recurrence": "FREQ=WEEKLY"' in added.told_model

    stop = {"task_id": created.id, "stop_repeating": True}
    await alice_tool_turn("stop repeating it", "update_task", stop, call_id="c2")
    stored = await alice_tasks.get(created.id)
    assert (stored.recurrence, stored.time_zone) == ("", "")
