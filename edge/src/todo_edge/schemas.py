"""REST request and response bodies, and their conversion to and from the protos.

Request bodies forbid unknown fields and bound every string, so bad input is a 422 from the
edge before any backend is called. Task JSON uses the proto's snake_case field names; enums are
lower-case words; times are RFC 3339 (UTC). Responses are built straight from the protos as
dicts (the hot path); the response models exist for the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from starlette.responses import JSONResponse
from todo.auth.v1 import auth_service_pb2
from todo.tasks.v1 import tasks_service_pb2

from todo_edge.recurrence import describe_recurrence

TaskStateName = Literal["open", "completed"]
PriorityName = Literal["low", "medium", "high"]
OrderBy = Literal[
    "create_time",
    "create_time desc",
    "due_time",
    "due_time desc",
    "priority",
    "priority desc",
]

STATE_TO_PROTO: dict[str, int] = {
    "open": tasks_service_pb2.TASK_STATE_OPEN,
    "completed": tasks_service_pb2.TASK_STATE_COMPLETED,
}
STATE_FROM_PROTO = {value: name for name, value in STATE_TO_PROTO.items()}
PRIORITY_TO_PROTO: dict[str, int] = {
    "low": tasks_service_pb2.TASK_PRIORITY_LOW,
    "medium": tasks_service_pb2.TASK_PRIORITY_MEDIUM,
    "high": tasks_service_pb2.TASK_PRIORITY_HIGH,
}
PRIORITY_FROM_PROTO = {value: name for name, value in PRIORITY_TO_PROTO.items()}

# No NUL characters in any text: no user means one, and PostgreSQL cannot store them.
NO_NUL = r"^[^\x00]*$"

# What the task-list filters mean, worded once for every way of listing tasks (the REST query,
# the MCP tool).
DUE_BEFORE_HELP = "Only tasks due strictly before this time."
DUE_AFTER_HELP = "Only tasks due at or after this time."
OVERDUE_HELP = "Only open tasks past their due time."

Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
Notes = Annotated[str, StringConstraints(max_length=10_000, pattern=NO_NUL)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=NO_NUL)]
Tags = Annotated[list[Tag], Field(max_length=20)]
Recurrence = Annotated[
    str,
    StringConstraints(max_length=500, pattern=NO_NUL),
    Field(
        description="An RFC 5545 RRULE value, e.g. `FREQ=WEEKLY;BYDAY=MO` (every Monday), "
        "`FREQ=DAILY;INTERVAL=2` (every other day), `FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR` "
        "(weekdays), `FREQ=MONTHLY;BYMONTHDAY=15;COUNT=6`. Completing the task creates its "
        "next occurrence. Empty or null: the task does not repeat.",
        examples=["FREQ=WEEKLY;BYDAY=MO"],
    ),
]
TimeZone = Annotated[
    str,
    StringConstraints(max_length=64, pattern=NO_NUL),
    Field(
        description="The IANA time zone the recurrence is read in, so 09:00 stays 09:00 "
        "local time across daylight-saving changes. Null or empty: UTC.",
        examples=["Europe/London"],
    ),
]

BeforeDuration = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=NO_NUL),
    Field(
        description="An ISO 8601 duration before the due time: `PT1H` (an hour), `PT30M`, "
        "`P1D`, `P1W`, `PT0S` (at the due time); weeks, days, hours, minutes, whole seconds, "
        "at most 365 days. Returned in its shortest form.",
        examples=["PT1H"],
    ),
]


class BeforeReminder(BaseModel):
    """A reminder some time before the task's due time (the task needs a due time)."""

    model_config = ConfigDict(extra="forbid")

    before: BeforeDuration


