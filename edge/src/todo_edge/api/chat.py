"""`/api/chat`: a plain REST chat API over the ChatKit store and the same turn machinery.

For clients that do not speak the ChatKit protocol: start a thread with a first message, add
messages, list threads, page a thread's messages. Every operation is a typed ChatKit request
(`threads.create`, `threads.add_user_message`, `threads.list`, `items.list`) run through the
edge's own ChatKit server, after the same checks `/chatkit` makes (`chatkit.requests`): so a
thread made here is a ChatKit thread (it shows in `threads.list` and back), another user's
thread is 404, an empty or too long message is 400, a turn past the concurrent-turn limit is
429 before anything is written, and the model, history, cards and titles are the ones the
ChatKit UI gets. Nothing here runs a turn of its own: it reads the ChatKit events the server
streams and tells the client what they mean.

A reply is JSON (the whole turn), or with `Accept: text/event-stream` Server-Sent Events:
`thread` (a new thread), `user_message`, `delta` (text as it streams), `message` (an assistant
message, whole), `tasks_changed` (ids of tasks the turn created, changed or deleted), `error`
(the turn failed after it started), and last `done` (the same body the JSON reply has). A
failure after the user's message was stored is reported in the reply's `error` (JSON) or an
`error` event (SSE), not as an HTTP error: the message and any partial answer are kept.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.types import (
    ChatKitReq,
    InferenceOptions,
    ItemsListParams,
    ItemsListReq,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadListParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsListReq,
    UserMessageInput,
    UserMessageTextContent,
)
from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.responses import JSONResponse

from todo_edge.chatkit.context import ChatContext
from todo_edge.chatkit.events import TASKS_CHANGED_EFFECT
from todo_edge.chatkit.requests import chat_context, check_request, client_errors
from todo_edge.chatkit.transport import EventStreamResponse
from todo_edge.dependencies import CurrentUser, State
from todo_edge.problems import problem_responses
from todo_edge.schemas import NO_NUL

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/chat", tags=["chat"])

EVENT_STREAM = "text/event-stream"
GENERIC_FAILURE = "Something went wrong on our side while answering. Try again."

_THREAD_EXAMPLE: dict[str, Any] = {
    "id": "thr_0193a5b27c4e7d3a",
    "title": "Add buy milk tomorrow, high priority",
    "created_at": "2026-11-21T09:30:00Z",
}
_USER_EXAMPLE: dict[str, Any] = {
    "id": "msg_0193a5b27c4e7d3b",
    "role": "user",
    "text": "add buy milk tomorrow, high priority",
    "created_at": "2026-11-21T09:30:00Z",
}
_ASSISTANT_EXAMPLE: dict[str, Any] = {
    "id": "msg_0193a5b27c4e7d3c",
    "role": "assistant",
    "text": "Added Buy milk — due tomorrow · high priority",
    "created_at": "2026-11-21T09:30:01Z",
}
_TURN_EXAMPLE: dict[str, Any] = {
    "thread": _THREAD_EXAMPLE,
    "user_message": _USER_EXAMPLE,
    "messages": [_ASSISTANT_EXAMPLE],
    "reply": _ASSISTANT_EXAMPLE["text"],
    "task_ids": ["0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10"],
    "deleted_task_ids": [],
    "error": None,
}
_SSE_EXAMPLE = (
    'event: user_message\ndata: {"id":"msg_…","role":"user","text":"add buy milk",…}\n\n'
    'event: delta\ndata: {"message_id":"msg_…","delta":"Added Buy milk"}\n\n'
    'event: message\ndata: {"id":"msg_…","role":"assistant","text":"Added Buy milk",…}\n\n'
    'event: tasks_changed\ndata: {"task_ids":["0193a5b2-…"],"deleted_task_ids":[]}\n\n'
    'event: done\ndata: {"thread":{…},"user_message":{…},"messages":[…],"reply":"…",…}\n\n'
)


class ChatMessageIn(BaseModel):
    """A message from the user."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"message": "add buy milk tomorrow, high priority"}]},
    )

    message: Annotated[str, StringConstraints(min_length=1, pattern=NO_NUL)]


