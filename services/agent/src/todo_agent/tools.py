"""The assistant's tools: each one is a call to the tasks service with the caller's token.

Identity comes only from the run context (`AgentContext`), never from arguments. Every call has
a deadline of min(remaining run time, per-call cap). A failure comes back to the model as JSON
text it can explain (`{"ok": false, "error": ..., "message": ...}`), never as an exception that
ends the run. Results are JSON too, with due times in the user's time zone.

The docstrings are prompts: the SDK turns them into the tool descriptions the model reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

import grpc
from agents import FunctionTool, ModelBehaviorError, RunContextWrapper, function_tool
from agents.function_schema import function_schema
from agents.tool_context import ToolContext
from google.protobuf import field_mask_pb2, timestamp_pb2
from pydantic import BaseModel, ValidationError
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.channels import bind_caller
from todo_common.errors import parse_rpc_error

from todo_agent.context import AgentContext, ToolOutcome

if TYPE_CHECKING:
    # What the operations call: the tasks stub bound to the caller (a typing-only name).
    from todo.tasks.v1.tasks_service_pb2_grpc import TaskServiceAsyncStub as TasksStub

log = logging.getLogger(__name__)

PriorityName = Literal["low", "medium", "high"]
StateName = Literal["open", "completed", "all"]
DueWindowName = Literal["any", "overdue", "today", "tomorrow", "this_week", "next_week"]

_PRIORITY_TO_PB = {
    "low": pb.TASK_PRIORITY_LOW,
    "medium": pb.TASK_PRIORITY_MEDIUM,
    "high": pb.TASK_PRIORITY_HIGH,
}
_PRIORITY_FROM_PB = {value: key for key, value in _PRIORITY_TO_PB.items()}
_STATE_TO_PB = {
    "open": pb.TASK_STATE_OPEN,
    "completed": pb.TASK_STATE_COMPLETED,
    "all": pb.TASK_STATE_UNSPECIFIED,
}
_STATE_FROM_PB = {pb.TASK_STATE_OPEN: "open", pb.TASK_STATE_COMPLETED: "completed"}
MAX_LIST = 100
# A date without a time means "by the end of that day" in the user's time zone.
END_OF_DAY = time(23, 59)


class ToolInputError(ValueError):
    """An argument the model sent cannot be used; the message says how to fix it."""


def _ctx(wrapper: RunContextWrapper[AgentContext]) -> AgentContext:
    return wrapper.context


def _call_id(wrapper: RunContextWrapper[AgentContext]) -> str:
    return wrapper.tool_call_id if isinstance(wrapper, ToolContext) else ""


def task_json(task: pb.Task, ctx: AgentContext) -> dict[str, Any]:
    """A task as the model sees it: due time in the user's time zone, enums as words."""
    data: dict[str, Any] = {
        "id": task.id,
        "title": task.title,
        "state": _STATE_FROM_PB.get(task.state, "open"),
        "priority": _PRIORITY_FROM_PB.get(task.priority, "medium"),
        "due": None,
        "tags": list(task.tags),
    }
    if task.HasField("due_time"):
        data["due"] = _as_local(task.due_time, ctx).isoformat(timespec="minutes")
    if task.notes:
        data["notes"] = task.notes
    if task.recurrence:
        data["recurrence"] = task.recurrence
    return data


def _repeat(task: pb.Task, recurrence: str, ctx: AgentContext) -> None:
    """Sets a task's rule, read in the user's time zone."""
    task.recurrence = recurrence.strip()
    task.time_zone = ctx.time_zone.key


def _as_local(stamp: timestamp_pb2.Timestamp, ctx: AgentContext) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC).astimezone(ctx.time_zone)