class AtReminder(BaseModel):
    """A reminder at a fixed time, not after the task's due time."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime


# When to remind: `{"before": "PT1H"}` or `{"at": "2026-12-03T09:00:00Z"}`. Delivered once, on
# the change feed (`GET /api/events`, `event: reminder`), while the task is open. At most 5
# (the tasks service says 400 past that); the bound here only keeps bodies small.
Reminder = BeforeReminder | AtReminder
Reminders = Annotated[list[Reminder], Field(max_length=20)]

_TASK_EXAMPLE: dict[str, Any] = {
    "id": "0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10",
    "title": "Buy milk",
    "notes": "Semi-skimmed, 2 litres",
    "state": "open",
    "priority": "high",
    "due_time": "2026-11-22T17:00:00Z",
    "tags": ["errands"],
    "create_time": "2026-11-21T09:30:00Z",
    "update_time": "2026-11-21T09:30:00Z",
    "complete_time": None,
    "etag": "3f2a9c",
    "recurrence": "FREQ=WEEKLY;BYDAY=MO",
    "time_zone": "Europe/London",
    "repeats": "repeats weekly on Mon",
    "previous_occurrence_id": None,
    "reminders": [{"before": "PT1H"}],
}


class _Body(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def _body_examples(*examples: dict[str, Any]) -> ConfigDict:
    """A request body's config with the OpenAPI examples, so each body states only its example."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class TaskOut(BaseModel):
    """A task as the API returns it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TASK_EXAMPLE]})

    id: str
    title: str
    notes: str
    state: TaskStateName
    priority: PriorityName
    due_time: datetime | None
    tags: list[str]
    create_time: datetime
    update_time: datetime
    complete_time: datetime | None
    etag: str
    # The RRULE, its time zone and how it reads (`repeats weekly on Mon`); null when the task
    # does not repeat. `previous_occurrence_id`: the occurrence this one follows.
    recurrence: str | None
    time_zone: str | None
    repeats: str | None
    previous_occurrence_id: str | None
    reminders: list[Reminder]


# What every REST mutation answers besides its task(s).
UNDO_HELP = (
    "Pass to `POST /api/undo` to revert this change (for a few minutes, once); null when the "
    "call changed nothing."
)


class TaskChangeOut(TaskOut):
    """A task as a change (create, update, reopen) left it, and the change's undo token."""

    undo_token: str | None = Field(default=None, description=UNDO_HELP)


class TaskCompleteOut(TaskChangeOut):
    """The completed task, and the next occurrence its completion created (repeating tasks)."""

    next_task: TaskOut | None = None


class TaskDeleteOut(BaseModel):
    """What a delete answers: the token that restores the task."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"undo_token": "q3V9c1xZ0kHh2mT8YpA4bw"}]}
    )

    undo_token: str | None = Field(default=None, description=UNDO_HELP)


class UndoBody(_Body):
    """Which change to revert."""

    model_config = _body_examples({"undo_token": "q3V9c1xZ0kHh2mT8YpA4bw"}, {})

    undo_token: Annotated[
        str,
        StringConstraints(max_length=256, pattern=NO_NUL),
        Field(
            description="The `undo_token` of a task change's response. Empty or absent: the "
            "caller's most recent change that can still be undone."
        ),
    ] = ""


class UndoOut(BaseModel):
    """The tasks as the undo left them (a task the undo deleted is not listed)."""

    tasks: list[TaskOut]


class TaskListOut(BaseModel):
    """One page of tasks."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tasks": [_TASK_EXAMPLE], "next_page_token": None}]}
    )

    tasks: list[TaskOut]
    # Pass as `page_token` for the next page; null on the last page.
    next_page_token: str | None


class TaskCreate(_Body):
    """A new task. Only `title` is required; priority defaults to medium."""

    model_config = _body_examples(
        {
            "title": "Buy milk",
            "notes": "Semi-skimmed",
            "priority": "high",
            "due_time": "2026-11-22T17:00:00Z",
            "tags": ["errands"],
        },
        {
            "title": "Team sync",
            "due_time": "2026-11-23T09:00:00Z",
            "recurrence": "FREQ=WEEKLY;BYDAY=MO",
            "time_zone": "Europe/London",
        },
        {
            "title": "Dentist",
            "due_time": "2026-12-03T10:00:00Z",
            "reminders": [{"before": "PT1H"}, {"at": "2026-12-02T18:00:00Z"}],
        },
    )

    title: Title
    notes: Notes = ""
    priority: PriorityName | None = None
    due_time: AwareDatetime | None = None
    tags: Tags = Field(default_factory=list)
    recurrence: Recurrence | None = None
    time_zone: TimeZone | None = None
    reminders: Reminders = Field(default_factory=list)


class TaskPatch(_Body):
    """Fields to change; absent fields stay as they are (JSON merge patch). `null` clears
    `due_time`, `notes`, `tags`, `recurrence`, `time_zone` and `reminders`; `title` and
    `priority` cannot be null. `reminders` replaces the whole list."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"title": "Buy oat milk", "due_time": None}]},
    )

    title: Title | None = None
    notes: Notes | None = None
    priority: PriorityName | None = None
    due_time: AwareDatetime | None = None
    tags: Tags | None = None
    recurrence: Recurrence | None = None
    time_zone: TimeZone | None = None
    reminders: Reminders | None = None

    @model_validator(mode="after")
    def _required_values_not_null(self) -> TaskPatch:
        for name in ("title", "priority"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"`{name}` cannot be null")
        return self


class SignUpBody(_Body):
    """A new account."""

    model_config = _body_examples(
        {
            "email": "alice@example.com",
            "password": "correct horse battery staple",
            "display_name": "Alice",
        }
    )

    email: Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=NO_NUL)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
    display_name: Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL)] = ""


class LoginBody(_Body):
    """Credentials."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "alice@example.com", "password": "correct horse battery staple"}]
        },
    )

    email: Annotated[str, StringConstraints(min_length=1, max_length=254, pattern=NO_NUL)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]


