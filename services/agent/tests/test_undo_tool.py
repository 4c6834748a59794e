"""`undo_last_change`: the tool the chat's "undo that" calls. It reverts the caller's most
recent change (and only the caller's), reports the change tools' undo tokens in their events,
and tells the model plainly when there is nothing to undo."""

from __future__ import annotations

import json
from typing import Any

from agents.testing import ScriptedModel, assistant_message, function_call
from todo_testkit.agent import AskOwnAgent
from todo_testkit.tasks import TaskCaller, TasksServiceHandle


async def test_undo_last_change_restores_what_delete_task_deleted(
    ask_own_agent: AskOwnAgent, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    tasks = TaskCaller(user=user, stub=tasks_service.stub)
    task = await tasks.create("Pay rent", tags=["home"])
    model = ScriptedModel(
        [
            [function_call("delete_task", {"task_id": task.id}, call_id="c1")],
            [function_call("undo_last_change", {}, call_id="c2")],
            [assistant_message("Pay rent is back.")],
        ]
    )
    run = await ask_own_agent(
        user.metadata, "delete pay rent, no wait, undo that", agent={"custom_model": model}
    )

    deleted, undone = run.finished
    assert deleted.ok and deleted.undo_token
    assert [t.title for t in deleted.deleted_tasks] == ["Pay rent"]
    assert undone.ok and [t.id for t in undone.tasks] == [task.id]
    output = next(i for i in model.calls[2].input if i.get("call_id") == "c2" and "output" in i)
    assert json.loads(output["output"])["tasks"][0]["title"] == "Pay rent"
    assert [(t.id, list(t.tags)) for t in await tasks.list_all()] == [(task.id, ["home"])]


async def test_nothing_to_undo_is_said_plainly_and_another_users_change_is_out_of_reach(
    ask_own_agent: AskOwnAgent, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    alice, bob = await sign_up(), await sign_up()
    alices = TaskCaller(user=alice, stub=tasks_service.stub)
    await alices.create("Alice's task")
    model = ScriptedModel(
        [
            [function_call("undo_last_change", {}, call_id="c1")],
            [assistant_message("There is nothing to undo.")],
        ]
    )
    run = await ask_own_agent(bob.metadata, "undo that", agent={"custom_model": model})

    [finished] = run.finished
    assert finished.ok is False
    assert finished.error_message == "There is no recent change to undo."
    output = next(i for i in model.calls[1].input if i.get("type") == "function_call_output")
    assert json.loads(output["output"])["message"] == "There is no recent change to undo."
    assert [t.title for t in await alices.list_all()] == ["Alice's task"]
