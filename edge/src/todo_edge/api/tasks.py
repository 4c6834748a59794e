"""`/api/tasks`: the caller's tasks over TaskService.

Every call forwards the caller's token; the tasks service takes the owner from it, so another
user's task id is 404 exactly like a missing one. Responses carry the task's `ETag`; `If-Match`
on PATCH/DELETE/complete/reopen makes the write conditional (stale → 412). `Idempotency-Key` on
POST makes a retried create return the first task instead of a duplicate. Every change answers
an `undo_token` for `POST /api/undo` (`api/undo.py`); a delete answers it in a 200 body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import AwareDatetime
from starlette.responses import JSONResponse
from todo.tasks.v1 import tasks_service_pb2

from todo_edge.dependencies import TasksClient
from todo_edge.problems import CONDITIONAL_STATE_KEY, problem_responses
from todo_edge.schemas import (
    NO_NUL,
    PRIORITY_TO_PROTO,
    STATE_TO_PROTO,
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
    change_to_json,
    task_from_create,
    task_from_patch,
    task_to_json,
    timestamp,
)

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

TaskId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=NO_NUL,
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
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=128,
            pattern=NO_NUL,
            description="Makes the create safe to retry: the same key and body return the "
            "task created the first time; the same key with another body is 409.",
        ),
    ] = None,
) -> Response:
    """Creates a task; answers 201 with its `Location` and `ETag`."""
    reply = await tasks.CreateTask(
        tasks_service_pb2.CreateTaskRequest(
            task=task_from_create(body), request_id=idempotency_key or ""
        )
    )
    return _task_response(reply.task, status_code=201, undo_token=reply.undo_token)


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


@router.patch(
    "/{task_id}",
    response_model=TaskChangeOut,
    summary="Change a task",
    responses=problem_responses(400, 412, *_COMMON_ERRORS),
)
async def update_task(
    task_id: TaskId,
    body: TaskPatch,
    request: Request,
    tasks: TasksClient,
    if_match: IfMatch = None,
) -> Response:
    """Changes the fields present in the body (a JSON merge patch: `null` clears due_time,
    notes or tags). With `If-Match`, fails with 412 if the task changed since it was read."""
    task, paths = task_from_patch(task_id, body)
    task.etag = _precondition(request, if_match)
    reply = await tasks.UpdateTask(
        tasks_service_pb2.UpdateTaskRequest(task=task, update_mask=FieldMask(paths=paths))
    )
    return _task_response(reply.task, undo_token=reply.undo_token)


@router.delete(
    "/{task_id}",
    response_model=TaskDeleteOut,
    summary="Delete a task",
    responses=problem_responses(412, *_COMMON_ERRORS),
)
async def delete_task(
    task_id: TaskId,
    request: Request,
    tasks: TasksClient,
    if_match: IfMatch = None,
) -> Response:
    """Deletes a task. `POST /api/undo` with the answered `undo_token` restores it for a few
    minutes; after that it is gone for good."""
    reply = await tasks.DeleteTask(
        tasks_service_pb2.DeleteTaskRequest(id=task_id, etag=_precondition(request, if_match))
    )
    return TaskJSONResponse({"undo_token": reply.undo_token or None})


@router.post(
    "/{task_id}/complete",
    response_model=TaskCompleteOut,
    summary="Mark a task completed",
    responses=problem_responses(412, *_COMMON_ERRORS),
)
async def complete_task(
    task_id: TaskId,
    request: Request,
    tasks: TasksClient,
    if_match: IfMatch = None,
) -> Response:
    """Marks the task completed (completing a completed task changes nothing). For a
    repeating task, `next_task` is its next occurrence, created once however often the task
    is completed."""
    reply = await tasks.CompleteTask(
        tasks_service_pb2.CompleteTaskRequest(id=task_id, etag=_precondition(request, if_match))
    )
    body = change_to_json(reply.task, reply.undo_token)
    body["next_task"] = task_to_json(reply.next_task) if reply.HasField("next_task") else None
    return TaskJSONResponse(body, headers={"ETag": _etag_header(reply.task.etag)})


@router.post(
    "/{task_id}/reopen",
    response_model=TaskChangeOut,
    summary="Mark a task open again",
    responses=problem_responses(412, *_COMMON_ERRORS),
)
async def reopen_task(
    task_id: TaskId,
    request: Request,
    tasks: TasksClient,
    if_match: IfMatch = None,
) -> Response:
    """Marks a completed task open again."""
    reply = await tasks.ReopenTask(
        tasks_service_pb2.ReopenTaskRequest(id=task_id, etag=_precondition(request, if_match))
    )
    return _task_response(reply.task, undo_token=reply.undo_token)
