"""Property-based fuzzing of the edge's own OpenAPI document with schemathesis: generated
valid and invalid requests (with a real user's token), zero 5xx allowed.

The schemathesis CLI runs as a subprocess so this test's event loop stays free to serve the
edge and the backends it calls. The example count and time are bounded to keep the suite fast.
The edge has its own migrated database and the real agent, so the chat routes (`/api/chat`)
are fuzzed for real too, not refused for want of a database.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from todo_testkit.agent import AgentServiceHandle
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.chatkit import running_chat_edge
from todo_testkit.edge import EdgeHandle
from todo_testkit.tasks import TasksServiceHandle

MAX_EXAMPLES = os.environ.get("EDGE_FUZZ_MAX_EXAMPLES", "15")
MAX_SECONDS = os.environ.get("EDGE_FUZZ_MAX_SECONDS", "20")


@pytest.fixture
async def full_edge(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    agent_service: AgentServiceHandle,
    tmp_path: Path,
) -> AsyncIterator[EdgeHandle]:
    """An edge with every route live: its migrated database and the real agent."""
    async with running_chat_edge(
        auth_service, tasks_service, agent_service.address, tmp_path
    ) as handle:
        yield handle


async def test_fuzzing_the_openapi_spec_finds_no_server_errors(
    full_edge: EdgeHandle, alice: SignedUpUser, tmp_path: Path
) -> None:
    st = Path(sys.executable).parent / "st"
    process = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        f"{full_edge.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        MAX_EXAMPLES,
        "--max-time",
        MAX_SECONDS,
        "--phases",
        "examples,coverage,fuzzing",
        "--header",
        f"Authorization: Bearer {alice.access_token}",
        "--generation-database",
        "none",
        "--seed",
        "20261121",
        "--request-timeout",
        "10",
        # One worker: hypothesis parses lambda sources with `ast`, which on CPython 3.11 is
        # not thread-safe ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--no-color",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=float(MAX_SECONDS) + 60)
    text = output.decode(errors="replace")
    (tmp_path / "schemathesis.log").write_text(text)
    assert process.returncode == 0, text[-6000:]
