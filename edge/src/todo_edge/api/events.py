"""`GET /api/events`: the caller's live task changes as Server-Sent Events.

Each stream is one `TaskService.WatchTaskEvents` call with the caller's token, so it carries
every committed change of the caller's tasks whatever made it (REST, chat tools, card
buttons, a recurring task's next occurrence), from whichever edge or tasks replica. The
tasks service reads them from its outbox table, so nothing lives only in this process.

Frames: first `event: ready` with the cursor the stream starts from (a client refetches its
list once it is live, then applies changes); then one `event: task` per change, and one
`event: reminder` per reminder that fell due (the tasks service's scheduler), with `id:`
set to its cursor; `: keep-alive` comments in silences. A client that reconnects sends the
last id as `Last-Event-ID` and gets what it missed. Each stream ends after
`events_max_seconds` (so a token that expired meanwhile is checked again on reconnect), and
a user holds at most `events_per_user` open streams per edge process (429 past that).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated, Any

import grpc
import orjson
from fastapi import APIRouter, Header, Request
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.channels import bind_caller
from todo_common.errors import ResourceExhausted

from todo_edge.chatkit.transport import EventStreamResponse
from todo_edge.dependencies import CurrentUser, State
from todo_edge.problems import problem_responses
from todo_edge.schemas import task_to_json

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["events"])

EVENT_TYPES = {
    pb.TASK_EVENT_KIND_CREATED: "task.created",
    pb.TASK_EVENT_KIND_UPDATED: "task.updated",
    pb.TASK_EVENT_KIND_COMPLETED: "task.completed",
    pb.TASK_EVENT_KIND_REOPENED: "task.reopened",
    pb.TASK_EVENT_KIND_DELETED: "task.deleted",
    pb.TASK_EVENT_KIND_REMINDER: "reminder",
}
# How long a browser waits before reconnecting after the stream ends (SSE `retry:`).
RECONNECT_MILLISECONDS = 1000
# Beyond the stream's own bound, for the gRPC deadline (the stream ends itself first).
DEADLINE_MARGIN_SECONDS = 30.0

LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=19,
        pattern=r"^[0-9]*$",
        description="The `id` of the last event received: the stream resumes after it.",
        examples=["1042"],
    ),
]


class FeedSlots:
    """How many feeds each user has open in this process."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def acquire(self, user_id: str, limit: int) -> None:
        """Takes one of the user's slots, or raises ResourceExhausted (429)."""
        if self._open[user_id] >= limit:
            raise ResourceExhausted(
                f"Too many open event streams (at most {limit}); close one and retry.",
                reason="TOO_MANY_EVENT_STREAMS",
                retry_after_seconds=5.0,
            )
        self._open[user_id] += 1

    def release(self, user_id: str) -> None:
        """Gives the slot back."""
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]


def _slots(request: Request) -> FeedSlots:
    slots: FeedSlots | None = getattr(request.app.state, "event_feed_slots", None)
    if slots is None:
        slots = FeedSlots()
        request.app.state.event_feed_slots = slots
    return slots


def _frame(event: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def task_event_json(event: pb.TaskEvent) -> dict[str, Any]:
    """The JSON of one change, as `data:` of an `event: task` frame (or of an `event:
    reminder` frame, which also says when the reminder was set to go off)."""
    data = {
        "type": EVENT_TYPES.get(event.kind, "task.updated"),
        "cursor": event.cursor,
        "task_id": event.task_id,
        "task": task_to_json(event.task) if event.HasField("task") else None,
        "event_time": event.event_time.ToJsonString(),
    }
    if event.HasField("reminder_time"):
        data["reminder_time"] = event.reminder_time.ToJsonString()
    return data


def _event_frame(event: pb.TaskEvent) -> bytes:
    # A reminder is not a change of the task: its own event name, so a client that only
    # applies `task` frames to its list is not disturbed by it.
    name = "reminder" if event.kind == pb.TASK_EVENT_KIND_REMINDER else "task"
    return _frame(name, task_event_json(event), event.cursor)


async def _frames(call: Any, *, max_seconds: float, on_end: Any) -> AsyncIterator[bytes]:
    """The SSE frames of one WatchTaskEvents call, until it ends, fails or times out."""
    try:
        first: pb.WatchTaskEventsResponse = await call.read()
        if first is grpc.aio.EOF:
            return
        yield f"retry: {RECONNECT_MILLISECONDS}\n".encode() + _frame(
            "ready", {"cursor": first.cursor}, first.cursor
        )
        deadline = time.monotonic() + max_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    response = await call.read()
            except TimeoutError:
                return
            except grpc.aio.AioRpcError as error:
                # After the start a failure ends the stream; the client resumes from its
                # last id (on another replica, if this one is going away).
                log.info("event stream ended by the backend", extra={"code": error.code().name})
                return
            if response is grpc.aio.EOF:
                return
            if response.events:
                yield b"".join(_event_frame(event) for event in response.events)
    finally:
        call.cancel()
        on_end()


@router.get(
    "/events",
    summary="Live task changes (Server-Sent Events)",
    response_model=None,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: ready` (the start cursor), then `event: task` per change "
            "and `event: reminder` per reminder due, with `id:` set to its cursor; "
            "`: keep-alive` comments in silences.",
        },
        **problem_responses(401, 422, 429, 503, 504),
    },
)
async def task_events(
    request: Request, state: State, user: CurrentUser, last_event_id: LastEventId = None
) -> EventStreamResponse:
    """Streams every change of the caller's tasks from now on, or after `Last-Event-ID`."""
    settings = state.settings
    slots = _slots(request)
    slots.acquire(user.user_id, settings.events_per_user)
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            slots.release(user.user_id)

    try:
        tasks = bind_caller(
            state.backends.tasks,
            token=user.token,
            timeout=settings.events_max_seconds + DEADLINE_MARGIN_SECONDS,
        )
        call = tasks.WatchTaskEvents(pb.WatchTaskEventsRequest(cursor=last_event_id or ""))
        return await EventStreamResponse.open(
            _frames(call, max_seconds=settings.events_max_seconds, on_end=release),
            heartbeat_seconds=settings.events_heartbeat_seconds,
        )
    except BaseException:
        release()
        raise
