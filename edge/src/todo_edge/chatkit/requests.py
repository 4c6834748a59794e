"""What a client can get wrong in a `/chatkit` request, checked before the SDK's `process()`
runs, so that it is a 400/404 problem and never a 500 or an empty stream:

- not JSON, an unknown `type`, missing or mistyped params → 400 (`INVALID_CHATKIT_REQUEST`);
- an empty or too long message, attachments, a title that is too long, a composer tool the
  page does not offer → 400;
- attachments and dictation (`attachments.*`, `input.transcribe`) → 400 `FEATURE_NOT_ENABLED`;
- a thread or item id that is unknown or another user's → 404 (the same answer for both);
- an item of the wrong kind for the op (retrying an answer, a button not on a widget,
  answering no pending question) → 400.

The checks read the thread and item through the store with the request's context, so the
SDK's own reads of them come from the request's read cache (`read_cache.py`). What the SDK
still raises for a client's mistake (`client_errors`) becomes the same problems.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chatkit.server import DEFAULT_PAGE_SIZE
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
    ThreadItem,
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
from pydantic import TypeAdapter, ValidationError
from todo_common.errors import FieldViolation, InvalidArgument, NotFound
from todo_common.logs import request_id_var
from todo_common.tokens import Principal

from todo_edge.chatkit.composer import check_tool_choice
from todo_edge.chatkit.context import ChatContext, zone_or_utc
from todo_edge.chatkit.read_cache import ReadCache
from todo_edge.chatkit.store import TodoChatKitStore
from todo_edge.settings import EdgeSettings

_REQUEST: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)

# Ids the store can hold; a longer one cannot name anything.
MAX_ID_CHARS = 255
MAX_TITLE_CHARS = 200
MAX_QUOTED_CHARS = 8000
MAX_VIOLATIONS = 10
# The longest language tag and time zone name taken from the headers.
MAX_LOCALE_CHARS = 35
MAX_TIME_ZONE_CHARS = 64

NOT_FOUND_THREAD = "Thread not found."
NOT_FOUND_ITEM = "Thread item not found."


def chat_context(
    principal: Principal,
    accept_language: str | None,
    time_zone: str | None,
    settings: EdgeSettings,
) -> ChatContext:
    """The request's context: the verified caller, the first language of `Accept-Language`
    (none if absent or odd), the `X-Time-Zone` if it names a known zone (else the default),
    and a fresh read cache."""
    locale = ""
    if accept_language:
        first = accept_language.split(",", 1)[0].split(";", 1)[0].strip()
        if 0 < len(first) <= MAX_LOCALE_CHARS and first != "*":
            locale = first
    zone_name = settings.chatkit_default_time_zone
    if time_zone and len(time_zone) <= MAX_TIME_ZONE_CHARS:
        candidate = time_zone.strip()
        if zone_or_utc(candidate).key == candidate:
            zone_name = candidate
    return ChatContext(
        user_id=principal.user_id,
        token=principal.token,
        request_id=request_id_var.get(),
        locale=locale,
        time_zone=zone_name,
        read_cache=ReadCache(),
    )


def parse_request(body: str | bytes | bytearray) -> ChatKitReq:
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


async def check_request(
    parsed: ChatKitReq, store: TodoChatKitStore, settings: EdgeSettings, context: ChatContext
) -> None:
    """Rejects what the SDK would fail on with a 500 or an empty stream; checks that the
    thread and item the request names are the caller's (404 otherwise, before anything is
    written). Run it inside `client_errors()`, which turns the store's NotFoundError into 404."""
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
            _check_id(item_id, NOT_FOUND_ITEM)

    thread_id = getattr(parsed.params, "thread_id", None)
    if not isinstance(thread_id, str):
        return
    _check_id(thread_id, NOT_FOUND_THREAD)
    await store.load_thread(thread_id, context)
    if isinstance(parsed, ThreadsRetryAfterItemReq):
        _check_id(parsed.params.item_id, NOT_FOUND_ITEM)
        item = await _item_for_retry(store, thread_id, parsed.params.item_id, context)
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
            _check_id(sender_id, NOT_FOUND_ITEM)
            item = await store.load_item(thread_id, sender_id, context)
            if not isinstance(item, WidgetItem):
                raise _invalid(
                    "Actions come from widgets.",
                    "params.item_id",
                    "must name a widget item",
                    "NOT_A_WIDGET",
                )
    elif isinstance(parsed, ThreadsAddStructuredInputReq):
        _check_id(parsed.params.item_id, NOT_FOUND_ITEM)
        item = await store.load_item(thread_id, parsed.params.item_id, context)
        if not isinstance(item, StructuredInputItem) or item.status != "pending":
            raise _invalid(
                "There is no pending question to answer.",
                "params.item_id",
                "must name a pending structured input",
                "NO_PENDING_INPUT",
            )
    elif isinstance(parsed, ThreadsAddClientToolOutputReq):
        # The same read the SDK makes next (the newest item), so it comes from the cache.
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


@contextmanager
def client_errors() -> Iterator[None]:
    """Turns what the SDK (or the store under it) raises for a client's mistake into the
    domain error it means: a missing or another user's thread or item → NotFound, a value the
    SDK or the store refuses → InvalidArgument. Anything else passes through unchanged."""
    # DomainError and grpc's AioRpcError are neither, so they reach the app's problem handlers.
    try:
        yield
    except NotFoundError as exc:
        raise NotFound(NOT_FOUND_ITEM if "item" in str(exc).lower() else NOT_FOUND_THREAD) from None
    except ValueError:
        # Includes pydantic's ValidationError and the store's checks (e.g. feedback limits).
        raise InvalidArgument(
            "The request cannot be applied to this thread.", reason="INVALID_CHATKIT_REQUEST"
        ) from None


async def _item_for_retry(
    store: TodoChatKitStore, thread_id: str, item_id: str, context: ChatContext
) -> ThreadItem:
    """The item to retry after. The SDK looks for it by paging the thread newest first, so it
    is looked for on that first page here too (read once for both); an older item is loaded
    on its own."""
    newest = await store.load_thread_items(thread_id, None, DEFAULT_PAGE_SIZE, "desc", context)
    for item in newest.data:
        if item.id == item_id:
            return item
    return await store.load_item(thread_id, item_id, context)


def _invalid(message: str, field: str, description: str, reason: str) -> InvalidArgument:
    return InvalidArgument(
        message, field_violations=[FieldViolation(field, description)], reason=reason
    )


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
    check_tool_choice(message.inference_options)


def _check_id(value: str | None, missing: str) -> None:
    if value is not None and (not value or len(value) > MAX_ID_CHARS):
        raise NotFound(missing)
