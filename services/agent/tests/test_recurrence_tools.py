"""The assistant's tools speak recurrence: add_task and update_task pass an RRULE read in the
user's time zone, and a rule the tasks service refuses comes back to the model as an error."""

from __future__ import annotations

from typing import Any

from agents.testing import ScriptedModel, assistant_message, function_call
from todo_testkit.agent import AskOwnAgent
from todo_testkit.tasks import TaskCaller, TasksServiceHandle


async def test_add_and_stop_a_repeating_task(
    ask_own_agent: AskOwnAgent, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    model = ScriptedModel(
        [
            [
                function_call(
                    "add_task",
                    {"title": "Team sync", "due": "2031-01-20T09:00", "recurrence": "FREQ=WEEKLY"},
                    call_id="c1",
                )
            ],
            [assistant_message("Added.")],
        ]
    )
    run = await ask_own_agent(
        user.metadata, "add team sync every monday at 9", agent={"custom_model": model}
    )
    model.assert_complete()
    [created] = run.finished[0].tasks
    assert (created.recurrence, created.time_zone) == ("FREQ=WEEKLY", "Europe/London")
    output = next(i for i in model.calls[1].input if i.get("type") == "function_call_output")
    assert '"recurrence": "FREQ=WEEKLY"' in output["output"]

    model = ScriptedModel(
        [
            [
                function_call(
                    "update_task", {"task_id": created.id, "stop_repeating": True}, call_id="c2"
                )
            ],
            [assistant_message("It no longer repeats.")],
        ]
    )
    await ask_own_agent(user.metadata, "stop repeating it", agent={"custom_model": model})
    stored = await TaskCaller(user=user, stub=tasks_service.stub).get(created.id)
    assert (stored.recurrence, stored.time_zone) == ("", "")


async def test_a_rule_the_service_refuses_is_reported_to_the_model(
    ask_own_agent: AskOwnAgent, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    model = ScriptedModel(
        [
            [
                function_call(
                    "add_task", {"title": "x", "recurrence": "FREQ=SECONDLY"}, call_id="c3"
                )
            ],
            [assistant_message("That rule does not work.")],
        ]
    )
    run = await ask_own_agent(user.metadata, "add x every second", agent={"custom_model": model})
    assert run.finished[0].ok is False
    output = next(i for i in model.calls[1].input if i.get("type") == "function_call_output")
    assert "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY" in output["output"]
    assert await TaskCaller(user=user, stub=tasks_service.stub).list_all() == []
