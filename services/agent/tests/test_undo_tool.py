"""`undo_last_change`: the tool the chat's "undo that" calls. It reverts the caller's most
recent change (and only the caller's), reports the change tools' undo tokens in their events,
and tells the model plainly when there is nothing to undo."""

from __future__ import annotations

import json

from agents.testing import ScriptedModel, assistant_message, function_call
from todo_testkit.agent import AskOwnAgent, ask_one_tool_call
from todo_testkit.auth import SignedUpUser
from todo_testkit.tasks import TaskCaller


async def test_undo_last_change_restores_what_delete_task_deleted(
    ask_own_agent: AskOwnAgent, alice: SignedUpUser, alice_tasks: TaskCaller
) -> None:
    task = await alice_tasks.create("Pay rent", tags=["home"])
    model = ScriptedModel(
        [
            [function_call("delete_task", {"task_id": task.id}, call_id="c1")],
            [function_call("undo_last_change", {}, call_id="c2")],
            [assistant_message("Pay rent is back.")],
        ]
    )
    run = await ask_own_agent(
        alice.metadata, "delete pay rent, no wait, undo that", agent={"custom_model": model}
    )

    deleted, undone = run.finished
    assert deleted.ok and deleted.undo_token
    assert [t.title for t in deleted.deleted_tasks] == ["Pay rent"]
    assert undone.ok and [t.id for t in undone.tasks] == [task.id]
    output = next(i for i in model.calls[2].input if i.get("call_id") == "c2" and "output" in i)
    assert json.loads(output["output"])["tasks"][0]["title"] == "Pay rent"
    assert [(t.id, list(t.tags)) for t in await alice_tasks.list_all()] == [(task.id, ["home"])]


async def test_nothing_to_undo_is_said_plainly_and_another_users_change_is_out_of_reach(
    ask_own_agent: AskOwnAgent, alice_tasks: TaskCaller, bob: SignedUpUser
) -> None:
    await alice_tasks.create("Alice's task")
    turn = await ask_one_tool_call(
        ask_own_agent,
        bob.metadata,
        "undo that",
        "undo_last_change",
        {},
        reply="There is nothing to undo.",
    )

    [finished] = turn.run.finished
    assert finished.ok is False
    assert finished.error_message == "There is no recent change to undo."
    assert json.loads(turn.told_model)["message"] == "There is no recent change to undo."
    assert [t.title for t in await alice_tasks.list_all()] == ["Alice's task"]
