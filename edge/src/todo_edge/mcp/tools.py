"""The MCP task tools: the assistant's tools (add, list, search, get, update, complete, reopen,
delete), each one call to TaskService as the caller.

Identity comes only from the verified bearer token of the HTTP request (`endpoint.McpCaller`
on the request's state), never from tool arguments, so another user's task id is "not found"
exactly like a missing one. Arguments are validated by the SDK from the signatures below (a bad
one is a tool error, `isError: true`, never a protocol error or a 500); a backend failure is a
tool error with the edge's user-safe problem text (`problems.problem_from_rpc`). Results are
structured (`structuredContent`, with an output schema) in the REST API's task JSON.

The docstrings and field descriptions are prompts: they are what the client's model reads.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import AwareDatetime, BaseModel, Field
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.errors import parse_rpc_error

from todo_edge.mcp.endpoint import McpCaller, caller_of
from todo_edge.problems import problem_from_rpc
from todo_edge.schemas import (
    DUE_AFTER_HELP,
    DUE_BEFORE_HELP,
    NO_NUL,
    OVERDUE_HELP,
    PRIORITY_TO_PROTO,
    STATE_TO_PROTO,
    Notes,
    OrderBy,
    PriorityName,
    Tags,
    TaskOut,
    TaskPatch,
    Title,
    task_from_patch,
    task_to_json,
    timestamp,
)

MAX_PAGE = 100
# A due date without a time means "by the end of that day".
END_OF_DAY = time(23, 59)

TaskId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=NO_NUL,
        description="The task's id, exactly as a list or search returned it.",
    ),
]
Due = Annotated[
    AwareDatetime | date,
    Field(
        description="When it is due: an RFC 3339 date-time with an offset "
        '("2026-12-01T17:00:00+01:00"), or a date ("2026-12-01", due by 23:59 that day in '
        "`time_zone`)."
    ),
]
TimeZone = Annotated[
    str,
    Field(
        max_length=64,
        description="The user's IANA time zone (e.g. Europe/London): what a due date without a "
        "time means.",
    ),
]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE, description="At most this many tasks (1 to 100).")]
StateFilter = Literal["open", "completed", "all"]
Overdue = Annotated[bool, Field(description=OVERDUE_HELP)]
DueBefore = Annotated[AwareDatetime | None, Field(description=DUE_BEFORE_HELP)]
DueAfter = Annotated[AwareDatetime | None, Field(description=DUE_AFTER_HELP)]
T = TypeVar("T")


class TaskPage(BaseModel):
    """One page of the caller's tasks."""

    tasks: list[TaskOut]
    next_page_token: str | None = Field(
        default=None, description="Pass back as `page_token` for the next page; null on the last."
    )


class DeletedTask(BaseModel):
    """What was deleted."""

    deleted: bool
    task: TaskOut


_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _write(*, destructive: bool, idempotent: bool) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=False,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/London."
        ) from None


def _due_time(due: datetime | date, time_zone: str) -> datetime:
    if isinstance(due, datetime):
        return due
    return datetime.combine(due, END_OF_DAY, _zone(time_zone))


def _task(task: pb.Task) -> TaskOut:
    return TaskOut.model_validate(task_to_json(task))


async def _call(caller: McpCaller, rpc: Callable[[Any], Awaitable[T]]) -> T:
    """One TaskService call as the caller; a failure becomes a tool error with the edge's
    user-safe text (the same words a REST client reads in its problem's `detail`)."""
    try:
        return await rpc(caller.tasks)
    except grpc.aio.AioRpcError as error:
        problem = problem_from_rpc(parse_rpc_error(error))
        fields = "; ".join(f"{e['field']}: {e['message']}" for e in problem.errors)
        raise ToolError(f"{problem.detail} {fields}".strip()) from None


async def _one(ctx: Context[Any, Any], rpc: Callable[[Any], Awaitable[Any]]) -> TaskOut:
    """A call whose response holds the task as it now is."""
    response = await _call(caller_of(ctx), rpc)
    return _task(response.task)


