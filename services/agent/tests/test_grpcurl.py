"""Respond through the real grpcurl binary: server reflection, a bearer token in a header, and
the event stream as grpcurl prints it (one JSON object per event)."""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

import pytest
from todo_testkit.agent import AgentServiceHandle

GRPCURL = shutil.which("grpcurl")


def _json_documents(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    documents, index = [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents


async def _grpcurl(*args: str) -> tuple[int, str, str]:
    assert GRPCURL is not None
    process = await asyncio.create_subprocess_exec(
        GRPCURL, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, stdout.decode(), stderr.decode()


@pytest.mark.skipif(GRPCURL is None, reason="grpcurl is not installed (dev dependency)")
async def test_respond_through_grpcurl(agent_service: AgentServiceHandle, sign_up: Any) -> None:
    user = await sign_up()
    code, stdout, stderr = await _grpcurl(
        "-plaintext",
        "-H",
        f"authorization: Bearer {user.access_token}",
        "-d",
        json.dumps({"input": "add buy milk tomorrow #groceries", "time_zone": "Europe/London"}),
        agent_service.address,
        "todo.agent.v1.AgentService/Respond",
    )
    assert code == 0, stderr
    events = _json_documents(stdout)
    kinds = [next(iter(event)) for event in events]
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


@pytest.mark.skipif(GRPCURL is None, reason="grpcurl is not installed (dev dependency)")
async def test_grpcurl_without_a_token_is_unauthenticated(
    agent_service: AgentServiceHandle,
) -> None:
    code, _, stderr = await _grpcurl(
        "-plaintext",
        "-d",
        '{"input": "list my tasks"}',
        agent_service.address,
        "todo.agent.v1.AgentService/Respond",
    )
    assert code != 0
    assert "Unauthenticated" in stderr


@pytest.mark.skipif(GRPCURL is None, reason="grpcurl is not installed (dev dependency)")
async def test_reflection_describes_the_service(agent_service: AgentServiceHandle) -> None:
    code, stdout, stderr = await _grpcurl(
        "-plaintext", agent_service.address, "describe", "todo.agent.v1.AgentService"
    )
    assert code == 0, stderr
    assert (
        "rpc Respond ( .todo.agent.v1.RespondRequest ) returns ( stream .todo.agent.v1.RespondEvent )"
        in stdout
    )