def parse_due(value: str, ctx: AgentContext) -> timestamp_pb2.Timestamp:
    """`YYYY-MM-DD` (end of that day), or an ISO 8601 date-time (local time unless it has an
    offset) → a timestamp."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), END_OF_DAY, ctx.time_zone)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ctx.time_zone)
    except ValueError:
        raise ToolInputError(
            f"'{value}' is not a date. Use YYYY-MM-DD or YYYY-MM-DDTHH:MM in the user's time zone."
        ) from None
    return _stamp(moment)


def _stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def due_window(window: str, ctx: AgentContext) -> tuple[datetime | None, datetime | None]:
    """[after, before) bounds of a named due window, in the user's time zone."""
    today = datetime.combine(ctx.now.date(), time(0), ctx.time_zone)
    next_monday = today + timedelta(days=7 - today.weekday())
    if window == "today":
        return today, today + timedelta(days=1)
    if window == "tomorrow":
        return today + timedelta(days=1), today + timedelta(days=2)
    if window == "this_week":
        return today, next_monday
    if window == "next_week":
        return next_monday, next_monday + timedelta(days=7)
    return None, None


# For each failure: the code the model reads, what the model is told (with what to do next),
# and the user-safe sentence reported in ToolCallFinished.error_message.
_ERROR_MESSAGES = {
    grpc.StatusCode.NOT_FOUND: (
        "not_found",
        "No task with that id exists in the user's list. Do not guess ids: list or search the "
        "user's tasks to find the right one.",
        "No task with that id exists in your list.",
    ),
    grpc.StatusCode.UNAVAILABLE: (
        "unavailable",
        "The task list cannot be reached right now. Nothing was changed. Ask the user to try "
        "again in a moment.",
        "The task list cannot be reached right now.",
    ),
    grpc.StatusCode.DEADLINE_EXCEEDED: (
        "timeout",
        "The task list did not answer in time. The change may or may not have been made; "
        "suggest the user check their list.",
        "The task list did not answer in time.",
    ),
    grpc.StatusCode.UNAUTHENTICATED: (
        "unauthenticated",
        "The user's session is no longer valid. Ask them to sign in again.",
        "Your session is no longer valid; sign in again.",
    ),
    grpc.StatusCode.ABORTED: (
        "conflict",
        "The task changed at the same time. Read it again and retry.",
        "The task changed at the same time.",
    ),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (
        "rate_limited",
        "Too many changes in a short time. Ask the user to wait a moment.",
        "Too many changes in a short time.",
    ),
}


def _error_from_rpc(error: grpc.aio.AioRpcError) -> tuple[str, str, str]:
    """(code for the model, message for the model, message for the user)."""
    info = parse_rpc_error(error)
    if info.code == grpc.StatusCode.INVALID_ARGUMENT:
        # Our tasks service's validation messages are written for people and hold no secrets.
        details = "; ".join(f"{v.field}: {v.description}" for v in info.field_violations)
        message = details or info.message or "The request was not valid."
        return "invalid_argument", message, message
    if info.code in _ERROR_MESSAGES:
        return _ERROR_MESSAGES[info.code]
    failed = "The task list could not do that. Nothing was changed."
    return "failed", failed, failed


async def _run_tool(
    wrapper: RunContextWrapper[AgentContext],
    name: str,
    operation: Callable[[AgentContext, TasksStub], Awaitable[ToolOutcome]],
) -> str:
    """Runs one tasks-service operation with the caller's token and the run's deadline, records
    its outcome for the event stream and returns the JSON the model reads.

    `operation` calls the tasks service through the stub it is given: bound to the caller's
    token and to this tool's deadline, which every call it makes shares."""
    ctx = _ctx(wrapper)
    call_id = _call_id(wrapper)
    if ctx.cancelled:
        # The run was cancelled while this call was being scheduled: do nothing.
        raise asyncio.CancelledError
    current = asyncio.current_task()
    if current is not None:
        ctx.tool_tasks.add(current)
    timeout = ctx.tool_timeout()
    outcome: ToolOutcome
    try:
        if timeout <= 0:
            outcome = ToolOutcome(False, "The assistant ran out of time before it could do that.")
        else:
            tasks = bind_caller(ctx.tasks, token=ctx.token, timeout=timeout)
            # The gRPC deadline bounds each call on the wire; this bounds the whole tool,
            # including time spent before the call is sent (connecting, interceptors).
            async with asyncio.timeout(timeout):
                outcome = await operation(ctx, tasks)
    except TimeoutError:
        code, message, user_message = _ERROR_MESSAGES[grpc.StatusCode.DEADLINE_EXCEEDED]
        log.info("tool call timed out", extra={"tool": name})
        ctx.outcomes[call_id] = ToolOutcome(False, user_message)
        return json.dumps({"ok": False, "error": code, "message": message})
    except ToolInputError as exc:
        outcome = ToolOutcome(False, str(exc))
        ctx.outcomes[call_id] = outcome
        return json.dumps({"ok": False, "error": "invalid_argument", "message": str(exc)})
    except grpc.aio.AioRpcError as exc:
        code, message, user_message = _error_from_rpc(exc)
        log.info("tool call failed", extra={"tool": name, "code": exc.code().name})
        outcome = ToolOutcome(False, user_message)
        ctx.outcomes[call_id] = outcome
        return json.dumps({"ok": False, "error": code, "message": message})
    ctx.outcomes[call_id] = outcome
    if not outcome.ok:
        return json.dumps({"ok": False, "error": "failed", "message": outcome.error_message})
    body: dict[str, Any] = {"ok": True, "tasks": [task_json(t, ctx) for t in outcome.tasks]}
    if outcome.deleted_task_ids:
        body["deleted_task_ids"] = outcome.deleted_task_ids
        body["deleted"] = [task_json(t, ctx) for t in outcome.deleted]
    return json.dumps(body, ensure_ascii=False)


