"""add_task arguments that the tool or the tasks service refuses — a recurrence rule, a reminder
duration — come back to the model as an error it can read and fix, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from todo_testkit.agent import ToolTurnFor
from todo_testkit.tasks import TaskCaller


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # The tasks service refuses the rule.
        ({"recurrence": "FREQ=SECONDLY"}, "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
        # The tool refuses the reminder, or the tasks service does.
        ({"due": "2031-01-20T09:00", "remind_before": "soon"}, "is not a duration"),
        ({"remind_before": "1h"}, "needs a due time"),
        ({"due": "2031-01-20T09:00", "remind_before": "P2Y"}, "years and months"),
    ],
)
async def test_an_add_that_cannot_be_done_is_reported_to_the_model(
    alice_tool_turn: ToolTurnFor,
    alice_tasks: TaskCaller,
    arguments: dict[str, Any],
    message: str,
) -> None:
    refused = await alice_tool_turn(
        "add x", "add_task", {"title": "x", **arguments}, reply="That does not work."
    )
    assert refused.run.finished[0].ok is False
    assert message in refused.told_model
    assert await alice_tasks.list_all() == []
