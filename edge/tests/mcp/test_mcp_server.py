"""The MCP server at /mcp, driven by the MCP SDK's own client (`mcp.client.streamable_http`)
over real HTTP to a real edge (uvicorn on a free port) in front of the real auth and tasks
servers: tools listed with their annotations, every tool called, another user's ids behaving
as missing ones, bad arguments as tool errors, and the bearer-token gate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import jwt
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult, TextContent
from todo_agent.tools import CHAT_ONLY_TOOLS, TASK_TOOLS
from todo_testkit.auth import AuthServiceHandle, SignedUpUser, load_signing_key, sign_with
from todo_testkit.edge import EdgeHandle, assert_problem, edge_settings_for, running_edge
from todo_testkit.tasks import TasksServiceHandle

# The MCP server offers the same task tools as the assistant, under the same names (but the
# chat's own, whose result is a card to confirm).
TOOLS = {tool.name for tool in TASK_TOOLS} - CHAT_ONLY_TOOLS


@asynccontextmanager
async def mcp_session(edge: EdgeHandle, token: str) -> AsyncIterator[ClientSession]:
    """An initialized MCP client session to the edge's /mcp, sending `token`."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(f"{edge.url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call(session: ClientSession, name: str, **arguments: Any) -> dict[str, Any]:
    """A tool call that must succeed; its structured result."""
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result
    assert result.content and isinstance(result.content[0], TextContent)
    return result.content[0].text


