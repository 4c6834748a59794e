"""Respond through the real grpcurl binary: server reflection, a bearer token in a header, and
the event stream as grpcurl prints it (one JSON object per event)."""

from __future__ import annotations

import json
from typing import Any

from todo_testkit.agent import AgentServiceHandle
from todo_testkit.grpcurl import grpcurl, json_documents, run_grpcurl


async def test_respond_through_grpcurl(agent_service: AgentServiceHandle, sign_up: Any) -> None:
    user = await sign_up()
    stdout = await grpcurl(
        "-H",
        f"authorization: Bearer {user.access_token}",
        "-d",
        json.dumps({"input": "add buy milk tomorrow #groceries", "time_zone": "Europe/London"}),
        agent_service.address,
        "todo.agent.v1.AgentService/Respond",
    )
    events = json_documents(stdout)
    kinds = [next(iter(event)) for event in events]
    # The run says which model answers, first.
    assert events[0] == {"run_started": {"model": "offline", "offline": True}}
    events, kinds = events[1:], kinds[1:]
    assert kinds[0] == "tool_call_started"
    assert events[0]["tool_call_started"]["name"] == "add_task"
    assert kinds[1] == "tool_call_finished"
    finished = events[1]["tool_call_finished"]
    assert finished["ok"] is True
    assert finished["tasks"][0]["title"] == "Buy milk"
    assert finished["tasks"][0]["tags"] == ["groceries"]
    assert kinds[2] == "message_started"
    assert "text_delta" in kinds
    assert kinds[-2:] == ["message_done", "run_finished"]
    assert events[-2]["message_done"]["text"].startswith("Added Buy milk")


async def test_grpcurl_without_a_token_is_unauthenticated(
    agent_service: AgentServiceHandle,
) -> None:
    refused = await run_grpcurl(
        "-d",
        '{"input": "list my tasks"}',
        agent_service.address,
        "todo.agent.v1.AgentService/Respond",
    )
    assert refused.returncode != 0
    assert "Unauthenticated" in refused.stderr


async def test_reflection_describes_the_service(agent_service: AgentServiceHandle) -> None:
    stdout = await grpcurl(agent_service.address, "describe", "todo.agent.v1.AgentService")
    assert (
        "rpc Respond ( .todo.agent.v1.RespondRequest ) returns ( stream .todo.agent.v1.RespondEvent )"
        in stdout
    )