class _OneTaskResponse(Protocol):
    """What the create, get, update, complete and reopen RPCs answer: the task as it now is
    (and, for the changes, an `undo_token`)."""

    @property
    def task(self) -> pb.Task: ...


async def _run_task_call(
    wrapper: RunContextWrapper[AgentContext],
    name: str,
    call: Callable[[AgentContext, TasksStub], Awaitable[_OneTaskResponse]],
) -> str:
    """`_run_tool` for the tools whose one RPC answers with one task, which the model reads."""

    async def operation(c: AgentContext, tasks: TasksStub) -> ToolOutcome:
        response = await call(c, tasks)
        undo_token = str(getattr(response, "undo_token", ""))
        return ToolOutcome(True, tasks=[response.task], undo_token=undo_token)

    return await _run_tool(wrapper, name, operation)


def _list_request(
    limit: int, state: pb.TaskState.ValueType, *, query: str = ""
) -> pb.ListTasksRequest:
    """What every listing tool asks for: soonest due first, `limit` kept within 1..MAX_LIST."""
    return pb.ListTasksRequest(
        page_size=max(1, min(limit, MAX_LIST)), state=state, query=query, order_by="due_time"
    )


async def _run_list_call(
    wrapper: RunContextWrapper[AgentContext],
    name: str,
    request_for: Callable[[AgentContext], pb.ListTasksRequest],
) -> str:
    """`_run_tool` for the tools that read a list of tasks (list, search): one ListTasks call."""

    async def operation(c: AgentContext, tasks: TasksStub) -> ToolOutcome:
        response = await tasks.ListTasks(request_for(c))
        return ToolOutcome(True, tasks=list(response.tasks))

    return await _run_tool(wrapper, name, operation)


def creation_request_id(ctx: AgentContext, position: int) -> str:
    """The `CreateTask.request_id` of the run's `position`-th creation (0-based), the same in
    every run of the same user message of the same thread, or "" when the caller did not say
    which message this is. (Scoped by the tasks service to the caller, so another user's
    thread ids cannot collide.)"""
    if not (ctx.thread_id and ctx.input_item_id):
        return ""
    key = f"{ctx.thread_id}\x00{ctx.input_item_id}\x00{position}"
    return "chat-" + hashlib.sha256(key.encode()).hexdigest()[:48]


async def create_task_once(
    ctx: AgentContext, tasks: TasksStub, task: pb.Task
) -> pb.CreateTaskResponse:
    """Creates `task` as the run's next creation, idempotently across retries of the message.

    A retry (ChatKit's `threads.retry_after_item`) runs the same message again after its
    first run failed part-way, often after `add_task` had already succeeded: the same
    position's request id then answers with the task created the first time instead of a
    second copy. If the retry asks for a different task at that position (the model worded
    it otherwise: the tasks service answers ALREADY_EXISTS), that is a task of its own, made
    idempotent by its content."""
    position = ctx.creations
    ctx.creations += 1
    request_id = creation_request_id(ctx, position)
    request = pb.CreateTaskRequest(task=task, request_id=request_id)
    try:
        created: pb.CreateTaskResponse = await tasks.CreateTask(request)
    except grpc.aio.AioRpcError as error:
        if not request_id or error.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        digest = hashlib.sha256(task.SerializeToString(deterministic=True)).hexdigest()[:16]
        request.request_id = f"{request_id}-{digest}"
        created = await tasks.CreateTask(request)
    return created