class RefreshBody(_Body):
    """A refresh token, for clients that do not use the cookie."""

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=NO_NUL)]


class UserOut(BaseModel):
    """An account."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193a5b0-1f2e-7a3b-8c4d-5e6f7a8b9c0d",
                    "email": "alice@example.com",
                    "display_name": "Alice",
                    "create_time": "2026-11-21T09:00:00Z",
                }
            ]
        }
    )

    id: str
    email: str
    display_name: str
    create_time: datetime | None


class SessionOut(BaseModel):
    """A signed-in session: the access token to send as `Authorization: Bearer …`. The refresh
    token is set as an HttpOnly cookie scoped to /api/auth."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2ln",
                    "token_type": "Bearer",
                    "expires_at": "2026-11-21T09:15:00Z",
                    "user": {
                        "id": "0193a5b0-1f2e-7a3b-8c4d-5e6f7a8b9c0d",
                        "email": "alice@example.com",
                        "display_name": "Alice",
                        "create_time": "2026-11-21T09:00:00Z",
                    },
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_at: datetime
    user: UserOut | None = None


class JwksOut(BaseModel):
    """The public keys that verify access tokens (RFC 7517)."""

    keys: list[dict[str, str]]


class TaskJSONResponse(JSONResponse):
    """A JSON response of task dicts the edge built itself from protos (`task_to_json`): no
    model validation (the data is ours and already in shape) and serialised by orjson, in C.
    The bytes are the same as Starlette's `JSONResponse` (compact separators, UTF-8 text)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_EPOCH = datetime(1970, 1, 1)


def _time(ts: Timestamp) -> str:
    """`ts.ToJsonString()` (RFC 3339, UTC, 0/3/6/9 fractional digits), in integer arithmetic
    and without its range check: the backends only send valid times, and a page of 50 tasks
    formats 150 of them (ToJsonString was 9 % of the edge's CPU on GET /api/tasks)."""
    nanos = ts.nanos
    text = (_EPOCH + timedelta(seconds=ts.seconds)).isoformat()
    if not nanos:
        return text + "Z"
    if not nanos % 1_000_000:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if not nanos % 1000:
        return f"{text}.{nanos // 1000:06d}Z"
    return f"{text}.{nanos:09d}Z"


def task_to_json(task: tasks_service_pb2.Task) -> dict[str, Any]:
    """The REST form of a task."""
    return {
        "id": task.id,
        "title": task.title,
        "notes": task.notes,
        "state": STATE_FROM_PROTO.get(task.state, "open"),
        "priority": PRIORITY_FROM_PROTO.get(task.priority, "medium"),
        "due_time": _time(task.due_time) if task.HasField("due_time") else None,
        "tags": list(task.tags),
        "create_time": _time(task.create_time),
        "update_time": _time(task.update_time),
        "complete_time": _time(task.complete_time) if task.HasField("complete_time") else None,
        "etag": task.etag,
        "recurrence": task.recurrence or None,
        "time_zone": task.time_zone or None,
        "repeats": describe_recurrence(task.recurrence),
        "previous_occurrence_id": task.previous_occurrence_id or None,
        "reminders": [reminder_to_json(reminder) for reminder in task.reminders],
    }


def change_to_json(task: tasks_service_pb2.Task, undo_token: str) -> dict[str, Any]:
    """The REST form of a task a change left, with the change's undo token."""
    body = task_to_json(task)
    body["undo_token"] = undo_token or None
    return body


def reminder_to_json(reminder: tasks_service_pb2.Reminder) -> dict[str, str]:
    """The REST form of a reminder: `{"before": "PT1H"}` or `{"at": "…Z"}`."""
    if reminder.HasField("at"):
        return {"at": _time(reminder.at)}
    return {"before": reminder.before}


def reminders_to_proto(reminders: list[Reminder]) -> list[tasks_service_pb2.Reminder]:
    """The proto reminders of a request body's list."""
    out: list[tasks_service_pb2.Reminder] = []
    for reminder in reminders:
        if isinstance(reminder, AtReminder):
            out.append(tasks_service_pb2.Reminder(at=timestamp(reminder.at)))
        else:
            out.append(tasks_service_pb2.Reminder(before=reminder.before))
    return out


def user_to_json(user: auth_service_pb2.User) -> dict[str, Any]:
    """The REST form of a user."""
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "create_time": _time(user.create_time) if user.HasField("create_time") else None,
    }


