"""Agent fixtures: a real agent server on a free port, calling the module's real tasks server
and verifying tokens against the module's real auth server.

    async def test_something(agent_service, sign_up):
        alice = await sign_up()
        events = await collect(agent_service.stub.Respond(
            RespondRequest(input="add buy milk"), metadata=alice.metadata, timeout=10))

`running_agent_service` starts extra servers with other settings (a scripted model, a fixed
clock, a tasks address that is down, interceptors on the tasks channel) for fault tests.
`respond` makes one call and sorts its events into a `Run` (calls, messages, handoffs, end).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from todo.agent.v1 import agent_service_pb2 as pb
from todo.agent.v1 import agent_service_pb2_grpc
from todo_agent.settings import AgentSettings

from todo_testkit.auth import AuthServiceHandle
from todo_testkit.servers import ServerHandle, fixture_settings, serving
from todo_testkit.tasks import TasksServiceHandle, token_settings_for

if TYPE_CHECKING:
    # The Agents SDK takes seconds to import; only suites that start an agent pay for it.
    from agents import Agent
    from agents.models.interface import Model
    from agents.testing import ModelStep
    from todo_agent.service import Clock


@dataclass
class AgentServiceHandle(
    ServerHandle[AgentSettings, "agent_service_pb2_grpc.AgentServiceAsyncStub"]
):
    """A running agent server, its settings, and a channel + stub to it."""


def agent_test_settings(tasks_address: str, **overrides: Any) -> AgentSettings:
    """Settings for a test server: port 0, the offline model, the given tasks address."""
    return fixture_settings(
        AgentSettings, **({"tasks_address": tasks_address, "model": "offline"} | overrides)
    )


@asynccontextmanager
async def running_agent_service(
    auth: AuthServiceHandle,
    tasks_address: str,
    *,
    custom_model: Model | None = None,
    clock: Clock | None = None,
    tasks_interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    agent: Agent[Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[AgentServiceHandle]:
    """Starts an agent server and stops it after. `overrides` are AgentSettings fields
    (`model="gpt-4o-mini"` names a model); `custom_model` replaces the model object itself
    (e.g. an `agents.testing.ScriptedModel`); `agent` replaces the assistant's agents."""
    from todo_agent.server import start_agent_server

    settings = agent_test_settings(tasks_address, **overrides)
    options: dict[str, Any] = {
        "model": custom_model,
        "tasks_interceptors": tasks_interceptors,
        "agent": agent,
    }
    if clock is not None:
        options["clock"] = clock
    running = await start_agent_server(settings, token_settings_for(auth), **options)
    async with serving(
        running, AgentServiceHandle, agent_service_pb2_grpc.AgentServiceStub, settings=settings
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
async def agent_service(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle
) -> AsyncIterator[AgentServiceHandle]:
    """A real agent server for the module (offline model), calling the module's
    `tasks_service` and trusting the module's `auth_service`."""
    async with running_agent_service(auth_service, tasks_service.address) as handle:
        yield handle


def scripted_reply(text: str) -> ModelStep:
    """A `ScriptedModel` step: one model turn that answers `text` (no tool call)."""
    from agents.testing import ModelStep, assistant_message

    return ModelStep(output=[assistant_message(text, item_id="msg_scripted")])


ZONE = "Europe/London"
# Wednesday 15 January 2031, 09:00 in London: every relative date in the corpus is counted
# from here.
FIXED_NOW = datetime(2031, 1, 15, 9, 0, tzinfo=ZoneInfo(ZONE))


def fixed_clock(zone: ZoneInfo) -> datetime:
    """The corpus clock, in the requested zone."""
    return FIXED_NOW.astimezone(zone)


@dataclass
class Run:
    """Everything one Respond stream said, sorted by kind."""

    events: list[pb.RespondEvent]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finished: list[pb.ToolCallFinished] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    # The task refs of each message (`MessageDone.tasks`), in the order of `messages`.
    message_tasks: list[list[pb.TaskRef]] = field(default_factory=list)
    handoffs: list[pb.AgentHandedOff] = field(default_factory=list)
    run_finished: pb.RunFinished | None = None
    run_failed: pb.RunFailed | None = None

    @property
    def reply(self) -> str:
        """All assistant text of the run."""
        return "\n".join(self.messages)

    @property
    def tasks(self) -> list[pb.TaskRef]:
        """The task refs of all the run's messages, in order."""
        return [ref for refs in self.message_tasks for ref in refs]

    def as_history(self) -> list[pb.ConversationMessage]:
        """The run's messages as the caller sends them back as history (text and refs)."""
        return [
            pb.ConversationMessage(role=pb.ROLE_ASSISTANT, text=text, tasks=refs)
            for text, refs in zip(self.messages, self.message_tasks, strict=True)
        ]


def _arguments(text: str) -> dict[str, Any]:
    """A tool call's arguments; a real model's broken JSON (cut short, say) as `{"unparsed":
    text}`, so a test can still see the call."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return {"unparsed": text}
    return parsed if isinstance(parsed, dict) else {"unparsed": text}


def sort_events(events: list[pb.RespondEvent]) -> Run:
    """Groups a stream's events; checks that deltas add up to each message."""
    run = Run(events=events)
    deltas: dict[str, str] = {}
    for event in events:
        kind = event.WhichOneof("event")
        if kind == "tool_call_started":
            run.calls.append(
                (event.tool_call_started.name, _arguments(event.tool_call_started.arguments_json))
            )
        elif kind == "tool_call_finished":
            run.finished.append(event.tool_call_finished)
        elif kind == "text_delta":
            deltas[event.text_delta.message_id] = (
                deltas.get(event.text_delta.message_id, "") + event.text_delta.delta
            )
        elif kind == "message_done":
            assert deltas.get(event.message_done.message_id, "") == event.message_done.text
            run.messages.append(event.message_done.text)
            run.message_tasks.append(list(event.message_done.tasks))
        elif kind == "agent_handed_off":
            run.handoffs.append(event.agent_handed_off)
        elif kind == "run_finished":
            run.run_finished = event.run_finished
        elif kind == "run_failed":
            run.run_failed = event.run_failed
    last = events[-1].WhichOneof("event") if events else None
    assert last in ("run_finished", "run_failed"), f"stream ended with {last}"
    return run


async def respond(
    stub: agent_service_pb2_grpc.AgentServiceAsyncStub,
    metadata: tuple[tuple[str, str], ...],
    text: str,
    history: Sequence[tuple[str, str] | pb.ConversationMessage] | None = None,
    deadline_seconds: float = 20.0,
    locale: str = "",
    **fields: Any,
) -> Run:
    """One Respond call with the corpus time zone; returns its sorted events. `history` holds
    (role, text) pairs or whole messages (`Run.as_history()`); `fields` are more
    RespondRequest fields (`input_tasks`, `model`, `suggest_title`)."""
    request = pb.RespondRequest(
        thread_id="thread-test",
        input=text,
        time_zone=ZONE,
        locale=locale,
        history=[
            message
            if isinstance(message, pb.ConversationMessage)
            else pb.ConversationMessage(
                role=pb.ROLE_USER if message[0] == "user" else pb.ROLE_ASSISTANT, text=message[1]
            )
            for message in history or []
        ],
        **fields,
    )
    call = stub.Respond(request, metadata=metadata, timeout=deadline_seconds)
    return sort_events([event async for event in call])


async def respond_with_own_agent(
    auth: AuthServiceHandle,
    tasks_address: str,
    metadata: tuple[tuple[str, str], ...],
    text: str,
    *,
    agent: dict[str, Any] | None = None,
    **respond_options: Any,
) -> Run:
    """One `respond` call to an agent started for it alone, with `agent` as the options of
    `running_agent_service` (a scripted model, settings, interceptors), stopped after."""
    async with running_agent_service(auth, tasks_address, **(agent or {})) as handle:
        return await respond(handle.stub, metadata, text, **respond_options)


# `respond_with_own_agent` with the auth server and tasks address bound (a suite's fixture).
AskOwnAgent = Callable[..., Awaitable[Run]]


@dataclass
class ToolTurn:
    """A run whose scripted model called one tool, then answered."""

    run: Run
    # What the tool gave back to the model (its `function_call_output`).
    told_model: str


async def ask_one_tool_call(
    ask_own_agent: AskOwnAgent,
    metadata: tuple[tuple[str, str], ...],
    text: str,
    tool: str,
    arguments: dict[str, Any],
    *,
    reply: str = "Done.",
    call_id: str = "c1",
) -> ToolTurn:
    """Asks `text` of an own agent whose scripted model calls `tool` with `arguments`, then
    answers `reply`; checks the model was called for both turns."""
    from agents.testing import ScriptedModel, assistant_message, function_call

    model = ScriptedModel(
        [[function_call(tool, arguments, call_id=call_id)], [assistant_message(reply)]]
    )
    run = await ask_own_agent(metadata, text, agent={"custom_model": model})
    model.assert_complete()
    output = next(i for i in model.calls[1].input if i.get("type") == "function_call_output")
    return ToolTurn(run=run, told_model=str(output["output"]))


# `ask_one_tool_call` with the agent and the user bound (a suite's fixture):
# `await alice_tool_turn(text, tool, arguments, reply=…)`.
ToolTurnFor = Callable[..., Awaitable[ToolTurn]]
