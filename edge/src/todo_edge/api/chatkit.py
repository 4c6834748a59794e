"""`POST /chatkit` (the ChatKit protocol) and `POST /api/chatkit/session`.

`/chatkit` takes the same bearer token as the REST API. The body is checked before the SDK's
`process()` runs, so what a client can get wrong is a 400/404 problem and never a 500:

- not JSON, an unknown `type`, missing or mistyped params → 400 (`INVALID_CHATKIT_REQUEST`);
- an empty or too long message, attachments, a title that is too long → 400;
- attachments and dictation (`attachments.*`, `input.transcribe`) → 400 `FEATURE_NOT_ENABLED`;
- a thread or item id that is unknown or another user's → 404 (the same answer for both).

JSON operations answer `application/json`. Streaming operations answer `text/event-stream`
(see `chatkit.transport`): the first event is produced before the status line is sent, so a
failure that early is still a problem response; later failures are `error` events.

`/api/chatkit/session` returns a client secret for ChatKit front-ends that ask the host for one
(`getClientSecret`). The edge cannot mint tokens (only the auth service holds signing keys) and
auth has no RPC for a narrower token, so the secret is the caller's own verified internal
access token (an external token is first exchanged for one) with its own expiry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import grpc
from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    ClientToolCallItem,
    InputTranscribeReq,
    ItemsFeedbackReq,
    ItemsListReq,
    StructuredInputItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageInput,
    UserMessageItem,
    WidgetItem,
)
from fastapi import APIRouter, Header, Request, Response
from pydantic import TypeAdapter, ValidationError
from starlette.responses import JSONResponse
from todo_common.db import Database
from todo_common.errors import DomainError, FieldViolation, InvalidArgument, NotFound
from todo_common.logs import request_id_var

from todo_edge.backends import Backends
from todo_edge.chatkit.server import ChatRequestContext, TodoChatKitServer, zone_or_utc
from todo_edge.chatkit.store import TodoChatKitStore
from todo_edge.chatkit.transport import EventStreamResponse, StreamPump, _End, _Failed
from todo_edge.dependencies import CurrentUser, State
from todo_edge.problems import problem_responses
from todo_edge.ratelimit import enforce
from todo_edge.settings import EdgeSettings

log = logging.getLogger(__name__)

router = APIRouter(tags=["chatkit"])

_REQUEST: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)

# Ids the store can hold; a longer one cannot name anything.
MAX_ID_CHARS = 255
MAX_TITLE_CHARS = 200
MAX_QUOTED_CHARS = 8000
MAX_VIOLATIONS = 10

_NOT_FOUND_THREAD = "Thread not found."
_NOT_FOUND_ITEM = "Thread item not found."


@dataclass
class ChatKitRuntime:
    """The edge's database, the ChatKit store and server (built in the app's lifespan)."""

    database: Database
    store: TodoChatKitStore
    server: TodoChatKitServer

    @classmethod
    def start(cls, settings: EdgeSettings, backends: Backends) -> ChatKitRuntime:
        """Builds the runtime; the database connects lazily on first use."""
        database = Database.from_url(
            settings.database_url, settings.database_schema, pool_size=settings.database_pool_size
        )
        store = TodoChatKitStore(database)
        server = TodoChatKitServer(store, backends.agent, backends.tasks, settings)
        return cls(database=database, store=store, server=server)

    async def stop(self) -> None:
        """Closes the database pool."""
        await self.database.dispose()


def _runtime(request: Request) -> ChatKitRuntime:
    runtime: ChatKitRuntime = request.app.state.chatkit
    return runtime


# ---- request checks ----


def _invalid(message: str, field: str, description: str, reason: str) -> InvalidArgument:
    return InvalidArgument(
        message, field_violations=[FieldViolation(field, description)], reason=reason
    )


def parse_chatkit_request(body: bytes) -> ChatKitReq:
    """The typed request, or InvalidArgument (→ 400) saying what is wrong."""
    try:
        return _REQUEST.validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(error.get("type") == "json_invalid" for error in errors):
            raise InvalidArgument(
                "The request body is not valid JSON.", reason="MALFORMED_JSON"
            ) from None
        violations = [
            FieldViolation(
                ".".join(str(part) for part in error.get("loc", ())) or "body",
                str(error.get("msg", "is not valid"))[:300],
            )
            for error in errors[:MAX_VIOLATIONS]
        ]
        raise InvalidArgument(
            "The request is not a valid ChatKit request; see `errors`.",
            field_violations=violations,
            reason="INVALID_CHATKIT_REQUEST",
        ) from None


def _check_text(value: str, field: str, limit: int) -> None:
    if "\x00" in value:
        raise _invalid(
            "Text may not contain NUL characters.", field, "contains NUL", "INVALID_TEXT"
        )
    if len(value) > limit:
        raise _invalid(
            f"The text is too long (at most {limit} characters).",
            field,
            f"must be at most {limit} characters",
            "TEXT_TOO_LONG",
        )


def _check_input(message: UserMessageInput, settings: EdgeSettings) -> None:
    if message.attachments:
        raise _invalid(
            "File attachments are not enabled on this server.",
            "params.input.attachments",
            "must be empty",
            "FEATURE_NOT_ENABLED",
        )
    text = " ".join(part.text for part in message.content).strip()
    if not text:
        raise _invalid(
            "The message is empty.",
            "params.input.content",
            "must contain text",
            "EMPTY_MESSAGE",
        )
    _check_text(text, "params.input.content", settings.chatkit_max_input_chars)
    if message.quoted_text is not None:
        _check_text(message.quoted_text, "params.input.quoted_text", MAX_QUOTED_CHARS)


def _check_id(value: str | None, missing: str) -> None:
    if value is not None and (not value or len(value) > MAX_ID_CHARS):
        raise NotFound(missing)


async def precheck(
    parsed: ChatKitReq, runtime: ChatKitRuntime, settings: EdgeSettings, context: ChatRequestContext
) -> None:
    """Rejects what the SDK would fail on with a 500 or an empty stream; checks that the
    thread and item the request names are the caller's (404 otherwise, before anything
    is written)."""
    store = runtime.store
    if isinstance(parsed, AttachmentsCreateReq | AttachmentsDeleteReq):
        raise InvalidArgument(
            "File attachments are not enabled on this server.", reason="FEATURE_NOT_ENABLED"
        )
    if isinstance(parsed, InputTranscribeReq):
        raise InvalidArgument(
            "Dictation (speech to text) is not enabled on this server.",
            reason="FEATURE_NOT_ENABLED",
        )
    if isinstance(parsed, ThreadsCreateReq | ThreadsAddUserMessageReq):
        _check_input(parsed.params.input, settings)
    if isinstance(parsed, ThreadsUpdateReq):
        _check_text(parsed.params.title, "params.title", MAX_TITLE_CHARS)
    if (
        isinstance(parsed, ThreadsListReq | ItemsListReq)
        and parsed.params.after is not None
        and len(parsed.params.after) > MAX_ID_CHARS
    ):
        raise _invalid(
            "Unknown page cursor.", "params.after", "is not a known id", "INVALID_CURSOR"
        )
    if isinstance(parsed, ItemsFeedbackReq):
        for item_id in parsed.params.item_ids:
            _check_id(item_id, _NOT_FOUND_ITEM)

    thread_id = getattr(parsed.params, "thread_id", None)
    if not isinstance(thread_id, str):
        return
    _check_id(thread_id, _NOT_FOUND_THREAD)
    try:
        await store.load_thread(thread_id, context)
        if isinstance(parsed, ThreadsRetryAfterItemReq):
            _check_id(parsed.params.item_id, _NOT_FOUND_ITEM)
            item = await store.load_item(thread_id, parsed.params.item_id, context)
            if not isinstance(item, UserMessageItem):
                raise _invalid(
                    "Only a user message can be retried.",
                    "params.item_id",
                    "must name a user message",
                    "NOT_A_USER_MESSAGE",
                )
        elif isinstance(parsed, ThreadsCustomActionReq | ThreadsSyncCustomActionReq):
            sender_id = parsed.params.item_id
            if sender_id is not None:
                _check_id(sender_id, _NOT_FOUND_ITEM)
                item = await store.load_item(thread_id, sender_id, context)
                if not isinstance(item, WidgetItem):
                    raise _invalid(
                        "Actions come from widgets.",
                        "params.item_id",
                        "must name a widget item",
                        "NOT_A_WIDGET",
                    )
        elif isinstance(parsed, ThreadsAddStructuredInputReq):
            _check_id(parsed.params.item_id, _NOT_FOUND_ITEM)
            item = await store.load_item(thread_id, parsed.params.item_id, context)
            if not isinstance(item, StructuredInputItem) or item.status != "pending":
                raise _invalid(
                    "There is no pending question to answer.",
                    "params.item_id",
                    "must name a pending structured input",
                    "NO_PENDING_INPUT",
                )
        elif isinstance(parsed, ThreadsAddClientToolOutputReq):
            newest = await store.load_thread_items(thread_id, None, 1, "desc", context)
            if not any(
                isinstance(item, ClientToolCallItem) and item.status == "pending"
                for item in newest.data
            ):
                raise _invalid(
                    "The thread is not waiting for a client tool's output.",
                    "params.thread_id",
                    "has no pending client tool call",
                    "NO_PENDING_TOOL_CALL",
                )
    except NotFoundError as exc:
        raise NotFound(
            _NOT_FOUND_ITEM if "item" in str(exc).lower() else _NOT_FOUND_THREAD
        ) from None


def _problem_for_sdk_error(error: BaseException) -> Exception | None:
    """The domain error an SDK exception means for the client, if it is the client's fault."""
    if isinstance(error, NotFoundError):
        missing: Exception = NotFound(
            _NOT_FOUND_ITEM if "item" in str(error).lower() else _NOT_FOUND_THREAD
        )
        return missing
    if isinstance(error, ValueError):
        # Includes pydantic's ValidationError and the store's checks (e.g. feedback limits).
        invalid: Exception = InvalidArgument(
            "The request cannot be applied to this thread.", reason="INVALID_CHATKIT_REQUEST"
        )
        return invalid
    return None


