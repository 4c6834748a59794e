"""A call the client gives up on is logged once, at info, as CANCELLED: an expected event
(a user closed the page, the edge hit its deadline), not an error with a stack."""

from __future__ import annotations

import asyncio
import logging

import pytest
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_tasks.repository import TaskReads, Values
from todo_testkit.tasks import NewTaskCaller
from todo_testkit.waiting import eventually


async def test_a_cancelled_call_is_logged_at_info(
    new_task_caller: NewTaskCaller,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = await new_task_caller()
    task = await alice.create(title="slow to read")
    # Hold the call inside its read until the client has gone. GetTask's read, on either
    # backend (a prepared statement on PostgreSQL, a read session on SQLite): patching a
    # Database method would also catch the revocation feed's reads in the auth service.
    entered = asyncio.Event()
    original = TaskReads.get

    async def held(self: TaskReads, owner: str, task_id: str) -> Values | None:
        entered.set()
        await asyncio.sleep(60)
        return await original(self, owner, task_id)

    monkeypatch.setattr(TaskReads, "get", held)
    caplog.set_level(logging.INFO)
    caplog.clear()
    call = alice.stub.GetTask(pb.GetTaskRequest(id=task.id), metadata=alice.metadata, timeout=30)
    await entered.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    def rpc_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage() == "rpc"]

    [line] = await eventually(
        lambda: rpc_lines() or False, within=10, what="the cancelled call's log line"
    )
    assert line.levelno == logging.INFO
    assert getattr(line, "code", None) == "CANCELLED"
    assert getattr(line, "method", None) == "/todo.tasks.v1.TaskService/GetTask"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    monkeypatch.undo()
    assert (await alice.get(task.id)).title == "slow to read"