async def test_lists_the_task_tools_with_their_annotations(
    edge_service: EdgeHandle, alice: SignedUpUser
) -> None:
    async with mcp_session(edge_service, alice.access_token) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    for name in ("list_tasks", "search_tasks", "get_task"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True
    delete = tools["delete_task"].annotations
    assert delete is not None
    assert (delete.read_only_hint, delete.destructive_hint, delete.idempotent_hint) == (
        False,
        True,
        True,
    )
    add = tools["add_task"].annotations
    assert add is not None
    assert (add.read_only_hint, add.destructive_hint, add.idempotent_hint) == (False, False, False)
    complete = tools["complete_task"].annotations
    assert complete is not None and complete.idempotent_hint is True
    assert tools["add_task"].input_schema["required"] == ["title"]
    assert tools["add_task"].output_schema is not None


async def test_every_tool_manages_the_callers_tasks(
    edge_service: EdgeHandle, alice: SignedUpUser
) -> None:
    async with mcp_session(edge_service, alice.access_token) as session:
        milk = await call(
            session,
            "add_task",
            title="Buy milk",
            due="2030-12-01",
            time_zone="Europe/London",
            priority="high",
            tags=["#Errands"],
        )
        assert (milk["title"], milk["priority"], milk["tags"]) == ("Buy milk", "high", ["errands"])
        assert milk["due_time"] == "2030-12-01T23:59:00Z"  # London is on UTC in December.
        dentist = await call(
            session, "add_task", title="Call the dentist", due="2030-11-01T09:30:00+01:00"
        )
        assert dentist["due_time"] == "2030-11-01T08:30:00Z"

        listed = await call(session, "list_tasks")
        assert [t["id"] for t in listed["tasks"]] == [dentist["id"], milk["id"]]
        assert listed["next_page_token"] is None
        first_page = await call(session, "list_tasks", limit=1)
        assert [t["id"] for t in first_page["tasks"]] == [dentist["id"]]
        second = await call(
            session, "list_tasks", limit=1, page_token=first_page["next_page_token"]
        )
        assert [t["id"] for t in second["tasks"]] == [milk["id"]]
        high = await call(session, "list_tasks", priority="high", tag="errands")
        assert [t["id"] for t in high["tasks"]] == [milk["id"]]

        found = await call(session, "search_tasks", query="DENTIST")
        assert [t["id"] for t in found["tasks"]] == [dentist["id"]]
        got = await call(session, "get_task", task_id=milk["id"])
        assert got["etag"] == milk["etag"]

        renamed = await call(
            session, "update_task", task_id=milk["id"], title="Buy oat milk", notes="2 litres"
        )
        assert (renamed["title"], renamed["notes"]) == ("Buy oat milk", "2 litres")
        undated = await call(session, "update_task", task_id=milk["id"], clear_due=True)
        assert undated["due_time"] is None

        done = await call(session, "complete_task", task_id=dentist["id"])
        assert done["state"] == "completed" and done["complete_time"]
        assert [t["id"] for t in (await call(session, "list_tasks"))["tasks"]] == [milk["id"]]
        completed = await call(session, "list_tasks", state="completed")
        assert [t["id"] for t in completed["tasks"]] == [dentist["id"]]
        reopened = await call(session, "reopen_task", task_id=dentist["id"])
        assert reopened["state"] == "open"

        deleted = await call(session, "delete_task", task_id=milk["id"])
        assert deleted["deleted"] is True and deleted["task"]["title"] == "Buy oat milk"
        missing = await session.call_tool("get_task", {"task_id": milk["id"]})
        assert "not found" in error_text(missing).lower()
        everything = await call(session, "list_tasks", state="all")
        assert [t["id"] for t in everything["tasks"]] == [dentist["id"]]


async def test_another_users_ids_behave_as_missing(
    edge_service: EdgeHandle, alice: SignedUpUser, bob: SignedUpUser
) -> None:
    async with mcp_session(edge_service, alice.access_token) as session:
        secret = await call(session, "add_task", title="Alice's secret")
    never_made = "0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10"
    async with mcp_session(edge_service, bob.access_token) as session:
        for name, arguments in [
            ("get_task", {}),
            ("update_task", {"title": "mine now"}),
            ("complete_task", {}),
            ("reopen_task", {}),
            ("delete_task", {}),
        ]:
            theirs = await session.call_tool(name, {"task_id": secret["id"], **arguments})
            missing = await session.call_tool(name, {"task_id": never_made, **arguments})
            assert error_text(theirs) == error_text(missing), name
            assert "not found" in error_text(theirs).lower()
        assert (await call(session, "list_tasks", state="all"))["tasks"] == []
        assert (await call(session, "search_tasks", query="secret"))["tasks"] == []
    async with mcp_session(edge_service, alice.access_token) as session:
        still = await call(session, "get_task", task_id=secret["id"])
    assert (still["title"], still["state"]) == ("Alice's secret", "open")


@pytest.mark.parametrize(
    ("name", "arguments", "words"),
    [
        ("add_task", {}, "title"),
        ("add_task", {"title": ""}, "title"),
        ("add_task", {"title": "x", "priority": "urgent"}, "priority"),
        ("add_task", {"title": "x", "due": "next tuesday"}, "due"),
        ("add_task", {"title": "x", "due": "2030-01-01", "time_zone": "Mars/Olympus"}, "time zone"),
        ("list_tasks", {"limit": 0}, "limit"),
        ("list_tasks", {"page_token": "not-a-token"}, "page"),
        ("update_task", {"task_id": "abc"}, "nothing to change"),
        ("complete_task", {"task_id": ""}, "task_id"),
        ("no_such_tool", {}, "no_such_tool"),
    ],
)
async def test_a_bad_argument_is_a_tool_error(
    edge_service: EdgeHandle,
    alice: SignedUpUser,
    name: str,
    arguments: dict[str, Any],
    words: str,
) -> None:
    async with mcp_session(edge_service, alice.access_token) as session:
        result = await session.call_tool(name, arguments)
        assert words.lower() in error_text(result).lower()
        # The session is still fine afterwards.
        assert (await call(session, "list_tasks"))["tasks"] == []


async def _mcp_post(
    http: httpx.AsyncClient, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "curl", "version": "1"},
        },
    }
    return await http.post(
        "/mcp",
        json=body,
        headers={"Accept": "application/json, text/event-stream", **(headers or {})},
    )