def _request_context(
    principal_user_id: str,
    token: str,
    accept_language: str | None,
    time_zone: str | None,
    settings: EdgeSettings,
) -> ChatRequestContext:
    locale = ""
    if accept_language:
        first = accept_language.split(",", 1)[0].split(";", 1)[0].strip()
        if 0 < len(first) <= 35 and first != "*":
            locale = first
    zone_name = settings.chatkit_default_time_zone
    if time_zone and len(time_zone) <= 64:
        candidate = time_zone.strip()
        if zone_or_utc(candidate).key == candidate:
            zone_name = candidate
    return ChatRequestContext(
        user_id=principal_user_id,
        token=token,
        request_id=request_id_var.get(),
        locale=locale,
        time_zone=zone_name,
    )


# ---- routes ----

_CHATKIT_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "A ChatKit protocol request: `{type, params, metadata}`.",
            }
        }
    },
}


@router.post(
    "/chatkit",
    summary="The ChatKit protocol endpoint",
    responses={
        200: {
            "description": "JSON for reads and updates; an SSE stream for streaming operations.",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
        **problem_responses(400, 401, 404, 413, 429, 503),
    },
    openapi_extra={"requestBody": _CHATKIT_BODY},
)
async def chatkit_endpoint(
    request: Request,
    user: CurrentUser,
    state: State,
    accept_language: Annotated[str | None, Header()] = None,
    x_time_zone: Annotated[
        str | None, Header(description="The user's IANA time zone, e.g. Europe/London.")
    ] = None,
) -> Response:
    """Point a ChatKit front-end here (`api.url`), sending `Authorization: Bearer <token>`
    from its custom `fetch`. Operations: threads.create / add_user_message / retry_after_item /
    custom_action (+3 more) stream SSE; the rest answer JSON."""
    runtime = _runtime(request)
    settings = state.settings
    body = await request.body()
    parsed = parse_chatkit_request(body)
    context = _request_context(user.user_id, user.token, accept_language, x_time_zone, settings)
    await precheck(parsed, runtime, settings, context)
    try:
        result = await runtime.server.process(body, context)
    except (DomainError, grpc.aio.AioRpcError):
        raise  # Mapped by the app's problem handlers.
    except Exception as exc:
        mapped = _problem_for_sdk_error(exc)
        if mapped is None:
            raise
        raise mapped from None
    if isinstance(result, NonStreamingResult):
        return Response(result.json, media_type="application/json")
    assert isinstance(result, StreamingResult)
    pump = StreamPump(aiter(result))
    first = await pump.first()
    if isinstance(first, _Failed):
        await pump.stop()
        mapped = _problem_for_sdk_error(first.error)
        if mapped is None:
            raise first.error
        raise mapped
    if isinstance(first, _End):
        # Nothing to stream (e.g. a retry of an item that vanished meanwhile).
        await pump.stop()
        first = b""
    return EventStreamResponse(pump, first, heartbeat_seconds=settings.chatkit_heartbeat_seconds)


@router.post(
    "/api/chatkit/session",
    summary="A client secret for a ChatKit front-end",
    responses=problem_responses(401, 429, 503),
)
async def chatkit_session(user: CurrentUser, state: State) -> JSONResponse:
    """Returns `{client_secret, expires_at}`: send the secret as the bearer token to
    `/chatkit`. It is a short-lived internal access token for the caller (their own, or the
    one an external token was exchanged for) and expires with it; ask again before then."""
    settings = state.settings
    await enforce(
        state.limiter,
        f"chatkit-session:{user.user_id}",
        settings.chatkit_sessions_per_user,
        settings.rate_limit_window_seconds,
        "ChatKit session requests",
    )
    expires_at = datetime.fromtimestamp(user.expires_at, UTC) if user.expires_at else None
    return JSONResponse(
        {
            "client_secret": user.token,
            "expires_at": expires_at.isoformat().replace("+00:00", "Z") if expires_at else None,
        },
        headers={"Cache-Control": "no-store"},
    )
