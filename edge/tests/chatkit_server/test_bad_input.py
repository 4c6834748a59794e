"""Bad requests to /chatkit are 4xx problems, never 5xx, and store nothing; the session
endpoint hands out a bearer that works for /chatkit and is rate limited."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from todo_testkit.auth import SignedUpUser
from todo_testkit.chatkit import ChatClient, ChatStack, user_message
from todo_testkit.edge import EdgeHandle, assert_problem

MIB = 1024 * 1024


def _create(text: str) -> dict[str, Any]:
    return {"type": "threads.create", "params": {"input": user_message(text)}}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "MALFORMED_JSON"),
        (b"not json at all", "MALFORMED_JSON"),
        (b"\xff\xfe\x00garbage", "MALFORMED_JSON"),
        (b"[]", "INVALID_CHATKIT_REQUEST"),
        (b"42", "INVALID_CHATKIT_REQUEST"),
        (b"{}", "INVALID_CHATKIT_REQUEST"),
        (b'{"type": "threads.nope", "params": {}}', "INVALID_CHATKIT_REQUEST"),
        (b'{"type": "threads.create"}', "INVALID_CHATKIT_REQUEST"),
        (b'{"type": "threads.create", "params": {"input": {}}}', "INVALID_CHATKIT_REQUEST"),
        (b'{"type": "threads.get_by_id", "params": {}}', "INVALID_CHATKIT_REQUEST"),
        (b'{"type": "threads.get_by_id", "params": {"thread_id": 7}}', "INVALID_CHATKIT_REQUEST"),
        (b'{"type": "threads.list", "params": {"order": "sideways"}}', "INVALID_CHATKIT_REQUEST"),
        (b'{"type": "items.list", "params": {"thread_id": null}}', "INVALID_CHATKIT_REQUEST"),
        (
            b'{"type": "items.feedback", "params": {"thread_id": "t", "item_ids": "x", "kind": 1}}',
            "INVALID_CHATKIT_REQUEST",
        ),
        (
            b'{"type": "threads.custom_action", "params": {"thread_id": "t"}}',
            "INVALID_CHATKIT_REQUEST",
        ),
        (json.dumps(_create("")).encode(), "EMPTY_MESSAGE"),
        (json.dumps(_create("   \n ")).encode(), "EMPTY_MESSAGE"),
        (json.dumps(_create("x" * 8001)).encode(), "TEXT_TOO_LONG"),
        (json.dumps(_create("a\x00b")).encode(), "INVALID_TEXT"),
    ],
)
async def test_garbage_is_400(alice_chat: ChatClient, body: bytes, reason: str) -> None:
    response = await alice_chat.http.post(
        "/chatkit", content=body, headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400, reason)
    if reason == "INVALID_CHATKIT_REQUEST":
        assert problem["errors"], problem
    assert (await alice_chat.post("threads.list", {"limit": 100})).json()["data"] == []


async def test_almost_a_mebibyte_of_text_is_400(alice_chat: ChatClient) -> None:
    # Just under the edge's 1 MiB body limit, so the ChatKit checks see it.
    huge = "y" * (MIB - 400)
    for op, params, status in [
        ("threads.create", {"input": user_message(huge)}, 400),
        ("threads.get_by_id", {"thread_id": huge}, 404),
        ("items.list", {"thread_id": huge}, 404),
        ("threads.list", {"after": huge}, 400),
        ("threads.update", {"thread_id": "thr_x", "title": huge}, 400),
        ("threads.delete", {"thread_id": huge}, 404),
    ]:
        response = await alice_chat.post(op, params)
        assert_problem(response, status)
        assert len(response.content) < 4096, op
    real = (await alice_chat.create("add buy milk")).thread_id
    rename = await alice_chat.post("threads.update", {"thread_id": real, "title": huge})
    assert_problem(rename, 400, "TEXT_TOO_LONG")


async def test_a_mebibyte_body_is_413(alice_chat: ChatClient) -> None:
    response = await alice_chat.post("threads.create", {"input": user_message("z" * MIB)})
    assert_problem(response, 413)


async def test_no_token_is_401(chat_edge: EdgeHandle) -> None:
    async with chat_edge.client() as http:
        response = await http.post("/chatkit", json=_create("add buy milk"))
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_session_secret_works_as_the_chatkit_bearer(
    chat_edge: EdgeHandle, alice: SignedUpUser
) -> None:
    async with chat_edge.client(alice.access_token) as http:
        response = await http.post("/api/chatkit/session")
    assert response.status_code == 200
    session = response.json()
    assert set(session) == {"client_secret", "expires_at"}
    assert response.headers["cache-control"] == "no-store"
    expires = datetime.fromisoformat(session["expires_at"].replace("Z", "+00:00"))
    assert datetime.now(UTC) < expires
    async with chat_edge.client(session["client_secret"]) as http:
        stream = await ChatClient(http).create("add buy milk")
    assert stream.status == 200 and stream.of("error") == []


async def test_session_needs_a_token(chat_edge: EdgeHandle) -> None:
    async with chat_edge.client() as http:
        assert_problem(await http.post("/api/chatkit/session"), 401)


async def test_session_is_rate_limited(chat_stack: ChatStack, alice: SignedUpUser) -> None:
    async with (
        chat_stack.edge("127.0.0.1:1", chatkit_sessions_per_user=2) as edge,
        edge.client(alice.access_token) as http,
    ):
        statuses = [(await http.post("/api/chatkit/session")).status_code for _ in range(3)]
        limited = await http.post("/api/chatkit/session")
    assert statuses == [200, 200, 429]
    assert_problem(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) >= 1


async def test_cors_preflight_allows_the_chatkit_headers(chat_edge: EdgeHandle) -> None:
    async with httpx.AsyncClient(base_url=chat_edge.url) as http:
        response = await http.options(
            "/chatkit",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-time-zone",
            },
        )
    assert response.status_code == 200
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-time-zone"} <= {
        h.strip() for h in allowed.split(",")
    }
