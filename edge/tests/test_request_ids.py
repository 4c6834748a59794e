"""One request id in the logs of every process a request touches: a chat turn (edge → agent →
tasks, the agent's tool calls included) and a REST call (edge → tasks).

Every server runs for real in this process (the edge over HTTP, the others over gRPC); a log
handler writes down, for each record, the request id in effect where it was logged.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from todo_common.logs import request_id_var
from todo_testkit.agent import running_agent_service
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.chatkit import ChatClient, running_chat_edge
from todo_testkit.edge import EdgeHandle
from todo_testkit.tasks import TasksServiceHandle

# The SDK stamps items with naive local time; the edge runs in UTC (its CLI sets TZ).
os.environ["TZ"] = "UTC"
time.tzset()


@dataclass(frozen=True)
class Line:
    """One log record: who logged it, what, for which RPC method, under which request id."""

    logger: str
    msg: str
    method: str
    request_id: str


class LinesWithRequestIds(logging.Handler):
    """Keeps every record with the request id of the context that logged it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[Line] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(
            Line(
                record.name,
                record.getMessage(),
                str(getattr(record, "method", "")),
                request_id_var.get(),
            )
        )

    def rpc_ids(self, method: str) -> set[str]:
        """The request ids of the server's access-log lines of one gRPC method."""
        return {
            line.request_id for line in self.lines if line.msg == "rpc" and line.method == method
        }


@pytest.fixture
def log_lines() -> Iterator[LinesWithRequestIds]:
    handler = LinesWithRequestIds()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def chat_edge(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle, tmp_path: Path
) -> AsyncIterator[EdgeHandle]:
    """An edge whose ChatKit talks to a real agent, which calls the real tasks service."""
    async with (
        running_agent_service(auth_service, tasks_service.address) as agent,
        running_chat_edge(auth_service, tasks_service, agent.address, tmp_path) as edge,
    ):
        yield edge


async def test_a_chat_turn_has_one_request_id_in_edge_agent_and_tasks(
    chat_edge: EdgeHandle, alice: SignedUpUser, log_lines: LinesWithRequestIds
) -> None:
    turn = f"chat-turn-{uuid.uuid4().hex}"
    async with chat_edge.client(
        alice.access_token, headers={"X-Request-ID": turn}, timeout=30.0
    ) as http:
        stream = await ChatClient(http).create("add buy milk, then list my tasks")
    assert stream.status == 200
    assert stream.headers["x-request-id"] == turn

    assert turn in {
        line.request_id for line in log_lines.lines if line.logger == "todo_edge.access"
    }
    assert log_lines.rpc_ids("/todo.agent.v1.AgentService/Respond") == {turn}
    # The agent's tools ran in tasks of the Agents SDK: the id followed them to the tasks service.
    assert log_lines.rpc_ids("/todo.tasks.v1.TaskService/CreateTask") == {turn}


async def test_a_rest_call_has_the_same_request_id_at_the_edge_and_in_tasks(
    edge_service: EdgeHandle, alice: SignedUpUser, log_lines: LinesWithRequestIds
) -> None:
    call = f"rest-call-{uuid.uuid4().hex}"
    async with edge_service.client(alice.access_token, headers={"X-Request-ID": call}) as http:
        assert (await http.get("/api/tasks")).status_code == 200
    assert log_lines.rpc_ids("/todo.tasks.v1.TaskService/ListTasks") == {call}
