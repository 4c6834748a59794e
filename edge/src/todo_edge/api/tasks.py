"""`/api/tasks`: the caller's tasks over TaskService.

Every call forwards the caller's token; the tasks service takes the owner from it, so another
user's task id is 404 exactly like a missing one. Responses carry the task's `ETag`; `If-Match`
on PATCH/DELETE/complete/reopen makes the write conditional (stale → 412). `Idempotency-Key` on
POST makes a retried create return the first task instead of a duplicate. Every change answers
an `undo_token` for `POST /api/undo` (`api/undo.py`); a delete answers it in a 200 body.

Bulk changes are custom methods on the collection, AIP-136 style (`POST /api/tasks:batchUpdate`,
`:batchDelete`, `:batchComplete`): a colon cannot be part of a task id, so they can never be
mistaken for `/api/tasks/{id}/…`. They are all-or-nothing, and `Idempotency-Key` makes a
repeat answer the first response without changing anything again; a batch answers one
`undo_token` for the whole change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.types import DecoratedCallable
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import AwareDatetime, BaseModel
from starlette.responses import JSONResponse
from todo.tasks.v1 import tasks_service_pb2
from todo.tasks.v1.tasks_service_pb2 import BatchCompleteTasksRequest, BatchDeleteTasksRequest

from todo_edge.dependencies import TasksClient
from todo_edge.problems import CONDITIONAL_STATE_KEY, problem_responses
from todo_edge.schemas import (
    NO_NUL,
    PRIORITY_TO_PROTO,
    STATE_TO_PROTO,
    BatchCompleteOut,
    BatchIdsBody,
    BatchTasksOut,
    BatchUpdateBody,
    OrderBy,
    PriorityName,
    TaskChangeOut,
    TaskCompleteOut,
    TaskCreate,
    TaskDeleteOut,
    TaskJSONResponse,
    TaskListOut,
    TaskOut,
    TaskPatch,
    TaskStateName,
    batch_update_request,
    change_to_json,
    task_from_create,
    task_from_patch,
    task_to_json,
    timestamp,
)

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

# What a task id and an idempotency key may be: 1 to 128 characters, no NUL.
_KEY_RULES: dict[str, Any] = {"min_length": 1, "max_length": 128, "pattern": NO_NUL}
TaskId = Annotated[
    str,
    Path(
        **_KEY_RULES,
        description="The task's id.",
        examples=["0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10"],
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=256,
        description="The task's ETag as last read; the write fails with 412 if it changed.",
        examples=['"3f2a9c"'],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        **_KEY_RULES,
        description="Makes the call safe to retry: the same key and body answer what the "
        "first call answered; the same key with another body is 409.",
    ),
]

_COMMON_ERRORS = (401, 404, 422, 429, 503, 504)


def _etag_header(etag: str) -> str:
    return f'"{etag}"'


def _task_response(
    task: tasks_service_pb2.Task, status_code: int = 200, *, undo_token: str | None = None
) -> JSONResponse:
    """A task with its ETag; a change's response (`undo_token` given) carries the token."""
    headers = {"ETag": _etag_header(task.etag)}
    if status_code == 201:
        headers["Location"] = f"/api/tasks/{task.id}"
    body = task_to_json(task) if undo_token is None else change_to_json(task, undo_token)
    return TaskJSONResponse(body, status_code=status_code, headers=headers)


def _precondition(request: Request, if_match: str | None) -> str:
    """The etag an `If-Match` header asks for ('' for none or `*`), and marks the request
    conditional so a stale etag maps to 412."""
    if if_match is None:
        return ""
    value = if_match.strip()
    if value == "*":
        return ""
    setattr(request.state, CONDITIONAL_STATE_KEY, True)
    value = value.removeprefix("W/")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


