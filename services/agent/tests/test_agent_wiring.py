"""Agent wiring with `agents.testing.ScriptedModel`: what the model is offered (tools,
handoff, instructions with the user's clock), what it receives back, the turn limit, the
handoff events, and that identity never comes from the model."""

from __future__ import annotations

import json
from typing import Any

from agents.testing import ScriptedModel, assistant_message, function_call
from todo.agent.v1 import agent_service_pb2 as pb
from todo_testkit.agent import (
    FIXED_NOW,
    AskOwnAgent,
    fixed_clock,
)
from todo_testkit.auth import SignedUpUser
from todo_testkit.tasks import TaskCaller, TasksServiceHandle

TOOLS = {
    "add_task",
    "list_tasks",
    "search_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "reopen_task",
    "delete_task",
    "undo_last_change",
}


async def test_model_sees_tools_handoff_clock_and_tool_results(
    ask_own_agent: AskOwnAgent, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    await TaskCaller(user=user, stub=tasks_service.stub).create("Buy milk")
    model = ScriptedModel(
        [
            [function_call("list_tasks", {"state": "open"}, call_id="call_1")],
            [assistant_message("You have one open task: Buy milk.")],
        ]
    )
    run = await ask_own_agent(
        user.metadata,
        "what's on my list?",
        history=[("user", "hi"), ("assistant", "Hello! How can I help?")],
        locale="en-GB",
        agent={"custom_model": model, "clock": fixed_clock},
    )
    model.assert_complete()

    first, second = model.calls
    assert {tool.name for tool in first.tools} == TOOLS
    assert [h.tool_name for h in first.handoffs] == ["transfer_to_urdu_assistant"]
    assert first.system_instructions is not None
    assert (
        f"Current local time: {FIXED_NOW.isoformat(timespec='minutes')}"
        in first.system_instructions
    )
    assert "Europe/London" in first.system_instructions
    assert "preferred language (BCP 47): en-GB" in first.system_instructions
    assert first.streamed is True
    assert [(i["role"], i["content"]) for i in first.input] == [
        ("user", "hi"),
        ("assistant", "Hello! How can I help?"),
        ("user", "what's on my list?"),
    ]
    output = next(i for i in second.input if i.get("type") == "function_call_output")
    assert output["call_id"] == "call_1"
    assert [t["title"] for t in json.loads(output["output"])["tasks"]] == ["Buy milk"]

    assert run.calls == [("list_tasks", {"state": "open"})]
    assert [t.title for t in run.finished[0].tasks] == ["Buy milk"]
    assert run.messages == ["You have one open task: Buy milk."]
    assert run.run_finished == pb.RunFinished(
        usage=pb.Usage(requests=2), turns=2, last_agent="Todo Assistant"
    )


async def test_model_cannot_choose_the_user(
    ask_own_agent: AskOwnAgent,
    tasks_service: TasksServiceHandle,
    alice: SignedUpUser,
    bob: SignedUpUser,
) -> None:
    """A model that tries to act for someone else (an extra user_id argument, or another
    user's task id) only ever reaches the caller's own tasks."""
    bobs = TaskCaller(user=bob, stub=tasks_service.stub)
    bob_task = await bobs.create("Bob's task")
    model = ScriptedModel(
        [
            [
                function_call(
                    "add_task", {"title": "Injected", "user_id": bob.user_id}, call_id="c1"
                ),
                function_call("delete_task", {"task_id": bob_task.id}, call_id="c2"),
            ],
            [assistant_message("Done.")],
        ]
    )
    run = await ask_own_agent(alice.metadata, "do it", agent={"custom_model": model})

    assert [t.title for t in await bobs.list_all()] == ["Bob's task"]
    by_name = {f.name: f for f in run.finished}
    assert by_name["delete_task"].ok is False
    assert by_name["delete_task"].deleted_task_ids == []
    alices = [t.title for t in await TaskCaller(user=alice, stub=tasks_service.stub).list_all()]
    # The extra argument is ignored: identity comes from the token, so the task is Alice's.
    assert alices == ["Injected"]
    assert by_name["delete_task"].error_message == "No task with that id exists in your list."
    assert run.run_finished is not None


async def test_turn_limit_fails_the_run(ask_own_agent: AskOwnAgent, sign_up: Any) -> None:
    user = await sign_up()
    loop_forever = [[function_call("list_tasks", {}, call_id=f"c{i}")] for i in range(12)]
    model = ScriptedModel(loop_forever)
    run = await ask_own_agent(
        user.metadata,
        "list my tasks forever",
        agent={"custom_model": model, "max_turns": 3},
    )
    assert len(model.calls) == 3
    assert run.run_failed is not None
    assert run.run_failed.code == pb.FAILURE_CODE_LIMIT_EXCEEDED
    assert run.run_failed.retryable is False


async def test_default_turn_limit_is_ten(ask_own_agent: AskOwnAgent, sign_up: Any) -> None:
    user = await sign_up()
    model = ScriptedModel([[function_call("list_tasks", {}, call_id=f"c{i}")] for i in range(12)])
    run = await ask_own_agent(
        user.metadata,
        "list my tasks forever",
        agent={"custom_model": model},
    )
    assert len(model.calls) == 10
    assert run.run_failed is not None
    assert run.run_failed.code == pb.FAILURE_CODE_LIMIT_EXCEEDED


async def test_handoff_is_reported_and_the_specialist_speaks(
    ask_own_agent: AskOwnAgent, sign_up: Any
) -> None:
    user = await sign_up()
    model = ScriptedModel(
        [
            [function_call("transfer_to_urdu_assistant", {}, call_id="h1")],
            [assistant_message("جی، میں مدد کر سکتا ہوں")],
        ]
    )
    run = await ask_own_agent(
        user.metadata,
        "السلام علیکم",
        agent={"custom_model": model},
    )
    second = model.calls[1]
    assert second.system_instructions is not None
    assert "Urdu Assistant" in second.system_instructions
    assert [(h.from_agent, h.to_agent) for h in run.handoffs] == [
        ("Todo Assistant", "Urdu Assistant")
    ]
    started = [e.message_started for e in run.events if e.WhichOneof("event") == "message_started"]
    assert [s.agent_name for s in started] == ["Urdu Assistant"]
    assert run.calls == []  # a handoff is not a tool call
    assert run.run_finished is not None and run.run_finished.last_agent == "Urdu Assistant"
