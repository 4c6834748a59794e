"""Bad input and faults: validation, missing tokens, other users' ids, the tasks service going
down mid-run, cancellation during a slow tool call, and the run's time limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from agents.testing import ModelStep, ScriptedModel
from todo.agent.v1 import agent_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_common.tokens import REVOCATION_TASK
from todo_testkit.agent import (
    AgentServiceHandle,
    AskOwnAgent,
    respond,
    respond_with_own_agent,
    running_agent_service,
)
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.interceptors import CallGate, CallHook
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TaskCaller, TasksServiceHandle, running_tasks_service
from todo_testkit.waiting import eventually


async def _events(call: Any) -> list[pb.RespondEvent]:
    return [event async for event in call]


# ---------------------------------------------------------------------------------------------
# Validation and authentication.


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"input": ""}, "input"),
        ({"input": "   \n\t "}, "input"),
        ({"input": "x" * 8001}, "input"),
        ({"input": "hi", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"input": "hi", "thread_id": "t" * 129}, "thread_id"),
        (
            {"input": "hi", "history": [pb.ConversationMessage(role=pb.ROLE_USER, text="x")] * 51},
            "history",
        ),
        (
            {
                "input": "hi",
                "history": [pb.ConversationMessage(role=pb.ROLE_USER, text="x" * 8001)],
            },
            "history[0].text",
        ),
        ({"input": "hi", "history": [pb.ConversationMessage(text="no role")]}, "history[0].role"),
        ({"input": "hi", "locale": "not a locale!"}, "locale"),
        ({"input": "hi", "intent": 99}, "intent"),
    ],
    ids=[
        "empty",
        "whitespace",
        "oversized",
        "time-zone",
        "thread-id",
        "history-count",
        "history-text",
        "history-role",
        "locale",
        "intent",
    ],
)
async def test_invalid_requests_are_invalid_argument(
    agent_service: AgentServiceHandle, sign_up: Any, request_fields: dict[str, Any], field: str
) -> None:
    user = await sign_up()
    call = agent_service.stub.Respond(
        pb.RespondRequest(**request_fields), metadata=user.metadata, timeout=10
    )
    info = await expect_rpc_error(_events(call), grpc.StatusCode.INVALID_ARGUMENT)
    assert [v.field for v in info.field_violations] == [field]


async def test_exactly_8000_characters_is_accepted(
    agent_service: AgentServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    run = await respond(agent_service.stub, user.metadata, "help " + "x" * 7995)
    assert run.run_finished is not None


async def test_missing_token_is_unauthenticated(agent_service: AgentServiceHandle) -> None:
    call = agent_service.stub.Respond(pb.RespondRequest(input="list my tasks"), timeout=10)
    info = await expect_rpc_error(_events(call), grpc.StatusCode.UNAUTHENTICATED)
    assert info.reason == "TOKEN_MISSING"


async def test_forged_token_is_unauthenticated(agent_service: AgentServiceHandle) -> None:
    call = agent_service.stub.Respond(
        pb.RespondRequest(input="list my tasks"),
        metadata=(("authorization", "Bearer not.a.token"),),
        timeout=10,
    )
    await expect_rpc_error(_events(call), grpc.StatusCode.UNAUTHENTICATED)


# ---------------------------------------------------------------------------------------------
# Another user's task ids.


async def test_another_users_task_id_is_not_found_and_nothing_leaks(
    agent_service: AgentServiceHandle,
    alice: SignedUpUser,
    bob_tasks: TaskCaller,
) -> None:
    secret = await bob_tasks.create("Bob's secret surprise party")

    for text in (
        f"complete task {secret.id}",
        f"delete task {secret.id}",
        f"show task {secret.id}",
    ):
        run = await respond(agent_service.stub, alice.metadata, text)
        assert len(run.finished) == 1
        assert run.finished[0].ok is False
        assert run.finished[0].tasks == []
        assert "couldn't find that task" in run.reply
        assert "surprise" not in run.reply
        assert run.run_finished is not None

    assert (await bob_tasks.get(secret.id)).state == tasks_pb.TASK_STATE_OPEN


# ---------------------------------------------------------------------------------------------
# The tasks service in trouble.


@pytest.fixture
async def private_tasks(
    auth_service: AuthServiceHandle, tmp_path: Path
) -> AsyncIterator[TasksServiceHandle]:
    """A tasks server this test alone may stop."""
    async with running_tasks_service(tmp_path, auth_service) as handle:
        yield handle


async def test_tasks_service_down_mid_run_is_explained(
    auth_service: AuthServiceHandle, private_tasks: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    await TaskCaller(user=user, stub=private_tasks.stub).create("Buy milk")

    async def stop_before_complete(method: str) -> None:
        if method == "CompleteTask":
            await private_tasks.running.stop(0)

    hook = CallHook(stop_before_complete)
    run = await respond_with_own_agent(
        auth_service,
        private_tasks.address,
        user.metadata,
        "mark the milk one done",
        agent={"tasks_interceptors": [hook]},
    )

    assert hook.methods == ["ListTasks", "CompleteTask"]
    assert [f.ok for f in run.finished] == [True, False]
    assert "can't reach your task list" in run.reply
    assert run.events[-1].WhichOneof("event") == "run_finished"
    assert run.events[-2].WhichOneof("event") == "message_done"


async def test_tasks_service_unreachable_from_the_start(
    auth_service: AuthServiceHandle, sign_up: Any, unused_tcp_port: int
) -> None:
    user = await sign_up()
    run = await respond_with_own_agent(
        auth_service, f"127.0.0.1:{unused_tcp_port}", user.metadata, "add buy milk"
    )
    assert run.finished[0].ok is False
    assert "can't reach your task list" in run.reply
    assert run.run_finished is not None


# ---------------------------------------------------------------------------------------------
# Cancellation and time limits.


def _idle_grpc_server_task(task: asyncio.Task[Any]) -> bool:
    """gRPC's server keeps one task waiting for the next call; it is not work of a run."""
    return any(f.f_code.co_name == "_request_registered_call" for f in task.get_stack())