def _tool_failure(wrapper: RunContextWrapper[Any], error: Exception) -> str:
    """What the model reads when a tool call did not run: what to correct when the arguments
    did not fit (bad JSON, a wrong type, a value outside a choice), else no internals."""
    if isinstance(error, ModelBehaviorError) and isinstance(wrapper, ToolContext):
        problem = argument_problem(wrapper.tool_name, wrapper.tool_arguments)
        if problem:
            return json.dumps(
                {
                    "ok": False,
                    "error": "invalid_arguments",
                    "message": f"{problem}. Call {wrapper.tool_name} again with corrected "
                    "arguments, or ask the user if you do not know the right value.",
                },
                ensure_ascii=False,
            )
    return json.dumps(
        {"ok": False, "error": "internal", "message": "The tool failed unexpectedly."}
    )


# Each tool's argument model, to tell the model what was wrong with arguments the SDK refused
# (the SDK's own error says only "Invalid JSON input", to keep tool data out of its logs).
_ARGUMENT_MODELS: dict[str, type[BaseModel]] = {}
MAX_ARGUMENT_PROBLEMS = 4


def argument_problem(tool_name: str, arguments: str) -> str:
    """Why `arguments` do not fit the tool's parameters, in a sentence ("" if they do)."""
    model = _ARGUMENT_MODELS.get(tool_name)
    if model is None:
        return ""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return f"The arguments are not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(parsed, dict):
        return "The arguments must be a JSON object of named parameters"
    try:
        model(**parsed)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in e['loc']) or 'arguments'}: {e['msg']}"
            for e in exc.errors()[:MAX_ARGUMENT_PROBLEMS]
        ]
        return "The arguments do not fit: " + "; ".join(problems)
    return ""


def _task_tool(func: Callable[..., Awaitable[str]], name: str | None = None) -> FunctionTool:
    """`func` as a tool whose failures the model can read (`_tool_failure`)."""
    tool = function_tool(func, name_override=name, failure_error_function=_tool_failure)
    _ARGUMENT_MODELS[tool.name] = function_schema(func, name_override=name).params_pydantic_model
    return tool


def _clean_tags(tags: list[str] | None) -> list[str]:
    return [t.strip().lstrip("#").lower() for t in tags or [] if t.strip().lstrip("#")]


@_task_tool
async def add_task(
    ctx: RunContextWrapper[AgentContext],
    title: str,
    due: str | None = None,
    priority: PriorityName | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    recurrence: str | None = None,
) -> str:
    """Add one task to the user's list. Call it once per task when the user names several.

    Args:
        title: What needs doing, short and without the date, priority or tags, e.g. "Buy milk".
        due: When it is due, in the user's time zone: "YYYY-MM-DD" for a day (due by the end
            of that day) or "YYYY-MM-DDTHH:MM" when the user said a time. Null for no due date.
        priority: "high", "medium" or "low". Null when the user did not say (medium).
        tags: Labels without the leading "#", e.g. ["groceries"]. Null or empty for none.
        notes: Extra details the user gave, if any.
        recurrence: Null unless the task repeats; then an RFC 5545 RRULE in the user's time
            zone: "FREQ=WEEKLY;BYDAY=MO" (every Monday), "FREQ=WEEKLY;INTERVAL=2" (every
            other week), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR" (weekdays), "FREQ=DAILY",
            "FREQ=MONTHLY;BYMONTHDAY=1"; add COUNT=n or UNTIL=YYYYMMDD to end it. Completing
            the task brings its next occurrence back by itself.
    """

    async def create(c: AgentContext, tasks: TasksStub) -> pb.CreateTaskResponse:
        task = pb.Task(title=title, notes=notes or "", tags=_clean_tags(tags))
        if recurrence:
            _repeat(task, recurrence, c)
        if priority:
            task.priority = _PRIORITY_TO_PB[priority]
        if due:
            task.due_time.CopyFrom(parse_due(due, c))
        return await create_task_once(c, tasks, task)

    return await _run_task_call(ctx, "add_task", create)


