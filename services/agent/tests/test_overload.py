"""Overload: past `max_concurrent_turns` running turns, a new Respond is refused at once with
RESOURCE_EXHAUSTED (reason AGENT_BUSY, a retry hint) and no event, the running turns are not
disturbed, and a turn is accepted again as soon as one ends."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from agents.testing import ModelStep, ScriptedModel, assistant_message
from todo.agent.v1 import agent_service_pb2 as pb
from todo_testkit.agent import respond, running_agent_service
from todo_testkit.auth import AuthServiceHandle
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TasksServiceHandle
from todo_testkit.waiting import eventually


async def test_turns_past_the_limit_are_refused_at_once_with_a_retry_hint(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    release = asyncio.Event()
    entered = 0

    async def held(_call: Any) -> ModelStep:
        nonlocal entered
        entered += 1
        await release.wait()
        return ModelStep(output=[assistant_message("held reply")])

    model = ScriptedModel(
        [
            ModelStep.respond(held),
            ModelStep.respond(held),
            ModelStep(output=[assistant_message("after the others")]),
        ]
    )
    async with running_agent_service(
        auth_service,
        tasks_service.address,
        custom_model=model,
        max_concurrent_turns=2,
        busy_retry_after_seconds=3.0,
    ) as agent:
        running = [
            asyncio.ensure_future(respond(agent.stub, user.metadata, f"turn {i}")) for i in (1, 2)
        ]
        await eventually(lambda: entered == 2, what="two turns to be in the model")

        events: list[pb.RespondEvent] = []

        async def third() -> None:
            call = agent.stub.Respond(
                pb.RespondRequest(input="one too many"), metadata=user.metadata, timeout=10
            )
            async for event in call:
                events.append(event)

        refused = await expect_rpc_error(third(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        assert refused.reason == "AGENT_BUSY"
        assert refused.retry_after_seconds == 3.0
        assert refused.message.endswith("Please try again in a moment.")
        assert events == []
        assert not any(task.done() for task in running)

        release.set()
        for run in await asyncio.gather(*running):
            assert run.messages == ["held reply"]
            assert run.run_finished is not None
        # Capacity is back once the running turns have ended.
        after = await respond(agent.stub, user.metadata, "and now?")
        assert after.messages == ["after the others"]
