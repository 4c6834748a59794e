"""The assistant's tools speak reminders: add_task and update_task take `remind_before` ("1h",
"30m", ISO "PT1H"), update_task removes them with `no_reminders`, and a duration the tool or
the tasks service refuses comes back to the model as an error."""

from __future__ import annotations

from typing import Any

import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_agent.tools import ToolInputError, remind_before_duration
from todo_testkit.agent import AskOwnAgent
from todo_testkit.tasks import TaskCaller, TasksServiceHandle


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


def _output(model: ScriptedModel) -> str:
    output = next(i for i in model.calls[1].input if i.get("type") == "function_call_output")
    return str(output["output"])


async def test_add_a_reminder_then_change_and_remove_it(
    ask_own_agent: AskOwnAgent, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    tasks = TaskCaller(user=user, stub=tasks_service.stub)
    model = ScriptedModel(
        [
            [
                function_call(
                    "add_task",
                    {"title": "Dentist", "due": "2031-01-20T09:00", "remind_before": "1h"},
                    call_id="c1",
                )
            ],
            [assistant_message("Added, with a reminder an hour before.")],
        ]
    )
    run = await ask_own_agent(
        user.metadata,
        "add dentist at 9 on jan 20, remind me an hour before",
        agent={"custom_model": model},
    )
    [created] = run.finished[0].tasks
    assert list(created.reminders) == [pb.Reminder(before="PT1H")]
    assert '"remind_before": ["PT1H"]' in _output(model)

    for arguments, expected in (
        ({"remind_before": "30m"}, [pb.Reminder(before="PT30M")]),
        ({"no_reminders": True}, []),
    ):
        model = ScriptedModel(
            [
                [function_call("update_task", {"task_id": created.id, **arguments}, call_id="c")],
                [assistant_message("Done.")],
            ]
        )
        await ask_own_agent(user.metadata, "change the reminder", agent={"custom_model": model})
        assert list((await tasks.get(created.id)).reminders) == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"due": "2031-01-20T09:00", "remind_before": "soon"}, "is not a duration"),
        ({"remind_before": "1h"}, "needs a due time"),
        ({"due": "2031-01-20T09:00", "remind_before": "P2Y"}, "years and months"),
    ],
)
async def test_a_reminder_that_cannot_be_set_is_reported_to_the_model(
    ask_own_agent: AskOwnAgent,
    tasks_service: TasksServiceHandle,
    sign_up: Any,
    arguments: dict[str, str],
    message: str,
) -> None:
    user = await sign_up()
    model = ScriptedModel(
        [
            [function_call("add_task", {"title": "x", **arguments}, call_id="c1")],
            [assistant_message("That reminder does not work.")],
        ]
    )
    run = await ask_own_agent(user.metadata, "add x", agent={"custom_model": model})
    assert run.finished[0].ok is False
    assert message in _output(model)
    assert await TaskCaller(user=user, stub=tasks_service.stub).list_all() == []