class ThreadOut(BaseModel):
    """A conversation (the same thread the ChatKit UI shows)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_THREAD_EXAMPLE]})

    id: str
    title: str | None
    created_at: str


class MessageOut(BaseModel):
    """One message of a thread, as text."""

    model_config = ConfigDict(json_schema_extra={"examples": [_USER_EXAMPLE, _ASSISTANT_EXAMPLE]})

    id: str
    role: Literal["user", "assistant"]
    text: str
    created_at: str


class TurnError(BaseModel):
    """Why a turn failed after it started, and whether trying again may help."""

    message: str
    retryable: bool


class TurnOut(BaseModel):
    """One exchange: the thread, the user's message, and the assistant's reply."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TURN_EXAMPLE]})

    thread: ThreadOut
    user_message: MessageOut | None
    messages: list[MessageOut] = Field(description="The assistant's messages of this turn.")
    reply: str = Field(description="Their text, joined.")
    task_ids: list[str] = Field(description="Tasks the turn created or changed.")
    deleted_task_ids: list[str]
    error: TurnError | None


class ThreadListOut(BaseModel):
    """One page of threads, newest first."""

    threads: list[ThreadOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")


class MessageListOut(BaseModel):
    """One page of a thread's messages."""

    messages: list[MessageOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")


def _utc(stamp: str) -> str:
    # The SDK stamps items with naive time; the edge process runs in UTC (see __main__).
    return stamp if stamp.endswith("Z") or "+" in stamp[10:] else stamp + "Z"


def _thread_out(thread: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": thread["id"],
        "title": thread.get("title"),
        "created_at": _utc(thread["created_at"]),
    }


def _message_out(item: dict[str, Any]) -> dict[str, Any] | None:
    """A user or assistant message item as text; None for other items (cards, hidden ones)."""
    role = {"user_message": "user", "assistant_message": "assistant"}.get(item["type"])
    if role is None:
        return None
    text = "".join(part.get("text", "") for part in item.get("content", []))
    return {"id": item["id"], "role": role, "text": text, "created_at": _utc(item["created_at"])}


class Turn:
    """What the ChatKit events of one turn mean for a REST client, event by event."""

    def __init__(self) -> None:
        self.thread: dict[str, Any] | None = None
        self.user_message: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.task_ids: dict[str, None] = {}
        self.deleted_task_ids: dict[str, None] = {}
        self.error: dict[str, Any] | None = None

    def feed(self, event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The REST events (name, data) that one ChatKit event makes, if any."""
        kind = event.get("type")
        if kind in ("thread.created", "thread.updated"):
            self.thread = _thread_out(event["thread"])
            return [("thread", self.thread)] if kind == "thread.created" else []
        if kind == "thread.item.done":
            message = _message_out(event["item"])
            if message is None:
                return []
            if message["role"] == "user":
                self.user_message = message
                return [("user_message", message)]
            self.messages.append(message)
            return [("message", message)]
        if kind == "thread.item.updated":
            update = event.get("update", {})
            if update.get("type") == "assistant_message.content_part.text_delta":
                return [("delta", {"message_id": event["item_id"], "delta": update["delta"]})]
            return []
        if kind == "client_effect" and event.get("name") == TASKS_CHANGED_EFFECT:
            data = event.get("data", {})
            self.task_ids.update(dict.fromkeys(data.get("task_ids", [])))
            self.deleted_task_ids.update(dict.fromkeys(data.get("deleted_task_ids", [])))
            return [("tasks_changed", data)]
        if kind == "error":
            self.fail(event.get("message") or GENERIC_FAILURE, bool(event.get("allow_retry")))
            return [("error", self.error or {})]
        return []

    def fail(self, message: str, retryable: bool) -> None:
        self.error = {"message": message, "retryable": retryable}

    def body(self) -> dict[str, Any]:
        """The whole turn (the JSON reply, and the SSE `done` event)."""
        return {
            "thread": self.thread,
            "user_message": self.user_message,
            "messages": self.messages,
            "reply": "\n\n".join(m["text"] for m in self.messages if m["text"]),
            "task_ids": [t for t in self.task_ids if t not in self.deleted_task_ids],
            "deleted_task_ids": list(self.deleted_task_ids),
            "error": self.error,
        }


def _chat_event(chunk: bytes) -> dict[str, Any]:
    """One ChatKit SSE frame (`data: <json>\\n\\n`, as the SDK writes it) as JSON."""
    event: dict[str, Any] = orjson.loads(chunk.removeprefix(b"data: "))
    return event


def _frame(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _user_input(text: str) -> UserMessageInput:
    return UserMessageInput(
        content=[UserMessageTextContent(text=text)],
        attachments=[],
        inference_options=InferenceOptions(),
    )


def _wants_stream(accept: str | None) -> bool:
    return EVENT_STREAM in (accept or "")


async def _run_turn(
    request: ThreadsCreateReq | ThreadsAddUserMessageReq,
    state: State,
    context: ChatContext,
    accept: str | None,
    status_code: int,
) -> Response:
    """Runs a streaming ChatKit request through the edge's ChatKit server and answers with
    the whole turn (JSON) or its events (SSE)."""
    settings, server = state.settings, state.chat_server
    turn = Turn()
    with client_errors():
        await check_request(request, server.chat_store, settings, context)
        if isinstance(request, ThreadsAddUserMessageReq):
            # Read by the check just before: from the request's read cache.
            thread = await server.chat_store.load_thread(request.params.thread_id, context)
            turn.thread = _thread_out(thread.model_dump(mode="json"))
        result = await server.process_parsed(request, context)
    assert isinstance(result, StreamingResult)
    if _wants_stream(accept):
        return await EventStreamResponse.open(
            _event_frames(result, turn), heartbeat_seconds=settings.chatkit_heartbeat_seconds
        )
    with client_errors():
        async for chunk in result:
            turn.feed(_chat_event(chunk))
    body = TurnOut.model_validate(turn.body())
    headers = {"Location": f"/api/chat/threads/{body.thread.id}"} if status_code == 201 else {}
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


async def _event_frames(result: StreamingResult, turn: Turn) -> AsyncIterator[bytes]:
    """The REST events of a turn. A failure before the first event raises (so it is still a
    problem response, e.g. 429 when the turn is refused); after it, an `error` event."""
    started = False
    try:
        async for chunk in result:
            for name, data in turn.feed(_chat_event(chunk)):
                started = True
                yield _frame(name, data)
    except Exception:
        if not started:
            raise
        log.exception("chat stream failed")
        turn.fail(GENERIC_FAILURE, True)
        yield _frame("error", turn.error or {})
    yield _frame("done", turn.body())


_TURN_RESPONSES: dict[str, Any] = {
    "content": {
        "application/json": {"example": _TURN_EXAMPLE},
        EVENT_STREAM: {"schema": {"type": "string"}, "example": _SSE_EXAMPLE},
    }
}
ThreadId = Annotated[
    str,
    Path(min_length=1, max_length=255, pattern=NO_NUL, examples=[_THREAD_EXAMPLE["id"]]),
]
AcceptHeader = Annotated[
    str | None,
    Header(description="`text/event-stream` for Server-Sent Events instead of one JSON reply."),
]
TimeZoneHeader = Annotated[
    str | None, Header(description="The user's IANA time zone, e.g. Europe/London.")
]
# A page of threads or of messages: 1 to 100 (20 unless asked).
PageLimit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[
    str | None,
    Query(max_length=255, pattern=NO_NUL, description="`next_cursor` of the previous page."),
]


async def _chat_context(
    user: CurrentUser,
    state: State,
    accept_language: Annotated[str | None, Header()] = None,
    x_time_zone: TimeZoneHeader = None,
) -> ChatContext:
    """The request's ChatKit context (caller, language, time zone), as `/chatkit` builds it."""
    return chat_context(user, accept_language, x_time_zone, state.settings)


Context = Annotated[ChatContext, Depends(_chat_context)]


@router.post(
    "/threads",
    status_code=201,
    response_model=TurnOut,
    summary="Start a conversation",
    responses={201: _TURN_RESPONSES, **problem_responses(400, 401, 413, 422, 429, 503)},
)
async def create_thread(
    body: ChatMessageIn, context: Context, state: State, accept: AcceptHeader = None
) -> Response:
    """Creates a thread with its first message and answers with the thread and the reply
    (201, `Location` of the thread), or streams the turn with `Accept: text/event-stream`."""
    create = ThreadsCreateReq(params=ThreadCreateParams(input=_user_input(body.message)))
    return await _run_turn(create, state, context, accept, 201)


@router.post(
    "/threads/{thread_id}/messages",
    response_model=TurnOut,
    summary="Send a message",
    responses={200: _TURN_RESPONSES, **problem_responses(400, 401, 404, 413, 422, 429, 503)},
)
async def add_message(
    thread_id: ThreadId,
    body: ChatMessageIn,
    context: Context,
    state: State,
    accept: AcceptHeader = None,
) -> Response:
    """Adds the user's message to the thread and answers with the reply, or streams it with
    `Accept: text/event-stream`. The assistant sees the thread's recent history."""
    add = ThreadsAddUserMessageReq(
        params=ThreadAddUserMessageParams(thread_id=thread_id, input=_user_input(body.message))
    )
    return await _run_turn(add, state, context, accept, 200)


async def _read(request: ChatKitReq, state: State, context: ChatContext) -> dict[str, Any]:
    """A ChatKit read through the edge's ChatKit server (hidden items filtered as for the UI)."""
    with client_errors():
        await check_request(request, state.chat_server.chat_store, state.settings, context)
        result = await state.chat_server.process_parsed(request, context)
    assert isinstance(result, NonStreamingResult)
    page: dict[str, Any] = orjson.loads(result.json)
    return page


def _next_cursor(page: dict[str, Any]) -> str | None:
    return page.get("after") if page.get("has_more") else None


@router.get(
    "/threads",
    response_model=ThreadListOut,
    summary="List conversations",
    responses=problem_responses(400, 401, 422, 429, 503),
)
async def list_threads(
    context: Context,
    state: State,
    limit: PageLimit = 20,
    after: Cursor = None,
) -> ThreadListOut:
    """The caller's threads, newest first (the ones ChatKit lists too)."""
    page = await _read(
        ThreadsListReq(params=ThreadListParams(limit=limit, after=after, order="desc")),
        state,
        context,
    )
    return ThreadListOut.model_validate(
        {"threads": [_thread_out(t) for t in page["data"]], "next_cursor": _next_cursor(page)}
    )


@router.get(
    "/threads/{thread_id}/messages",
    response_model=MessageListOut,
    summary="Read a conversation",
    responses=problem_responses(400, 401, 404, 422, 429, 503),
)
async def list_messages(
    thread_id: ThreadId,
    context: Context,
    state: State,
    limit: PageLimit = 20,
    after: Cursor = None,
    order: Annotated[
        Literal["asc", "desc"], Query(description="By time: oldest first (asc).")
    ] = "asc",
) -> MessageListOut:
    """A page of the thread's messages (user and assistant text; task cards are left out, so
    a page may hold fewer than `limit`). Another user's thread is 404."""
    page = await _read(
        ItemsListReq(
            params=ItemsListParams(thread_id=thread_id, limit=limit, after=after, order=order)
        ),
        state,
        context,
    )
    messages = [m for m in map(_message_out, page["data"]) if m is not None]
    return MessageListOut.model_validate({"messages": messages, "next_cursor": _next_cursor(page)})


class ChatModelOut(BaseModel):
    """A model a message may pick (ChatKit's `composer.models` option takes these as is)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "offline",
                    "label": "Offline assistant",
                    "description": "Built in, no network: understands plain task commands.",
                    "default": True,
                }
            ]
        }
    )

    id: str = Field(description="What a message's `inference_options.model` names.")
    label: str
    description: str
    default: bool


class ChatModelListOut(BaseModel):
    """The models the assistant can run, the default first."""

    models: list[ChatModelOut]


@router.get(
    "/models",
    response_model=ChatModelListOut,
    summary="List the models a message may pick",
    responses=problem_responses(401, 429, 503),
)
async def list_models(context: Context, state: State) -> ChatModelListOut:
    """The agent's models (cached for a few seconds): pass one's `id` as a ChatKit message's
    `inference_options.model` to answer that message with it; any other name is refused."""
    models = await state.chat_server.models.models(context.token)
    return ChatModelListOut(
        models=[
            ChatModelOut(
                id=model.id, label=model.label, description=model.description, default=model.default
            )
            for model in models
        ]
    )
