"""preview_bulk_change: selects tasks with list_tasks' filters, changes nothing, and reports the
change it previewed (typed, on ToolCallFinished) for the chat's Confirm card; an action
missing what it needs comes back to the model as an error it can fix."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.agent import ZONE, AskOwnAgent, ask_one_tool_call
from todo_testkit.auth import SignedUpUser
from todo_testkit.tasks import TaskCaller, TasksServiceHandle


async def preview(ask_own_agent: AskOwnAgent, user: Any, **arguments: Any) -> tuple[Any, dict]:
    """One preview_bulk_change call: the tool's event and what it told the model (parsed)."""
    turn = await ask_one_tool_call(
        ask_own_agent,
        user.metadata,
        "bulk",
        "preview_bulk_change",
        arguments,
        reply="Confirm on the card.",
        call_id="p1",
    )
    [finished] = turn.run.finished
    output: dict[str, Any] = json.loads(turn.told_model)
    return finished, output


async def test_a_reschedule_preview_lists_the_matching_tasks_and_changes_nothing(
    ask_own_agent: AskOwnAgent, alice: SignedUpUser, alice_tasks: TaskCaller
) -> None:
    errand = await alice_tasks.create("post letter", tags=["errands"])
    other = await alice_tasks.create("buy stamps", tags=["errands"])
    await alice_tasks.create("write report", tags=["work"])
    done = await alice_tasks.create("old errand", tags=["errands"])
    await alice_tasks.complete(done.id)

    finished, output = await preview(
        ask_own_agent, alice, action="reschedule", tag="#errands", new_due="2031-01-20"
    )

    assert finished.ok
    assert {task.id for task in finished.tasks} == {errand.id, other.id}
    change = finished.bulk_change_preview
    assert change.action == agent_pb.BULK_ACTION_RESCHEDULE
    local = change.due_time.ToDatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(ZONE))
    assert (local.date(), local.hour, local.minute) == (datetime(2031, 1, 20).date(), 23, 59)
    assert not change.truncated
    assert output["changed"] is False
    assert output["preview"] == {"action": "reschedule", "new_due": "2031-01-20T23:59+00:00"}
    assert "Confirm" in output["message"]
    # Nothing changed.
    assert not (await alice_tasks.get(errand.id)).HasField("due_time")


async def test_a_tag_preview_carries_the_cleaned_tags_and_the_query_filter(
    ask_own_agent: AskOwnAgent, alice: SignedUpUser, alice_tasks: TaskCaller
) -> None:
    dentist = await alice_tasks.create("call the dentist")
    await alice_tasks.create("buy milk")

    finished, _ = await preview(
        ask_own_agent,
        alice,
        action="tag",
        query="dentist",
        add_tags=["#Health", "health"],
        remove_tags=["old"],
    )

    assert [task.id for task in finished.tasks] == [dentist.id]
    change = finished.bulk_change_preview
    assert (change.action, list(change.add_tags), list(change.remove_tags)) == (
        agent_pb.BULK_ACTION_TAG,
        ["health"],
        ["old"],
    )
    assert list((await alice_tasks.get(dentist.id)).tags) == []


async def test_an_action_missing_its_arguments_is_an_error_the_model_reads(
    ask_own_agent: AskOwnAgent, sign_up: Any
) -> None:
    user = await sign_up()
    for arguments, words in (
        ({"action": "reschedule"}, "new_due"),
        ({"action": "tag"}, "add_tags"),
        ({"action": "tag", "add_tags": ["a"], "remove_tags": ["a"]}, "both added and removed"),
        ({"action": "reschedule", "new_due": "someday"}, "not a date"),
    ):
        finished, output = await preview(ask_own_agent, user, **arguments)
        assert not finished.ok
        assert not finished.HasField("bulk_change_preview")
        assert output["ok"] is False
        assert words in output["message"]


async def test_no_match_is_an_empty_preview(
    ask_own_agent: AskOwnAgent, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    await TaskCaller(user=user, stub=tasks_service.stub).create("a", priority=pb.TASK_PRIORITY_LOW)
    finished, output = await preview(ask_own_agent, user, action="delete", priority="high")
    assert finished.ok and list(finished.tasks) == []
    assert finished.bulk_change_preview.action == agent_pb.BULK_ACTION_DELETE
    assert "nothing to change" in output["message"]