async def _page(ctx: Context[Any, Any], request: pb.ListTasksRequest) -> TaskPage:
    response = await _call(caller_of(ctx), lambda tasks: tasks.ListTasks(request))
    return TaskPage(
        tasks=[_task(task) for task in response.tasks],
        next_page_token=response.next_page_token or None,
    )


def _clean_tags(tags: list[str] | None) -> list[str]:
    return [t.strip().lstrip("#").lower() for t in tags or [] if t.strip().lstrip("#")]


async def add_task(
    ctx: Context[Any, Any],
    title: Annotated[Title, Field(description='What needs doing, e.g. "Buy milk".')],
    due: Due | None = None,
    priority: Annotated[PriorityName | None, Field(description="Null for medium.")] = None,
    tags: Annotated[Tags | None, Field(description='Labels without "#".')] = None,
    notes: Annotated[Notes, Field(description="Extra details, if any.")] = "",
    time_zone: TimeZone = "UTC",
) -> TaskOut:
    """Add one task to the user's list (call once per task). Returns the new task."""
    task = pb.Task(title=title, notes=notes, tags=_clean_tags(tags))
    if priority is not None:
        task.priority = PRIORITY_TO_PROTO[priority]  # type: ignore[assignment]
    if due is not None:
        task.due_time.CopyFrom(timestamp(_due_time(due, time_zone)))
    return await _one(ctx, lambda tasks: tasks.CreateTask(pb.CreateTaskRequest(task=task)))


async def list_tasks(
    ctx: Context[Any, Any],
    state: Annotated[StateFilter, Field(description="open (to do), completed, or all.")] = "open",
    priority: PriorityName | None = None,
    tag: Annotated[str | None, Field(max_length=32, pattern=NO_NUL)] = None,
    overdue: Overdue = False,
    due_before: DueBefore = None,
    due_after: DueAfter = None,
    order_by: OrderBy = "due_time",
    limit: Limit = 50,
    page_token: Annotated[
        str | None, Field(max_length=2048, description="`next_page_token` of the previous page.")
    ] = None,
) -> TaskPage:
    """List the user's tasks, soonest due first by default; filters combine with AND. Use it
    to answer "what's on my list" or "what's due this week", and to find a task's id."""
    request = pb.ListTasksRequest(
        page_size=limit,
        page_token=page_token or "",
        state=STATE_TO_PROTO.get(state, pb.TASK_STATE_UNSPECIFIED),  # type: ignore[arg-type]
        priority=PRIORITY_TO_PROTO[priority] if priority else None,  # type: ignore[arg-type]
        tag=(tag or "").strip().lstrip("#").lower(),
        overdue=overdue,
        due_before=timestamp(due_before) if due_before else None,
        due_after=timestamp(due_after) if due_after else None,
        order_by=order_by,
    )
    return await _page(ctx, request)


async def search_tasks(
    ctx: Context[Any, Any],
    query: Annotated[
        str,
        Field(min_length=1, max_length=200, pattern=NO_NUL, description='e.g. "dentist".'),
    ],
    state: StateFilter = "all",
    limit: Limit = 20,
) -> TaskPage:
    """Find the user's tasks whose title or notes contain the words (case-insensitive)."""
    state_filter = STATE_TO_PROTO.get(state, pb.TASK_STATE_UNSPECIFIED)
    request = pb.ListTasksRequest(
        page_size=limit,
        query=query.strip(),
        order_by="due_time",
        state=state_filter,  # type: ignore[arg-type]
    )
    return await _page(ctx, request)


async def get_task(ctx: Context[Any, Any], task_id: TaskId) -> TaskOut:
    """Get one of the user's tasks by its id, with its notes."""
    return await _one(ctx, lambda tasks: tasks.GetTask(pb.GetTaskRequest(id=task_id)))


