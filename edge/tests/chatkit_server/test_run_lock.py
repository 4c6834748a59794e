"""One reply at a time per thread (`chatkit/run_lock.py`): while a reply runs, a second tab's
message to the same thread — through the same edge or, on PostgreSQL, through another edge
over the same database — is refused with 409 `REPLY_IN_PROGRESS` and stores nothing; the thread
ends up with its items in turns, never interleaved. Real edges, auth, tasks and agent; the
running reply is held at the model by a gate, never by a sleep."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from todo_edge.chatkit.run_lock import REPLY_IN_PROGRESS_REASON, ThreadRunLocks
from todo_testkit.auth import SignedUpUser
from todo_testkit.chatkit import ChatClient, ChatStack, OpenStream, user_message
from todo_testkit.databases import connect_postgres
from todo_testkit.edge import EdgeHandle, assert_problem
from todo_testkit.model_gate import ModelGate
from todo_testkit.waiting import eventually


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
    chat_stack: ChatStack,
    alice: SignedUpUser,
    bob: SignedUpUser,
) -> None:
    chat_stack.database.require_postgres("two edges share a lock")
    model = ModelGate(calls=2)
    async with (
        chat_stack.agent(custom_model=model.model) as agent,
        chat_stack.edge(agent) as first_edge,
        chat_stack.edge(agent) as second_edge,
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
    chat_stack: ChatStack,
    alice: SignedUpUser,
) -> None:
    model = ModelGate(calls=2)
    async with (
        chat_stack.agent(custom_model=model.model) as agent,
        chat_stack.edge(agent) as edge,
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
    chat_stack: ChatStack,
    alice: SignedUpUser,
) -> None:
    chat_stack.database.require_postgres("the lock connection exists")
    model = ModelGate(calls=3)
    model.release()
    async with (
        chat_stack.agent(custom_model=model.model) as agent,
        chat_stack.edge(agent) as edge,
        edge.client(alice.access_token, timeout=30.0) as http,
    ):
        chat = ChatClient(http)
        created = await chat.create("hello")
        assert created.reply == "Done."
        locks = _run_locks(edge)
        pid = locks.session_pid
        assert pid is not None
        admin = await connect_postgres(chat_stack.database.url)
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