@_task_tool
async def list_tasks(
    ctx: RunContextWrapper[AgentContext],
    state: StateName = "open",
    priority: PriorityName | None = None,
    tag: str | None = None,
    due: DueWindowName = "any",
    limit: int = 50,
) -> str:
    """List the user's tasks, soonest due first (tasks without a due date last).

    Use it to answer "what's on my list", "what's due today", "show done tasks", and to find a
    task's id before changing it when the user names it by title.

    Args:
        state: "open" (the default: still to do), "completed", or "all".
        priority: Only tasks with this priority ("high", "medium", "low"); null for any.
        tag: Only tasks with this tag (without "#"); null for any.
        due: "any", "overdue" (open and past due), "today", "tomorrow", "this_week" (today
            until Sunday) or "next_week" (Monday to Sunday of next week).
        limit: At most this many tasks (1 to 100).
    """

    def request_for(c: AgentContext) -> pb.ListTasksRequest:
        request = _list_request(limit, _STATE_TO_PB.get(state, pb.TASK_STATE_OPEN))
        request.tag = (tag or "").strip().lstrip("#").lower()
        if priority:
            request.priority = _PRIORITY_TO_PB[priority]
        if due == "overdue":
            request.overdue = True
        else:
            after, before = due_window(due, c)
            if after is not None:
                request.due_after.CopyFrom(_stamp(after))
            if before is not None:
                request.due_before.CopyFrom(_stamp(before))
        return request

    return await _run_list_call(ctx, "list_tasks", request_for)


@_task_tool
async def search_tasks(
    ctx: RunContextWrapper[AgentContext],
    query: str,
    state: StateName = "all",
    limit: int = 20,
) -> str:
    """Find the user's tasks whose title or notes contain some text (case-insensitive).

    Args:
        query: The words to look for, e.g. "dentist".
        state: "all" (the default), "open" or "completed".
        limit: At most this many tasks (1 to 100).
    """

    state_pb = _STATE_TO_PB.get(state, pb.TASK_STATE_UNSPECIFIED)
    request = _list_request(limit, state_pb, query=query.strip())
    return await _run_list_call(ctx, "search_tasks", lambda _c: request)


@_task_tool
async def update_task(
    ctx: RunContextWrapper[AgentContext],
    task_id: str,
    title: str | None = None,
    due: str | None = None,
    clear_due: bool = False,
    priority: PriorityName | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    recurrence: str | None = None,
    stop_repeating: bool = False,
) -> str:
    """Change a task: rename it, move its due date, change its priority, tags, notes or how it
    repeats.

    Only the fields you pass change; leave the others null. To mark a task done or open again
    use complete_task or reopen_task instead.

    Args:
        task_id: The task's id, exactly as a list or search returned it.
        title: The new title.
        due: The new due date: "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM" in the user's time zone.
        clear_due: True to remove the due date.
        priority: The new priority: "high", "medium" or "low".
        tags: The task's new full set of tags (replaces the old ones), without "#".
        notes: The new notes (replaces the old notes).
        recurrence: How the task repeats from now on, an RRULE as in add_task.
        stop_repeating: True to make the task stop repeating.
    """

    async def update(c: AgentContext, tasks: TasksStub) -> pb.UpdateTaskResponse:
        task = pb.Task(id=task_id.strip())
        paths: list[str] = []
        if title is not None:
            task.title = title
            paths.append("title")
        if clear_due:
            paths.append("due_time")
        elif due:
            task.due_time.CopyFrom(parse_due(due, c))
            paths.append("due_time")
        if priority:
            task.priority = _PRIORITY_TO_PB[priority]
            paths.append("priority")
        if tags is not None:
            task.tags.extend(_clean_tags(tags))
            paths.append("tags")
        if notes is not None:
            task.notes = notes
            paths.append("notes")
        if stop_repeating or recurrence:
            if recurrence and not stop_repeating:
                _repeat(task, recurrence, c)
            paths.extend(["recurrence", "time_zone"])
        if not paths:
            raise ToolInputError("Nothing to change: pass at least one field to update.")
        mask = field_mask_pb2.FieldMask(paths=paths)
        updated: pb.UpdateTaskResponse = await tasks.UpdateTask(
            pb.UpdateTaskRequest(task=task, update_mask=mask)
        )
        return updated

    return await _run_task_call(ctx, "update_task", update)