async def update_task(
    ctx: Context[Any, Any],
    task_id: TaskId,
    title: Title | None = None,
    due: Due | None = None,
    clear_due: Annotated[bool, Field(description="True to remove the due date.")] = False,
    priority: PriorityName | None = None,
    tags: Annotated[
        Tags | None, Field(description="The new full set of tags (replaces the old ones).")
    ] = None,
    notes: Annotated[Notes | None, Field(description="The new notes (replaces them).")] = None,
    time_zone: TimeZone = "UTC",
) -> TaskOut:
    """Change a task: only the fields you pass change. To mark it done or open again use
    complete_task or reopen_task."""
    # The REST PATCH body and its conversion: one way to turn "these fields" into a mask.
    changes: dict[str, Any] = {
        name: value
        for name, value in (("title", title), ("priority", priority), ("notes", notes))
        if value is not None
    }
    if tags is not None:
        changes["tags"] = _clean_tags(tags)
    if clear_due:
        changes["due_time"] = None
    elif due is not None:
        changes["due_time"] = _due_time(due, time_zone)
    if not changes:
        raise ToolError("Nothing to change: pass at least one field to update.")
    task, paths = task_from_patch(task_id, TaskPatch.model_validate(changes))
    request = pb.UpdateTaskRequest(task=task, update_mask=FieldMask(paths=paths))
    return await _one(ctx, lambda tasks: tasks.UpdateTask(request))


async def complete_task(ctx: Context[Any, Any], task_id: TaskId) -> TaskOut:
    """Mark one of the user's tasks as done (completing a done task changes nothing)."""
    return await _one(ctx, lambda tasks: tasks.CompleteTask(pb.CompleteTaskRequest(id=task_id)))


async def reopen_task(ctx: Context[Any, Any], task_id: TaskId) -> TaskOut:
    """Mark a completed task as not done (open) again."""
    return await _one(ctx, lambda tasks: tasks.ReopenTask(pb.ReopenTaskRequest(id=task_id)))


async def delete_task(ctx: Context[Any, Any], task_id: TaskId) -> DeletedTask:
    """Delete one of the user's tasks for good. Only when the user clearly asked for it."""
    caller = caller_of(ctx)
    # Read it first so the answer names what was deleted, and delete exactly that version.
    got = await _call(caller, lambda tasks: tasks.GetTask(pb.GetTaskRequest(id=task_id)))
    request = pb.DeleteTaskRequest(id=task_id, etag=got.task.etag)
    await _call(caller, lambda tasks: tasks.DeleteTask(request))
    return DeletedTask(deleted=True, task=_task(got.task))


async def undo_last_change(ctx: Context[Any, Any]) -> TaskPage:
    """Undo the user's most recent change to their tasks (an add, change, completion,
    reopening or deletion) within a few minutes of it: a deleted task comes back, an added
    one goes away. Answers the tasks as the undo left them."""
    response = await _call(
        caller_of(ctx), lambda tasks: tasks.UndoChange(pb.UndoChangeRequest(undo_token=""))
    )
    return TaskPage(tasks=[_task(task) for task in response.tasks], next_page_token=None)


_TOOLS: list[tuple[Callable[..., Any], ToolAnnotations]] = [
    (add_task, _write(destructive=False, idempotent=False)),
    (list_tasks, _READ),
    (search_tasks, _READ),
    (get_task, _READ),
    (update_task, _write(destructive=True, idempotent=True)),
    (complete_task, _write(destructive=False, idempotent=True)),
    (reopen_task, _write(destructive=False, idempotent=True)),
    (delete_task, _write(destructive=True, idempotent=True)),
    (undo_last_change, _write(destructive=True, idempotent=False)),
]


def build_mcp_server() -> MCPServer[Any]:
    """The MCP server with every task tool registered."""
    server: MCPServer[Any] = MCPServer(
        "todo-assistant",
        title="Todo Assistant",
        instructions="The signed-in user's todo list: add, find, change, complete and delete "
        "tasks. Ids come from list_tasks or search_tasks; never guess them.",
        version="1.0.0",
        # Our tools are the whole surface: no resources/prompts feed to listen to.
        subscriptions=False,
    )
    for tool, hints in _TOOLS:
        description = inspect.cleandoc(tool.__doc__ or "")
        server.add_tool(tool, description=description, annotations=hints, structured_output=True)
    return server