async def _tasks_once_following(agent: Any, user: SignedUpUser) -> set[asyncio.Task[Any]]:
    """The process's tasks once the agent's token verifier follows the auth server's revocation
    watch (which lasts the service's whole life): a first verified call, refused for its empty
    input, starts it, and the in-process auth server then serves one more watch stream."""

    def watch_streams() -> int:
        return sum(t.get_name().endswith("/WatchRevokedSessions]") for t in asyncio.all_tasks())

    served = watch_streams()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in agent.stub.Respond(pb.RespondRequest(), metadata=user.metadata, timeout=5):
            pass
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    await eventually(lambda: watch_streams() > served, what="the agent following revocations")
    return set(asyncio.all_tasks())


def _sdk_consumer_waiter(task: asyncio.Task[Any]) -> bool:
    """The Agents SDK's `RunResultStreaming._wait_for_turn_event_consumption` waits on its
    consumers with a bare `Event.wait()` task; after a run is cut by the wall-clock cap that
    waiter is sometimes left pending (seen about 1 run in 10 under load; the SDK's own
    clean-up, not a task of ours). Known and noted; everything this service starts must end."""
    coro = task.get_coro()
    return getattr(coro, "__qualname__", "") == "Event.wait"


def _run_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks started since `before` that are still running (the test's own excepted, and the
    token verifier's revocation follower, which `_tasks_once_following` waits for)."""
    current = asyncio.current_task()
    return {
        t
        for t in asyncio.all_tasks()
        if t not in before
        and t is not current
        and not t.done()
        and not _idle_grpc_server_task(t)
        and not _sdk_consumer_waiter(t)
        and t.get_name() != REVOCATION_TASK
    }


async def test_cancel_during_slow_tool_call_stops_everything(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    alice: SignedUpUser,
    alice_tasks: TaskCaller,
) -> None:
    milk = await alice_tasks.create("Buy milk")
    lookup = CallGate("ListTasks")
    hook = CallHook(lookup)
    async with running_agent_service(
        auth_service, tasks_service.address, tasks_interceptors=[hook]
    ) as agent:
        before = await _tasks_once_following(agent, alice)
        call = agent.stub.Respond(
            pb.RespondRequest(input="mark the milk one done"), metadata=alice.metadata, timeout=20
        )
        seen: list[str] = []
        started = asyncio.Event()

        async def read() -> None:
            async for event in call:
                seen.append(event.WhichOneof("event"))
                if seen[-1] == "tool_call_started":
                    started.set()

        reader = asyncio.create_task(read())
        await asyncio.wait_for(asyncio.gather(lookup.entered.wait(), started.wait()), 10)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        # Everything the run started winds down: the SDK's run task, the tool task and the
        # interceptor's wait (cancelled, not released).
        await eventually(lambda: not _run_tasks(before), what="the run's tasks to end")
        assert lookup.abandoned.is_set()

    assert seen == ["run_started", "tool_call_started"]
    assert hook.methods == ["ListTasks"]
    assert (await alice_tasks.get(milk.id)).state == tasks_pb.TASK_STATE_OPEN


def _stuck_model(entered: asyncio.Event) -> ScriptedModel:
    async def never(_call: Any) -> ModelStep:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return ScriptedModel([ModelStep.respond(never)])


async def test_wall_clock_cap_fails_the_run_with_limit_exceeded(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    entered = asyncio.Event()
    async with running_agent_service(
        auth_service,
        tasks_service.address,
        custom_model=_stuck_model(entered),
        run_timeout_seconds=0.5,
    ) as agent:
        before = await _tasks_once_following(agent, user)
        run = await respond(agent.stub, user.metadata, "list my tasks")
        await eventually(lambda: not _run_tasks(before), what="the run's tasks to end")
    assert entered.is_set()
    assert run.run_failed == pb.RunFailed(
        code=pb.FAILURE_CODE_LIMIT_EXCEEDED,
        message="The assistant took too long to answer and was stopped.",
        retryable=True,
    )


async def test_caller_deadline_is_honoured(ask_own_agent: AskOwnAgent, sign_up: Any) -> None:
    user = await sign_up()
    entered = asyncio.Event()
    run = await ask_own_agent(
        user.metadata,
        "list my tasks",
        deadline_seconds=1.5,
        agent={"custom_model": _stuck_model(entered)},
    )
    assert run.run_failed is not None
    assert run.run_failed.code == pb.FAILURE_CODE_LIMIT_EXCEEDED
    assert "deadline" in run.run_failed.message


async def test_a_slow_tool_call_hits_its_own_cap_and_is_explained(
    ask_own_agent: AskOwnAgent, sign_up: Any
) -> None:
    """Each tasks call gets min(remaining run time, per-call cap); a call over the cap fails
    as a tool error the assistant explains, and the run still ends normally."""
    user = await sign_up()
    lookup = CallGate("ListTasks")
    run = await ask_own_agent(
        user.metadata,
        "list my tasks",
        agent={"tasks_interceptors": [CallHook(lookup)], "tool_timeout_seconds": 0.3},
    )
    assert lookup.abandoned.is_set()
    assert [(f.name, f.ok, f.error_message) for f in run.finished] == [
        ("list_tasks", False, "The task list did not answer in time.")
    ]
    assert "didn't answer in time" in run.reply
    assert run.run_finished is not None
