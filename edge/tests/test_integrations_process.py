"""MCP and the REST chat API against every process started for real: `todo-auth`, `todo-tasks`,
`todo-agent` (offline model) and `todo-edge serve` as subprocesses on free ports, on migrated
databases. The MCP SDK's own client (`mcp.client.streamable_http`) and plain HTTP each manage
tasks end to end, and each sees what the other did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from todo_agent.tools import CHAT_ONLY_TOOLS, TASK_TOOLS
from todo_testkit.stack import running_stack

pytestmark = pytest.mark.timeout(300)

CREDENTIALS = {"email": "integrations@example.com", "password": "correct horse battery staple"}


@pytest.fixture(scope="module")
async def edge_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    folder = tmp_path_factory.mktemp("integrations")
    async with running_stack("auth", "tasks", "agent", "edge", folder=folder) as stack:
        yield stack["edge"].url


async def test_mcp_and_rest_chat_manage_tasks_on_the_real_processes(edge_url: str) -> None:
    async with httpx.AsyncClient(base_url=edge_url, timeout=60) as http:
        assert (await http.post("/api/auth/signup", json=CREDENTIALS)).status_code == 201
        token = (await http.post("/api/auth/login", json=CREDENTIALS)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        # The chat API adds a task through the agent.
        created = await http.post(
            "/api/chat/threads", json={"message": "add buy milk tomorrow #errands"}, headers=auth
        )
        assert created.status_code == 201, created.text
        [milk_id] = created.json()["task_ids"]

        # The MCP client sees it, changes it and adds one of its own.
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            create_mcp_http_client(headers=headers) as mcp_http,
            streamable_http_client(f"{edge_url}/mcp", http_client=mcp_http) as (read, write),
            ClientSession(read, write) as session,
        ):
            info = await session.initialize()
            assert info.server_info.name == "todo-assistant"
            # Every task tool of the assistant but the chat-only ones (bulk previews need a card).
            served = {tool.name for tool in (await session.list_tools()).tools}
            assert served == {tool.name for tool in TASK_TOOLS} - CHAT_ONLY_TOOLS
            listed = await _call(session, "list_tasks", tag="errands")
            assert [t["title"] for t in listed["tasks"]] == ["Buy milk"]
            await _call(session, "update_task", task_id=milk_id, priority="high")
            dentist = await _call(session, "add_task", title="Call the dentist")
            bad = await session.call_tool("complete_task", {"task_id": "no-such-task"})
            assert bad.is_error

        # The chat API completes the MCP client's task; the REST task API agrees.
        thread_id = created.json()["thread"]["id"]
        done = await http.post(
            f"/api/chat/threads/{thread_id}/messages",
            json={"message": "complete call the dentist"},
            headers=auth,
        )
        assert done.status_code == 200, done.text
        assert done.json()["task_ids"] == [dentist["id"]]
        tasks = {t["id"]: t for t in (await http.get("/api/tasks", headers=auth)).json()["tasks"]}
        assert tasks[milk_id]["priority"] == "high"
        assert tasks[dentist["id"]]["state"] == "completed"
        page = await http.get(f"/api/chat/threads/{thread_id}/messages", headers=auth)
        assert [m["role"] for m in page.json()["messages"]] == [
            "user",
            "assistant",
            "user",
            "assistant",
        ]
        # No token: the 401 names the metadata, which names the edge as the token issuer.
        refused = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401
        assert "resource_metadata=" in refused.headers["www-authenticate"]
        metadata = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
        assert metadata["authorization_servers"] == [edge_url]


async def _call(session: ClientSession, name: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)