async def test_no_or_a_bad_token_is_401_naming_the_metadata(
    edge_service: EdgeHandle, auth_service: AuthServiceHandle, alice: SignedUpUser
) -> None:
    metadata_url = f"{edge_service.url}/.well-known/oauth-protected-resource/mcp"
    key = await load_signing_key(auth_service)
    claims = jwt.decode(alice.access_token, options={"verify_signature": False})
    other_audience = sign_with(key, {**claims, "aud": "someone-else"})
    async with edge_service.client() as http:
        missing = await _mcp_post(http)
        body = assert_problem(missing, 401, "TOKEN_MISSING")
        assert missing.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata_url}"'
        assert "initialize" not in str(body)
        for token in ("not-a-jwt", other_audience, alice.access_token[:-4] + "AAAA"):
            rejected = await _mcp_post(http, {"Authorization": f"Bearer {token}"})
            assert_problem(rejected, 401)
            assert rejected.headers["www-authenticate"] == (
                f'Bearer error="invalid_token", resource_metadata="{metadata_url}"'
            )
        basic = await _mcp_post(http, {"Authorization": "Basic YWxpY2U6cHc="})
        assert_problem(basic, 401, "TOKEN_MISSING")
        # The right token with the right audience passes the same gate.
        fine = await _mcp_post(http, {"Authorization": f"Bearer {alice.access_token}"})
        assert fine.status_code == 200, fine.text
        assert fine.json()["result"]["serverInfo"]["name"] == "todo-assistant"


async def test_the_sdk_client_without_a_token_is_refused(edge_service: EdgeHandle) -> None:
    async with create_mcp_http_client() as http:
        response = await http.post(
            f"{edge_service.url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert isinstance(response, httpx2.Response)
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


async def test_protected_resource_metadata_names_our_auth(edge_service: EdgeHandle) -> None:
    async with edge_service.client() as http:
        for path in (
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-protected-resource/mcp",
        ):
            response = await http.get(path)
            assert response.status_code == 200
            metadata = response.json()
            assert metadata["resource"] == f"{edge_service.url}/mcp"
            assert metadata["authorization_servers"] == [edge_service.url]
            assert metadata["jwks_uri"] == f"{edge_service.url}/.well-known/jwks.json"
            assert metadata["bearer_methods_supported"] == ["header"]
        assert (await http.get("/.well-known/jwks.json")).json()["keys"]


async def test_configured_public_url_and_authorization_server(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle
) -> None:
    settings = edge_settings_for(
        auth_service,
        tasks_service,
        public_url="https://todo.example.com",
        mcp_authorization_servers=["https://login.example.com"],
    )
    async with running_edge(settings) as edge, edge.client() as http:
        metadata = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
        refused = await _mcp_post(http)
    assert metadata["resource"] == "https://todo.example.com/mcp"
    assert metadata["authorization_servers"] == ["https://login.example.com"]
    assert refused.headers["www-authenticate"] == (
        'Bearer resource_metadata="https://todo.example.com/.well-known/oauth-protected-resource/mcp"'
    )


async def test_mcp_requests_count_against_the_users_rate_limit(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle, alice: SignedUpUser
) -> None:
    settings = edge_settings_for(auth_service, tasks_service, requests_per_user=3)
    async with running_edge(settings) as edge, edge.client(alice.access_token) as http:
        statuses = [(await _mcp_post(http)).status_code for _ in range(3)]
        limited = await _mcp_post(http)
        rest = await http.get("/api/tasks")
    assert statuses == [200, 200, 200]
    assert_problem(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) >= 1
    assert_problem(rest, 429, "RATE_LIMITED")  # One budget per user, REST and MCP together.


async def test_a_plain_post_calls_a_tool_without_a_session(
    edge_service: EdgeHandle, alice: SignedUpUser
) -> None:
    # The README's curl line: stateless, so a tools/call needs no initialize before it.
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "add_task", "arguments": {"title": "Plain post"}},
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18",
    }
    async with edge_service.client(alice.access_token) as http:
        response = await http.post("/mcp", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert "mcp-session-id" not in response.headers
        result = response.json()["result"]
        assert result["isError"] is False
        assert result["structuredContent"]["title"] == "Plain post"
        listed = await http.get("/api/tasks")
    assert [t["title"] for t in listed.json()["tasks"]] == ["Plain post"]