def timestamp(value: datetime) -> Timestamp:
    """A proto Timestamp of an aware datetime."""
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def task_from_create(body: TaskCreate) -> tasks_service_pb2.Task:
    """The proto Task a create body describes."""
    task = tasks_service_pb2.Task(
        title=body.title,
        notes=body.notes,
        tags=body.tags,
        recurrence=body.recurrence or "",
        time_zone=body.time_zone or "",
        reminders=reminders_to_proto(body.reminders),
    )
    if body.priority is not None:
        task.priority = PRIORITY_TO_PROTO[body.priority]  # type: ignore[assignment]
    if body.due_time is not None:
        task.due_time.CopyFrom(timestamp(body.due_time))
    return task


def task_from_patch(task_id: str, body: TaskPatch) -> tuple[tasks_service_pb2.Task, list[str]]:
    """The proto Task carrying the patched values, and the update-mask paths."""
    task = tasks_service_pb2.Task(id=task_id)
    paths: list[str] = []
    # Each field of the patch body is the update-mask path of the same name (in their order).
    for name in TaskPatch.model_fields:
        if name not in body.model_fields_set:
            continue
        paths.append(name)
        value = getattr(body, name)
        if value is None:
            continue  # Cleared: the field stays at its zero value.
        if name == "priority":
            task.priority = PRIORITY_TO_PROTO[value]  # type: ignore[assignment]
        elif name == "due_time":
            task.due_time.CopyFrom(timestamp(value))
        elif name == "tags":
            task.tags.extend(value)
        elif name == "reminders":
            task.reminders.extend(reminders_to_proto(value))
        else:
            setattr(task, name, value)
    return task, paths


# ---- Bulk changes (`POST /api/tasks:batchUpdate`, `:batchDelete`, `:batchComplete`) ----

TaskIdText = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
BatchTaskIds = Annotated[
    list[TaskIdText],
    Field(
        min_length=1,
        max_length=100,
        description="The tasks, by id: 1 to 100, each once. Any missing (or another user's) "
        "id is 404 for the whole batch and nothing changes.",
    ),
]
_BATCH_IDS_EXAMPLE = [
    "0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10",
    "0193a5b2-8d1f-7e2a-8b33-6c9d3e5f7a21",
]


class BatchIdsBody(_Body):
    """The tasks a batch delete or complete applies to."""

    model_config = _body_examples({"ids": _BATCH_IDS_EXAMPLE})

    ids: BatchTaskIds


class BatchUpdateBody(_Body):
    """The same change for every task: `due_time` (present: set it, `null` clears it),
    `priority`, tags added and removed. At least one of them."""

    model_config = _body_examples(
        {"ids": _BATCH_IDS_EXAMPLE, "due_time": "2026-12-03T17:00:00Z"},
        {"ids": _BATCH_IDS_EXAMPLE, "add_tags": ["urgent"], "remove_tags": ["someday"]},
    )

    ids: BatchTaskIds
    due_time: AwareDatetime | None = None
    priority: PriorityName | None = None
    add_tags: Tags = Field(default_factory=list)
    remove_tags: Tags = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_change(self) -> BatchUpdateBody:
        if "priority" in self.model_fields_set and self.priority is None:
            raise ValueError("`priority` cannot be null")
        if not (self.model_fields_set & {"due_time", "priority"}) and not (
            self.add_tags or self.remove_tags
        ):
            raise ValueError("give `due_time`, `priority`, `add_tags` or `remove_tags`")
        return self


class BatchTasksOut(BaseModel):
    """The tasks a batch changed (as they now are; deleted ones as they were), in the order
    of the request's ids, and the one token that undoes the whole batch."""

    tasks: list[TaskOut]
    undo_token: str | None = Field(default=None, description=UNDO_HELP)


class BatchCompleteOut(BatchTasksOut):
    """The completed tasks, and the next occurrences of the repeating ones among them."""

    next_tasks: list[TaskOut]


def batch_update_request(
    body: BatchUpdateBody, request_id: str
) -> tasks_service_pb2.BatchUpdateTasksRequest:
    """The BatchUpdateTasks call a batch update body describes."""
    request = tasks_service_pb2.BatchUpdateTasksRequest(
        ids=body.ids, add_tags=body.add_tags, remove_tags=body.remove_tags, request_id=request_id
    )
    if "due_time" in body.model_fields_set:
        request.update_mask.paths.append("due_time")
        if body.due_time is not None:
            request.due_time.CopyFrom(timestamp(body.due_time))
    if body.priority is not None:
        request.update_mask.paths.append("priority")
        request.priority = PRIORITY_TO_PROTO[body.priority]  # type: ignore[assignment]
    return request
