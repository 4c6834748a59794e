"""The assistant against a real OpenAI-compatible server: llama-cpp-python with SmolLM2-135M.

What a small real model cannot be trusted to do (choose the right tool, word a reply) is not
asserted; what the system must do with whatever it answers is: text streams in pieces, a
forced tool call runs through the real tool loop and the turn after it succeeds (it failed with
HTTP 500 on every tool turn before issue 14), history goes back to the model turn after turn, a
retried message does not add its task twice, a reply stopped mid-way keeps its text and the
thread goes on, and a thread longer than the model's context is cut to fit (and fails with a
clear message when the cut is switched off).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from agents import Agent, ModelSettings
from todo.agent.v1 import agent_service_pb2 as pb
from todo_agent.assistant import build_agents
from todo_agent.failures import EMPTY_REPLY_MESSAGE
from todo_edge.chatkit.server import derive_title
from todo_testkit.agent import AgentServiceHandle, Run, fixed_clock, respond, running_agent_service
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.chatkit import ChatClient, chatting_with_own_agent
from todo_testkit.databases import IsolatedDatabase
from todo_testkit.llm_server import ModelServer
from todo_testkit.tasks import TaskCaller, TasksServiceHandle
from todo_testkit.waiting import eventually

DEADLINE = 240.0
# Room for a whole add_task call: the grammar-bound arguments of all five fields.
TOOL_CALL_TOKENS = 256
ADD_MILK = "Add a task titled Buy milk, with no due date, no tags and no notes."
FIRST_MESSAGE = "My name is Zed. Greet me in one sentence."


def assistant(**settings: Any) -> Agent[Any]:
    """The real assistant (instructions, tools, handoff) with short, repeatable replies: a
    small model at its default temperature rambles until the context is full."""
    return build_agents().clone(
        model_settings=ModelSettings(temperature=0.0, max_tokens=80).resolve(
            ModelSettings(**settings)
        )
    )


AgentAt = Callable[..., AbstractAsyncContextManager[AgentServiceHandle]]
ChatWith = Callable[..., AbstractAsyncContextManager[tuple[AgentServiceHandle, ChatClient]]]


@pytest.fixture
def agent_on_the_model(
    model_server: ModelServer, auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle
) -> AgentAt:
    """`agent_on_the_model(agent, **settings)`: an agent service running `agent` against the
    real model server (`settings` are AgentSettings overrides)."""

    def start(
        agent: Agent[Any], **settings: Any
    ) -> AbstractAsyncContextManager[AgentServiceHandle]:
        return running_agent_service(
            auth_service,
            tasks_service.address,
            agent=agent,
            **model_server.agent_settings(**settings),
        )

    return start


@pytest.fixture
def chat_on_the_model(
    model_server: ModelServer,
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    edge_database: IsolatedDatabase,
    alice: SignedUpUser,
) -> ChatWith:
    """`chat_on_the_model(agent, **options)`: alice's ChatKit client on an edge whose agent runs
    `agent` against the real model server (`options` go to `chatting_with_own_agent`)."""

    def start(
        agent: Agent[Any], **options: Any
    ) -> AbstractAsyncContextManager[tuple[AgentServiceHandle, ChatClient]]:
        return chatting_with_own_agent(
            auth_service,
            tasks_service,
            edge_database,
            alice,
            client_timeout=DEADLINE,
            agent=agent,
            **options,
            **model_server.agent_settings(),
        )

    return start


async def test_text_streams_from_the_real_server(
    agent_on_the_model: AgentAt,
    alice: SignedUpUser,
) -> None:
    async with agent_on_the_model(assistant(tool_choice="none")) as agent:
        run = await respond(
            agent.stub,
            alice.metadata,
            "Write one friendly sentence about tea.",
            deadline_seconds=DEADLINE,
        )
    assert run.run_failed is None, run.run_failed
    assert run.reply.strip()
    deltas = [e for e in run.events if e.WhichOneof("event") == "text_delta"]
    assert len(deltas) >= 2, "the reply came in one piece, not streamed"
    assert run.run_finished is not None
    usage = run.run_finished.usage
    assert usage.requests == 1
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    print(f"usage: {usage}")


async def test_a_forced_tool_call_runs_through_the_real_tool_loop(
    agent_on_the_model: AgentAt,
    alice: SignedUpUser,
    alice_tasks: TaskCaller,
) -> None:
    async with agent_on_the_model(
        assistant(tool_choice="add_task", max_tokens=TOOL_CALL_TOKENS)
    ) as agent:
        run = await respond(agent.stub, alice.metadata, ADD_MILK, deadline_seconds=DEADLINE)
    print(f"calls: {run.calls}; finished: {[(f.ok, f.error_message) for f in run.finished]}")
    print(f"run failed: {run.run_failed}")
    # The tool ran against the real tasks service: it created the task, or the service
    # refused the small model's arguments (a tag with ":" in it, say) and the model was told
    # why, as a person's bad input would be ...
    [finished] = run.finished
    tasks = await alice_tasks.list_all()
    if finished.ok:
        assert [t.id for t in tasks] == [finished.tasks[0].id]
    else:
        assert finished.error_message and tasks == []
    # ... and the model's next turn, which replays the tool call to the server (HTTP 500
    # there before issue 14), succeeded.
    assert run.run_failed is None, run.run_failed
    assert run.run_finished is not None and run.run_finished.turns >= 2
    assert run.run_finished.usage.requests >= 2


async def test_history_goes_back_to_the_model_turn_after_turn(
    chat_on_the_model: ChatWith,
) -> None:
    async with chat_on_the_model(assistant(tool_choice="none")) as (_, chat):
        first = await chat.create(FIRST_MESSAGE)
        assert first.of("error") == [] and first.reply.strip()
        second = await chat.say(first.thread_id, "What did I say my name was?")
        assert second.of("error") == [] and second.reply.strip()
        third = await chat.say(first.thread_id, "Thanks. Say goodbye.")
        assert third.of("error") == [] and third.reply.strip()
        assert await chat.item_types(first.thread_id) == ["user_message", "assistant_message"] * 3
        # The thread has a title after the first exchange: the model's (item 6), or, when the
        # model was too slow for the edge's title deadline on a loaded machine, the fallback.
        thread = (await chat.post("threads.get_by_id", {"thread_id": first.thread_id})).json()
        assert thread["title"]
        written = "model" if thread["title"] != derive_title(FIRST_MESSAGE) else "fallback"
        print(f"{written} title: {thread['title']!r}")


async def test_a_retried_tool_turn_does_not_add_the_task_twice(
    chat_on_the_model: ChatWith,
    alice_tasks: TaskCaller,
) -> None:
    async with chat_on_the_model(
        assistant(tool_choice="add_task", max_tokens=TOOL_CALL_TOKENS),
        # The same instructions (clock included) and temperature 0: the retry's model call
        # is the first one's again.
        clock=fixed_clock,
    ) as (_, chat):
        first = await chat.create(ADD_MILK)
        assert first.of("error") == []
        created = [t.id for t in await alice_tasks.list_all()]
        print(f"tasks after the first run: {len(created)}")
        [user] = first.done_items("user_message")
        retried = await chat.stream(
            "threads.retry_after_item", {"thread_id": first.thread_id, "item_id": user["id"]}
        )
        assert retried.of("error") == []
    # The same task (or, when the tasks service refused the model's arguments both times,
    # still none): never a second copy.
    assert [t.id for t in await alice_tasks.list_all()] == created


async def test_a_reply_stopped_mid_way_keeps_its_text_and_the_thread_goes_on(
    chat_on_the_model: ChatWith,
) -> None:
    async with chat_on_the_model(assistant(tool_choice="none", max_tokens=600)) as (_, chat):
        async with chat.open_create("Tell me a long story about a lighthouse keeper.") as stream:
            received = await stream.read_until(lambda got: got.count(b'"delta"') >= 3)
        thread_id = json.loads(received.split(b"\n\n")[0][len(b"data: ") :])["thread"]["id"]

        async def partial_answer_saved() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await chat.items(thread_id))["data"]
            assert [item["type"] for item in items] == ["user_message", "assistant_message"]
            return items

        items = await eventually(partial_answer_saved, within=60)
        assert items[1]["content"][0]["text"].strip()
        # The model server was told to stop, and serves the thread's next message.
        after = await chat.say(thread_id, "Never mind. Say OK.")
        assert after.of("error") == [] and after.reply.strip()


def _long_history(messages: int, chars: int) -> list[tuple[str, str]]:
    line = "We talked about the garden, the weather and the week's plans. "
    return [
        (
            "user" if i % 2 == 0 else "assistant",
            f"({i}) " + (line * (chars // len(line) + 1))[:chars],
        )
        for i in range(messages)
    ]


async def _respond_after_a_long_thread(
    agent_on_the_model: AgentAt,
    alice: SignedUpUser,
    **settings: Any,
) -> Run:
    """One text-only turn after about 8,000 tokens of history (the context holds 4,096)."""
    async with agent_on_the_model(assistant(tool_choice="none"), **settings) as agent:
        return await respond(
            agent.stub,
            alice.metadata,
            "Say OK.",
            history=_long_history(40, 800),
            deadline_seconds=DEADLINE,
        )


async def test_a_thread_longer_than_the_context_is_cut_to_fit(
    agent_on_the_model: AgentAt,
    alice: SignedUpUser,
) -> None:
    run = await _respond_after_a_long_thread(agent_on_the_model, alice)
    assert run.run_failed is None, run.run_failed
    assert run.reply.strip()


async def test_without_the_cut_an_overflowing_thread_fails_clearly(
    agent_on_the_model: AgentAt,
    alice: SignedUpUser,
) -> None:
    run = await _respond_after_a_long_thread(agent_on_the_model, alice, model_context_tokens=0)
    assert run.run_failed == pb.RunFailed(
        code=pb.FAILURE_CODE_MODEL_UNAVAILABLE, message=EMPTY_REPLY_MESSAGE, retryable=False
    )
    assert run.messages == []