def _task_id_tool(
    name: str,
    summary: str,
    send: Callable[[TasksStub, str], Awaitable[_OneTaskResponse]],
) -> FunctionTool:
    """A tool that takes only a task id and answers with that task: get, complete, reopen.

    They share one signature, one argument description and one body; only the RPC and the
    summary (the first line of the description the model reads) differ."""

    async def tool(ctx: RunContextWrapper[AgentContext], task_id: str) -> str:
        return await _run_task_call(ctx, name, lambda _c, tasks: send(tasks, task_id.strip()))

    tool.__doc__ = f"""{summary}

    Args:
        task_id: The task's id, exactly as a list or search returned it.
    """
    return _task_tool(tool, name)


get_task = _task_id_tool(
    "get_task",
    "Get one of the user's tasks by its id, with its notes.",
    lambda tasks, task_id: tasks.GetTask(pb.GetTaskRequest(id=task_id)),
)
complete_task = _task_id_tool(
    "complete_task",
    "Mark one of the user's tasks as done.",
    lambda tasks, task_id: tasks.CompleteTask(pb.CompleteTaskRequest(id=task_id)),
)
reopen_task = _task_id_tool(
    "reopen_task",
    "Mark a completed task as not done (open) again.",
    lambda tasks, task_id: tasks.ReopenTask(pb.ReopenTaskRequest(id=task_id)),
)


@_task_tool
async def delete_task(ctx: RunContextWrapper[AgentContext], task_id: str) -> str:
    """Delete one of the user's tasks. Only when the user clearly asked to delete or remove
    it. (It can be brought back with undo_last_change for a few minutes.)

    Args:
        task_id: The task's id, exactly as a list or search returned it.
    """

    async def operation(c: AgentContext, tasks: TasksStub) -> ToolOutcome:
        task_id_clean = task_id.strip()
        # Read it first so the reply can name what was deleted.
        got = await tasks.GetTask(pb.GetTaskRequest(id=task_id_clean))
        deleted = await tasks.DeleteTask(pb.DeleteTaskRequest(id=task_id_clean, etag=got.task.etag))
        return ToolOutcome(
            True,
            deleted_task_ids=[task_id_clean],
            deleted=[got.task],
            undo_token=deleted.undo_token,
        )

    return await _run_tool(ctx, "delete_task", operation)


# What the model is told when there is nothing it can undo, by the tasks service's reason.
_UNDO_REFUSALS = {
    "NOTHING_TO_UNDO": "There is no recent change to undo.",
    "UNDO_TOKEN_NOT_FOUND": "There is no recent change to undo.",
    "ALREADY_UNDONE": "That change has already been undone.",
    "UNDO_CONFLICT": "The task has changed again since; that change can no longer be undone.",
}


@_task_tool
async def undo_last_change(ctx: RunContextWrapper[AgentContext]) -> str:
    """Undo the user's most recent change to their tasks (an add, change, completion,
    reopening or deletion, made here, on a card or anywhere else) when the user says "undo",
    "undo that" or "put it back". A deleted task comes back, an added one goes away, a change
    is reverted. Changes can be undone for a few minutes after they were made. Takes no
    arguments."""

    async def operation(c: AgentContext, tasks: TasksStub) -> ToolOutcome:
        try:
            undone = await tasks.UndoChange(pb.UndoChangeRequest(undo_token=""))
        except grpc.aio.AioRpcError as error:
            info = parse_rpc_error(error)
            if info.code not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                raise
            # The tasks service's own sentences (the expiry one names the window) are
            # written for people.
            return ToolOutcome(False, _UNDO_REFUSALS.get(info.reason, info.message))
        return ToolOutcome(True, tasks=list(undone.tasks))

    return await _run_tool(ctx, "undo_last_change", operation)


TASK_TOOLS: list[FunctionTool] = [
    add_task,
    list_tasks,
    search_tasks,
    get_task,
    update_task,
    complete_task,
    reopen_task,
    delete_task,
    undo_last_change,
]
