"""One reply at a time per thread (`chatkit/run_lock.py`): while a reply runs, a second tab's
message to the same thread — through the same edge or, on PostgreSQL, through another edge
over the same database — is refused with 409 `REPLY_IN_PROGRESS` and stores nothing; the thread
ends up with its items in turns, never interleaved. Real edges, auth, tasks and agent; the
running reply is held at the model by a gate, never by a sleep."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from todo_edge.chatkit.run_lock import REPLY_IN_PROGRESS_REASON, ThreadRunLocks
from todo_testkit.agent import AgentServiceHandle, running_agent_service
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.chatkit import ChatClient, OpenStream, chat_edge_settings, user_message
from todo_testkit.databases import IsolatedDatabase
from todo_testkit.edge import EdgeHandle, assert_problem, running_edge
from todo_testkit.model_gate import ModelGate
from todo_testkit.tasks import TasksServiceHandle
from todo_testkit.waiting import eventually


@contextlib.asynccontextmanager
async def _agent(
    auth: AuthServiceHandle, tasks: TasksServiceHandle, model: ModelGate
) -> AsyncIterator[AgentServiceHandle]:
    async with running_agent_service(auth, tasks.address, custom_model=model.model) as agent:
        yield agent


@contextlib.asynccontextmanager
async def _edge(
    auth: AuthServiceHandle,
    tasks: TasksServiceHandle,
    agent: AgentServiceHandle,
    database: IsolatedDatabase,
) -> AsyncIterator[EdgeHandle]:
    async with running_edge(chat_edge_settings(auth, tasks, agent.address, database)) as edge:
        yield edge


async def _first_reply_running(stream: OpenStream, model: ModelGate) -> str:
    """Reads the new thread's first event; returns its id once the model holds the reply."""
    await stream.read_until(lambda received: received.endswith(b"\n\n"))
    thread_id = stream.parsed().thread_id
    await asyncio.wait_for(model.entered.wait(), 30)
    return thread_id


def _assert_refused_as_busy(response: httpx.Response) -> None:
    body = assert_problem(response, 409, REPLY_IN_PROGRESS_REASON)
    assert "already in progress" in body["detail"]


async def _say(chat: ChatClient, thread_id: str, text: str) -> httpx.Response:
    """threads.add_user_message, the raw response (a refusal is a problem, not a stream)."""
    params = {"thread_id": thread_id, "input": user_message(text)}
    return await chat.post("threads.add_user_message", params)


async def test_a_second_tab_through_another_edge_waits_its_turn(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    edge_database: IsolatedDatabase,
    alice: SignedUpUser,
    bob: SignedUpUser,
) -> None:
    if not edge_database.is_postgres:
        pytest.skip("two edges share a lock only on PostgreSQL (TEST_DATABASE_URL)")
    model = ModelGate(calls=2)
    async with (
        _agent(auth_service, tasks_service, model) as agent,
        _edge(auth_service, tasks_service, agent, edge_database) as first_edge,
        _edge(auth_service, tasks_service, agent, edge_database) as second_edge,
        first_edge.client(alice.access_token, timeout=30.0) as first_tab,
        second_edge.client(alice.access_token, timeout=30.0) as second_tab,
        second_edge.client(bob.access_token, timeout=30.0) as bob_http,
    ):
        tab1, tab2 = ChatClient(first_tab), ChatClient(second_tab)
        async with tab1.open_create("hello") as running:
            thread_id = await _first_reply_running(running, model)

            _assert_refused_as_busy(await _say(tab2, thread_id, "from the second tab"))
            _assert_refused_as_busy(await _say(tab1, thread_id, "again from the first"))
            # Another user's request for the id is a missing thread, never "busy".
            assert_problem(await _say(ChatClient(bob_http), thread_id, "mine?"), 404)
            # Nothing of the refused messages was stored.
            assert await tab2.item_types(thread_id) == ["user_message"]

            model.release()
            first = (await running.read_until()).decode()
        assert '"Done."' in first

        answered = await tab2.say(thread_id, "from the second tab")
        assert answered.status == 200 and answered.of("error") == [], answered.events
        assert answered.reply == "Done."
        assert await tab1.item_types(thread_id) == [
            "user_message",
            "assistant_message",
            "user_message",
            "assistant_message",
        ]


async def test_the_lock_is_given_back_when_the_client_goes_away(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    edge_database: IsolatedDatabase,
    alice: SignedUpUser,
) -> None:
    model = ModelGate(calls=2)
    async with (
        _agent(auth_service, tasks_service, model) as agent,
        _edge(auth_service, tasks_service, agent, edge_database) as edge,
        edge.client(alice.access_token, timeout=30.0) as http,
    ):
        chat = ChatClient(http)
        async with chat.open_create("hello") as running:
            thread_id = await _first_reply_running(running, model)
            _assert_refused_as_busy(await _say(chat, thread_id, "too soon"))
        # The Stop button: the connection closed mid-reply. The SDK stores what there was and
        # the lock comes back; a refused message stores nothing, so sending again is safe.
        locks = _run_locks(edge)
        await eventually(lambda: locks.held == 0, what="the abandoned reply's run lock back")
        answered = await chat.say(thread_id, "now")
        assert answered.status == 200 and answered.of("error") == [], answered.events
        assert answered.reply == "Done."


async def test_a_lost_lock_connection_is_made_again(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    edge_database: IsolatedDatabase,
    alice: SignedUpUser,
) -> None:
    if not edge_database.is_postgres:
        pytest.skip("the lock connection exists only on PostgreSQL (TEST_DATABASE_URL)")
    model = ModelGate(calls=3)
    model.release()
    async with (
        _agent(auth_service, tasks_service, model) as agent,
        _edge(auth_service, tasks_service, agent, edge_database) as edge,
        edge.client(alice.access_token, timeout=30.0) as http,
    ):
        chat = ChatClient(http)
        created = await chat.create("hello")
        assert created.reply == "Done."
        locks = _run_locks(edge)
        pid = locks.session_pid
        assert pid is not None
        url = make_url(edge_database.url)
        admin = await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
        )
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        # The next turn finds the connection gone and makes a new one, unnoticed by the user.
        answered = await chat.say(created.thread_id, "still there?")
        assert answered.status == 200 and answered.of("error") == [], answered.events
        assert answered.reply == "Done."
        assert locks.session_pid not in (None, pid)
        assert locks.held == 0


def _run_locks(edge: EdgeHandle) -> ThreadRunLocks:
    app: Any = edge.server.config.app
    locks: ThreadRunLocks = app.state.edge.chat_server.run_locks
    return locks