@router.get(
    "",
    response_model=TaskListOut,
    summary="List tasks",
    responses=problem_responses(400, 401, 422, 429, 503, 504),
)
async def list_tasks(
    tasks: TasksClient,
    page_size: Annotated[
        int, Query(ge=0, le=500, description="Tasks per page: 0 means 50; at most 500.")
    ] = 0,
    page_token: Annotated[
        str | None,
        Query(
            max_length=2048,
            pattern=NO_NUL,
            description="`next_page_token` of the previous page.",
        ),
    ] = None,
    task_state: Annotated[TaskStateName | None, Query(alias="state")] = None,
    priority: PriorityName | None = None,
    tag: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
    due_before: Annotated[
        AwareDatetime | None, Query(description="Only tasks due strictly before this time.")
    ] = None,
    due_after: Annotated[
        AwareDatetime | None, Query(description="Only tasks due at or after this time.")
    ] = None,
    overdue: Annotated[bool, Query(description="Only open tasks past their due time.")] = False,
    query: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Text in the title or notes.")
    ] = None,
    order_by: OrderBy = "create_time",
) -> Response:
    """Lists the caller's tasks, filtered (all filters combine with AND) and ordered, one page
    at a time. Pass `next_page_token` back as `page_token` with the same filters."""
    request = tasks_service_pb2.ListTasksRequest(
        page_size=page_size,
        page_token=page_token or "",
        tag=tag or "",
        overdue=overdue,
        query=query or "",
        order_by=order_by,
    )
    if task_state is not None:
        request.state = STATE_TO_PROTO[task_state]  # type: ignore[assignment]
    if priority is not None:
        request.priority = PRIORITY_TO_PROTO[priority]  # type: ignore[assignment]
    if due_before is not None:
        request.due_before.CopyFrom(timestamp(due_before))
    if due_after is not None:
        request.due_after.CopyFrom(timestamp(due_after))
    reply = await tasks.ListTasks(request)
    return TaskJSONResponse(
        {
            "tasks": [task_to_json(task) for task in reply.tasks],
            "next_page_token": reply.next_page_token or None,
        }
    )


