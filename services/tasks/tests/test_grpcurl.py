"""The service driven through the real grpcurl binary, as the README tells developers to."""

from __future__ import annotations

import json

from todo_testkit.grpcurl import grpcurl, run_grpcurl


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
    refused = await run_grpcurl("-d", "{}", address, "todo.tasks.v1.TaskService/ListTasks")
    assert refused.returncode != 0
    assert "Unauthenticated" in refused.stdout + refused.stderr
