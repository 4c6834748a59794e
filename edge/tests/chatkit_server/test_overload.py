"""Overload: past EDGE_CHATKIT_MAX_CONCURRENT_TURNS a new turn is refused at once with 429 +
`Retry-After` (problem+json) and nothing is stored; the slot comes back when the running turn
ends, however it ends. While a turn waits for the model, the edge holds no database
connection. Real edge, auth, tasks and agent; the running turn is held open at the model by a
gate, never by a sleep."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from todo_testkit.auth import SignedUpUser
from todo_testkit.chatkit import ChatClient, ChatStack, user_message
from todo_testkit.edge import EdgeHandle, assert_problem
from todo_testkit.model_gate import ModelGate
from todo_testkit.waiting import eventually

CREATE = {"type": "threads.create", "params": {"input": user_message("hello")}}


@contextlib.asynccontextmanager
async def _busy_edge(stack: ChatStack, gate: ModelGate) -> AsyncIterator[EdgeHandle]:
    """An edge that runs one turn at a time, in front of an agent whose model is `gate`."""
    async with (
        stack.agent(custom_model=gate.model) as agent,
        stack.edge(
            agent, chatkit_max_concurrent_turns=1, chatkit_busy_retry_after_seconds=3
        ) as edge,
    ):
        yield edge


async def _read_all(http: httpx.AsyncClient) -> bytes:
    async with http.stream("POST", "/chatkit", json=CREATE) as response:
        assert response.status_code == 200
        return await response.aread()


def _pool_checked_out(edge: EdgeHandle) -> int:
    app: Any = edge.server.config.app
    return int(app.state.edge.database.engine.pool.checkedout())


async def test_a_turn_past_the_limit_is_refused_with_429_and_nothing_is_stored(
    chat_stack: ChatStack, alice: SignedUpUser, bob: SignedUpUser
) -> None:
    gate = ModelGate(calls=2)
    async with (
        _busy_edge(chat_stack, gate) as edge,
        edge.client(alice.access_token) as alice_http,
        edge.client(bob.access_token) as bob_http,
    ):
        running = asyncio.create_task(_read_all(alice_http))
        await asyncio.wait_for(gate.entered.wait(), 30)
        # The turn waits for the model: no database connection is held meanwhile.
        assert _pool_checked_out(edge) == 0

        refused = await bob_http.post("/chatkit", json=CREATE)
        assert_problem(refused, 429, "CHAT_BUSY")
        assert refused.headers["Retry-After"] == "3"
        assert "busy" in refused.json()["detail"]
        bob_chat = ChatClient(bob_http)
        threads = await bob_http.post(
            "/chatkit", json={"type": "threads.list", "params": {"limit": 10}}
        )
        assert threads.json()["data"] == []

        gate.release()
        body = await asyncio.wait_for(running, 30)
        assert b"Done." in body
        # The slot is back: the next turn runs.
        answered = await bob_chat.create("hello again")
        assert answered.of("error") == []
        assert answered.reply == "Done."


async def test_the_slot_comes_back_when_the_client_goes_away(
    chat_stack: ChatStack, alice: SignedUpUser
) -> None:
    gate = ModelGate(calls=2)
    async with (
        _busy_edge(chat_stack, gate) as edge,
        edge.client(alice.access_token) as http,
    ):
        running = asyncio.create_task(_read_all(http))
        await asyncio.wait_for(gate.entered.wait(), 30)
        assert (await http.post("/chatkit", json=CREATE)).status_code == 429
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

        async def admitted() -> bool:
            # A refused attempt stores nothing, so asking again until one is admitted is safe.
            response = await http.post("/chatkit", json=CREATE)
            assert response.status_code in (200, 429), response.text
            return response.status_code == 200

        await eventually(admitted, what="the abandoned turn's slot to come back")


async def test_an_agent_that_is_busy_after_the_stream_started_is_an_error_event(
    chat_stack: ChatStack, alice: SignedUpUser
) -> None:
    # The edge admits the turn (its own limit is far away) and has sent `thread.created`
    # when the agent refuses it (AGENT_BUSY, RESOURCE_EXHAUSTED): the stream is already 200,
    # so the refusal reaches the user as a retryable `error` event, not a broken stream.
    gate = ModelGate(calls=2)
    async with (
        chat_stack.agent(custom_model=gate.model, max_concurrent_turns=1) as agent,
        chat_stack.edge(agent) as edge,
        edge.client(alice.access_token) as http,
    ):
        running = asyncio.create_task(_read_all(http))
        await asyncio.wait_for(gate.entered.wait(), 30)

        # The agent's limit is per process: a second turn of the same user is refused too.
        refused = await ChatClient(http).create("hello")
        [error] = refused.of("error")
        assert error["allow_retry"] is True
        assert "busy" in error["message"]
        assert refused.of("thread.created")

        gate.release()
        assert b"Done." in await asyncio.wait_for(running, 30)
