"""Another user's task id answers NOT_FOUND, exactly like a missing one, and stays untouched."""

from __future__ import annotations

import grpc
from google.protobuf import field_mask_pb2
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.rpc_errors import expect_rpc_error

MISSING = "01a1ffcd-2089-7735-b456-ac27415da1b7"


def calls_on(stub, metadata, task_id: str, etag: str = ""):
    """Every RPC that takes a task id, aimed at `task_id`."""
    options = {"metadata": metadata, "timeout": 10}
    return {
        "GetTask": lambda: stub.GetTask(pb.GetTaskRequest(id=task_id), **options),
        "UpdateTask": lambda: stub.UpdateTask(
            pb.UpdateTaskRequest(
                task=pb.Task(id=task_id, title="hijacked", etag=etag),
                update_mask=field_mask_pb2.FieldMask(paths=["title"]),
            ),
            **options,
        ),
        "DeleteTask": lambda: stub.DeleteTask(
            pb.DeleteTaskRequest(id=task_id, etag=etag), **options
        ),
        "CompleteTask": lambda: stub.CompleteTask(
            pb.CompleteTaskRequest(id=task_id, etag=etag), **options
        ),
        "ReopenTask": lambda: stub.ReopenTask(
            pb.ReopenTaskRequest(id=task_id, etag=etag), **options
        ),
    }


async def test_every_id_rpc_on_another_users_task_is_not_found(tasks_service, new_task_caller):
    alice = await new_task_caller()
    mallory = await new_task_caller()
    task = await alice.create(title="Alice's secret", notes="private", tags=["mine"])
    done = await alice.create(title="Alice's done task")
    done = await alice.complete(done.id)

    for target, etag in ((task, ""), (task, task.etag), (done, ""), (done, done.etag)):
        stolen = calls_on(tasks_service.stub, mallory.metadata, target.id, etag)
        missing = calls_on(tasks_service.stub, mallory.metadata, MISSING, etag)
        for name, call in stolen.items():
            error = await expect_rpc_error(call(), grpc.StatusCode.NOT_FOUND)
            baseline = await expect_rpc_error(missing[name](), grpc.StatusCode.NOT_FOUND)
            assert (error.message, error.reason, error.field_violations) == (
                baseline.message,
                baseline.reason,
                baseline.field_violations,
            ), name

    # Alice's tasks are exactly as she left them; Mallory has nothing.
    assert await alice.get(task.id) == task
    assert await alice.get(done.id) == done
    assert [t.id for t in await alice.list_all()] == [task.id, done.id]
    assert await mallory.list_all() == []
