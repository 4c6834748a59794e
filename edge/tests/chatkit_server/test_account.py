"""Ending access at once over HTTP: logout with only the access token, and account deletion
(DELETE /api/auth/me) removing the user's tasks, chat threads and account — against the real
auth and tasks services and the edge's own database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from todo_common.db import Database
from todo_edge.chatkit.models import ChatItemFeedbackRow, ChatItemRow, ChatThreadRow
from todo_testkit.auth import AuthServiceHandle, SignedUpUser, SignUp
from todo_testkit.chatkit import ChatClient
from todo_testkit.databases import IsolatedDatabase
from todo_testkit.edge import EdgeHandle, assert_problem, edge_settings_for, running_edge
from todo_testkit.waiting import eventually

# Sign-out must reach every verifier within this long (issue: ≤ 5 s).
REVOCATION_SECONDS = 5


@pytest.fixture
async def chat_database(edge_database: IsolatedDatabase) -> AsyncIterator[Database]:
    """The edge's own database (the chat store), opened beside the running edge."""
    database = Database.from_url(edge_database.url, edge_database.schema)
    yield database
    await database.dispose()


async def _assert_refused_soon(edge: EdgeHandle, token: str) -> None:
    async def refused() -> None:
        async with edge.client(token) as http:
            assert_problem(await http.get("/api/tasks"), 401)

    await eventually(refused, within=REVOCATION_SECONDS, what="the ended session's token refused")


async def _chat(edge: EdgeHandle, user: SignedUpUser, text: str) -> str:
    """A real chat turn through ChatKit (the agent adds the task); the new thread's id."""
    async with edge.client(user.access_token, timeout=30.0) as http:
        chat = ChatClient(http)
        turn = await chat.create(text)
        assert turn.of("error") == [], turn
        thread_id: str = turn.thread_id
        return thread_id


async def _rows(database: Database, owner_id: str) -> dict[str, int]:
    async with database.session() as session:
        return {
            table.__tablename__: int(
                (
                    await session.execute(
                        select(func.count()).select_from(table).where(table.owner_id == owner_id)
                    )
                ).scalar_one()
            )
            for table in (ChatThreadRow, ChatItemRow, ChatItemFeedbackRow)
        }


async def test_logout_with_only_the_access_token_ends_that_session(
    chat_edge: EdgeHandle, http: httpx.AsyncClient, alice: SignedUpUser
) -> None:
    async with chat_edge.client(alice.access_token) as alice_http:
        assert (await alice_http.get("/api/tasks")).status_code == 200
        # No cookie, no body: the bearer token alone names the session.
        assert (await alice_http.post("/api/auth/logout")).status_code == 204
    await _assert_refused_soon(chat_edge, alice.access_token)
    # The session's refresh token ended with it.
    refused = await http.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert_problem(refused, 401)


async def test_logout_with_a_forged_bearer_ends_nothing(
    chat_edge: EdgeHandle, alice: SignedUpUser
) -> None:
    header = alice.access_token.partition(".")[0]
    async with chat_edge.client(f"{header}.e30.AAAA") as forged:
        assert (await forged.post("/api/auth/logout")).status_code == 204
    async with chat_edge.client(alice.access_token) as alice_http:
        assert (await alice_http.get("/api/tasks")).status_code == 200


async def test_logout_without_any_token_is_401(http: httpx.AsyncClient) -> None:
    assert_problem(await http.post("/api/auth/logout"), 401, "SESSION_MISSING")


async def test_delete_account_removes_tasks_threads_and_the_account(
    chat_edge: EdgeHandle, chat_database: Database, sign_up: SignUp
) -> None:
    doomed = await sign_up()
    bystander = await sign_up()
    async with (
        chat_edge.client(doomed.access_token) as doomed_http,
        chat_edge.client(bystander.access_token) as bystander_http,
    ):
        for title in ("Water the ferns", "Call mum"):
            assert (await doomed_http.post("/api/tasks", json={"title": title})).status_code == 201
        kept = await bystander_http.post("/api/tasks", json={"title": "Keep me"})
        assert kept.status_code == 201
        await _chat(chat_edge, doomed, "add buy milk")
        await _chat(chat_edge, bystander, "add buy bread")
        before = await _rows(chat_database, doomed.user_id)
        assert before["chat_threads"] == 1 and before["chat_items"] >= 2

        response = await doomed_http.delete("/api/auth/me")
        assert response.status_code == 204, response.text
        assert "max-age=0" in response.headers["set-cookie"].lower()

        await _assert_refused_soon(chat_edge, doomed.access_token)
        assert await _rows(chat_database, doomed.user_id) == {
            "chat_threads": 0,
            "chat_items": 0,
            "chat_item_feedback": 0,
        }
        login = await bystander_http.post(
            "/api/auth/login", json={"email": doomed.email, "password": doomed.password}
        )
        assert_problem(login, 401)
        # Nobody else was touched.
        assert (await _rows(chat_database, bystander.user_id))["chat_threads"] == 1
        listed = await bystander_http.get("/api/tasks")
        assert sorted(t["title"] for t in listed.json()["tasks"]) == ["Buy bread", "Keep me"]
        # Deleting again with the dead token is refused; nothing else changes.
        assert_problem(await doomed_http.delete("/api/auth/me"), 401)


async def test_delete_account_needs_a_valid_token(http: httpx.AsyncClient) -> None:
    assert_problem(await http.delete("/api/auth/me"), 401, "TOKEN_MISSING")
    forged = await http.delete("/api/auth/me", headers={"Authorization": "Bearer x.y.z"})
    assert_problem(forged, 401)


async def test_delete_account_with_tasks_down_is_503_and_deletes_nothing(
    auth_service: AuthServiceHandle, alice: SignedUpUser
) -> None:
    """The tasks service is asked first: when it cannot be reached the request fails as a
    whole (503, safe to send again) and the account, its sessions and its chats are kept."""
    async with (
        running_edge(edge_settings_for(auth_service)) as edge,  # tasks at a closed port
        edge.client(alice.access_token) as http,
    ):
        response = await http.delete("/api/auth/me")
        assert_problem(response, 503)
        me = await http.get("/api/auth/me")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == alice.user_id