@router.post(
    "",
    status_code=201,
    response_model=TaskChangeOut,
    summary="Create a task",
    responses=problem_responses(400, 401, 409, 422, 429, 503, 504),
)
async def create_task(
    body: TaskCreate,
    tasks: TasksClient,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Creates a task; answers 201 with its `Location` and `ETag`."""
    reply = await tasks.CreateTask(
        tasks_service_pb2.CreateTaskRequest(
            task=task_from_create(body), request_id=idempotency_key or ""
        )
    )
    return _task_response(reply.task, status_code=201, undo_token=reply.undo_token)


def _batch_json(
    reply: tasks_service_pb2.BatchUpdateTasksResponse
    | tasks_service_pb2.BatchDeleteTasksResponse
    | tasks_service_pb2.BatchCompleteTasksResponse,
) -> dict[str, Any]:
    return {
        "tasks": [task_to_json(task) for task in reply.tasks],
        "undo_token": reply.undo_token or None,
    }


_BATCH_ERRORS = problem_responses(400, 401, 404, 409, 422, 429, 503, 504)


def _batch_route(
    method: str, response_model: type[BaseModel], summary: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The decorator of `POST /api/tasks:<method>`."""
    return router.post(
        f":{method}", response_model=response_model, summary=summary, responses=_BATCH_ERRORS
    )


@_batch_route("batchUpdate", BatchTasksOut, "Change many tasks")
async def batch_update_tasks(
    body: BatchUpdateBody, tasks: TasksClient, idempotency_key: IdempotencyKey = None
) -> Response:
    """Gives every task the same new `due_time` (or none, with `null`) and/or `priority`,
    and adds `add_tags` / removes `remove_tags`: all of them or, on any error, none."""
    reply = await tasks.BatchUpdateTasks(batch_update_request(body, idempotency_key or ""))
    return TaskJSONResponse(_batch_json(reply))


@_batch_route("batchDelete", BatchTasksOut, "Delete many tasks")
async def batch_delete_tasks(
    body: BatchIdsBody, tasks: TasksClient, idempotency_key: IdempotencyKey = None
) -> Response:
    """Deletes every task (all or none); answers them as they were."""
    request = BatchDeleteTasksRequest(ids=body.ids, request_id=idempotency_key or "")
    return TaskJSONResponse(_batch_json(await tasks.BatchDeleteTasks(request)))


@_batch_route("batchComplete", BatchCompleteOut, "Complete many tasks")
async def batch_complete_tasks(
    body: BatchIdsBody, tasks: TasksClient, idempotency_key: IdempotencyKey = None
) -> Response:
    """Completes every task (all or none; completed ones stay as they are). `next_tasks`
    are the next occurrences of the repeating ones, each created once."""
    request = BatchCompleteTasksRequest(ids=body.ids, request_id=idempotency_key or "")
    reply = await tasks.BatchCompleteTasks(request)
    return TaskJSONResponse(
        {**_batch_json(reply), "next_tasks": [task_to_json(task) for task in reply.next_tasks]}
    )


@router.get(
    "/{task_id}",
    response_model=TaskOut,
    summary="Get a task",
    responses=problem_responses(*_COMMON_ERRORS),
)
async def get_task(task_id: TaskId, tasks: TasksClient) -> Response:
    """Returns one task, with its `ETag`."""
    reply = await tasks.GetTask(tasks_service_pb2.GetTaskRequest(id=task_id))
    return _task_response(reply.task)


class Conditional(NamedTuple):
    """The task a write names and the etag its `If-Match` asks for ('' for none)."""

    task_id: str
    etag: str


async def _conditional(task_id: TaskId, request: Request, if_match: IfMatch = None) -> Conditional:
    return Conditional(task_id, _precondition(request, if_match))


# A write's path id and `If-Match` header, checked in the order they always were.
ConditionalTarget = Annotated[Conditional, Depends(_conditional)]


def _task_route(
    method: str, path: str, response_model: type[BaseModel], summary: str, *errors: int
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The decorator of a write to one task (`path` below `/api/tasks/{task_id}`)."""
    return router.api_route(
        "/{task_id}" + path,
        methods=[method],
        response_model=response_model,
        summary=summary,
        responses=problem_responses(*errors, 412, *_COMMON_ERRORS),
    )


@_task_route("PATCH", "", TaskChangeOut, "Change a task", 400)
async def update_task(tasks: TasksClient, target: ConditionalTarget, body: TaskPatch) -> Response:
    """Changes the fields present in the body (a JSON merge patch: `null` clears due_time,
    notes or tags). With `If-Match`, fails with 412 if the task changed since it was read."""
    task, paths = task_from_patch(target.task_id, body)
    task.etag = target.etag
    reply = await tasks.UpdateTask(
        tasks_service_pb2.UpdateTaskRequest(task=task, update_mask=FieldMask(paths=paths))
    )
    return _task_response(reply.task, undo_token=reply.undo_token)


@_task_route("DELETE", "", TaskDeleteOut, "Delete a task")
async def delete_task(tasks: TasksClient, target: ConditionalTarget) -> Response:
    """Deletes a task. `POST /api/undo` with the answered `undo_token` restores it for a few
    minutes; after that it is gone for good."""
    reply = await tasks.DeleteTask(
        tasks_service_pb2.DeleteTaskRequest(id=target.task_id, etag=target.etag)
    )
    return TaskJSONResponse({"undo_token": reply.undo_token or None})


@_task_route("POST", "/complete", TaskCompleteOut, "Mark a task completed")
async def complete_task(tasks: TasksClient, target: ConditionalTarget) -> Response:
    """Marks the task completed (completing a completed task changes nothing). For a
    repeating task, `next_task` is its next occurrence, created once however often the task
    is completed."""
    reply = await tasks.CompleteTask(
        tasks_service_pb2.CompleteTaskRequest(id=target.task_id, etag=target.etag)
    )
    body = change_to_json(reply.task, reply.undo_token)
    body["next_task"] = task_to_json(reply.next_task) if reply.HasField("next_task") else None
    return TaskJSONResponse(body, headers={"ETag": _etag_header(reply.task.etag)})


@_task_route("POST", "/reopen", TaskChangeOut, "Mark a task open again")
async def reopen_task(tasks: TasksClient, target: ConditionalTarget) -> Response:
    """Marks a completed task open again."""
    reply = await tasks.ReopenTask(
        tasks_service_pb2.ReopenTaskRequest(id=target.task_id, etag=target.etag)
    )
    return _task_response(reply.task, undo_token=reply.undo_token)
