"""The store under the real ChatKit SDK server: raw protocol bodies through `process()`.

The server here is a minimal `ChatKitServer` subclass (its `respond()` echoes); what is under
test is that the SDK's own request handling — thread creation, listing, paging, client tool
output, retry, cancel, feedback, rename, delete — works on this store exactly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ClientToolCallItem,
    FeedbackKind,
    SDKHiddenContextItem,
    StreamOptions,
    StreamOptionsEvent,
    Thread,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)
from pydantic import TypeAdapter
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_edge.chatkit.server import STREAM_OPTIONS_FRAME

EVENTS: TypeAdapter[ThreadStreamEvent] = TypeAdapter(ThreadStreamEvent)
ITEMS: TypeAdapter[list[ThreadItem]] = TypeAdapter(list[ThreadItem])


class EchoServer(ChatKitServer[ChatContext]):
    """Answers "You said: …"; "pick a task" asks the client for a tool call; "hang" streams a
    partial answer and then waits until cancelled."""

    def __init__(self, store: TodoChatKitStore) -> None:
        super().__init__(store)
        self.chat_store = store
        self.hanging = asyncio.Event()

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: ChatContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is None:
            text = "tool output received"
        else:
            text = " ".join(
                part.text
                for part in input_user_message.content
                if isinstance(part, UserMessageTextContent)
            )
        if text == "pick a task":
            yield ThreadItemDoneEvent(
                item=ClientToolCallItem(
                    id=self.store.generate_item_id("tool_call", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    call_id="call_1",
                    name="pick_task",
                    arguments={"state": "open"},
                )
            )
            return
        message = AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        if text == "hang":
            yield ThreadItemAddedEvent(item=message)
            yield ThreadItemUpdatedEvent(
                item_id=message.id,
                update=AssistantMessageContentPartAdded(
                    content_index=0, content=AssistantMessageContent(text="")
                ),
            )
            yield ThreadItemUpdatedEvent(
                item_id=message.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta="Partial an"),
            )
            self.hanging.set()
            await asyncio.Event().wait()
        if thread.title is None:
            thread.title = text[:40]
        yield ThreadItemDoneEvent(
            item=message.model_copy(
                update={"content": [AssistantMessageContent(text=f"You said: {text}")]}
            )
        )

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: ChatContext
    ) -> None:
        await self.chat_store.add_feedback(thread_id, item_ids, feedback, context)


def user_input(text: str) -> dict[str, Any]:
    """The `input` of threads.create / threads.add_user_message."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


async def stream(server: EchoServer, context: ChatContext, op: str, **params: Any) -> list[Any]:
    """Posts a streaming op and returns its parsed SSE events."""
    result = await server.process(json.dumps({"type": op, "params": params}), context)
    assert isinstance(result, StreamingResult)
    body = b"".join([chunk async for chunk in result])
    frames = body.split(b"\n\n")
    assert frames[-1] == b""
    events = []
    for frame in frames[:-1]:
        assert frame.startswith(b"data: ")
        events.append(EVENTS.validate_json(frame[len(b"data: ") :]))
    return events


async def call(server: EchoServer, context: ChatContext, op: str, **params: Any) -> Any:
    """Posts a JSON op and returns its decoded answer."""
    result = await server.process(json.dumps({"type": op, "params": params}), context)
    assert isinstance(result, NonStreamingResult)
    return json.loads(result.json)


def done_items(events: list[Any]) -> list[Any]:
    """The items the stream finished (the ones the server saved)."""
    return [event.item for event in events if isinstance(event, ThreadItemDoneEvent)]


@pytest.fixture
def server(store: TodoChatKitStore) -> EchoServer:
    """The SDK server over the store under test."""
    return EchoServer(store)


async def test_create_then_list_then_get_returns_the_items_exactly(
    server: EchoServer, alice: ChatContext
) -> None:
    events = await stream(server, alice, "threads.create", input=user_input("add buy milk"))
    assert [event.type for event in events] == [
        "thread.created",
        "thread.item.done",
        "stream_options",
        "thread.item.done",
        "thread.updated",
    ]
    thread_id = events[0].thread.id
    assert thread_id.startswith("thr_")
    streamed = done_items(events)
    assert [type(item) for item in streamed] == [UserMessageItem, AssistantMessageItem]
    assert streamed[1].content[0].text == "You said: add buy milk"

    listed = await call(server, alice, "items.list", thread_id=thread_id, order="asc")
    assert ITEMS.validate_python(listed["data"]) == streamed
    assert listed["has_more"] is False

    thread = Thread.model_validate(
        await call(server, alice, "threads.get_by_id", thread_id=thread_id)
    )
    assert thread.id == thread_id
    assert thread.title == "add buy milk"
    assert thread.items.data == streamed
    assert thread.created_at == events[0].thread.created_at


async def test_a_conversation_pages_newest_first(server: EchoServer, alice: ChatContext) -> None:
    events = await stream(server, alice, "threads.create", input=user_input("one"))
    thread_id = events[0].thread.id
    items = done_items(events)
    for text in ("two", "three"):
        more = await stream(
            server, alice, "threads.add_user_message", thread_id=thread_id, input=user_input(text)
        )
        items += done_items(more)

    seen: list[Any] = []
    after = None
    while True:
        params: dict[str, Any] = {"thread_id": thread_id, "order": "desc", "limit": 4}
        if after:
            params["after"] = after
        page = await call(server, alice, "items.list", **params)
        seen += ITEMS.validate_python(page["data"])
        if not page["has_more"]:
            break
        after = page["after"]
    assert seen == items[::-1]
    assert len(seen) == 6


async def test_client_tool_output_completes_the_newest_pending_call(
    server: EchoServer, store: TodoChatKitStore, alice: ChatContext
) -> None:
    events = await stream(server, alice, "threads.create", input=user_input("pick a task"))
    thread_id = events[0].thread.id
    tool_call = done_items(events)[-1]
    assert isinstance(tool_call, ClientToolCallItem) and tool_call.status == "pending"

    answer = await stream(
        server, alice, "threads.add_client_tool_output", thread_id=thread_id, result={"id": "t-1"}
    )
    assert done_items(answer)[0].content[0].text == "You said: tool output received"
    saved = await store.load_item(thread_id, tool_call.id, alice)
    assert saved == tool_call.model_copy(update={"status": "completed", "output": {"id": "t-1"}})
    listed = await call(server, alice, "items.list", thread_id=thread_id, order="asc")
    assert [item["type"] for item in listed["data"]] == [
        "user_message",
        "client_tool_call",
        "assistant_message",
    ]


async def test_retry_after_item_replaces_everything_after_the_message(
    server: EchoServer, alice: ChatContext
) -> None:
    events = await stream(server, alice, "threads.create", input=user_input("one"))
    thread_id = events[0].thread.id
    user_message, first_answer = done_items(events)
    await stream(
        server, alice, "threads.add_user_message", thread_id=thread_id, input=user_input("two")
    )

    retried = await stream(
        server, alice, "threads.retry_after_item", thread_id=thread_id, item_id=user_message.id
    )
    new_answer = done_items(retried)[0]
    assert new_answer.id != first_answer.id
    listed = await call(server, alice, "items.list", thread_id=thread_id, order="asc")
    assert ITEMS.validate_python(listed["data"]) == [user_message, new_answer]


async def test_a_cancelled_stream_keeps_the_partial_answer_and_a_hidden_marker(
    server: EchoServer, store: TodoChatKitStore, alice: ChatContext
) -> None:
    events = await stream(server, alice, "threads.create", input=user_input("one"))
    thread_id = events[0].thread.id
    result = await server.process(
        json.dumps(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("hang")},
            }
        ),
        alice,
    )
    assert isinstance(result, StreamingResult)

    async def consume() -> None:
        async for _chunk in result:
            pass

    reader = asyncio.create_task(consume())
    await asyncio.wait_for(server.hanging.wait(), timeout=10)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader

    everything = (await store.load_thread_items(thread_id, None, 50, "asc", alice)).data
    assert [item.type for item in everything] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    assert isinstance(everything[-1], SDKHiddenContextItem)
    assert everything[-2].content[0].text == "Partial an"
    # The server hides the marker from the client.
    listed = await call(server, alice, "items.list", thread_id=thread_id, order="asc")
    assert [item["type"] for item in listed["data"]] == [item.type for item in everything[:-1]]


async def test_feedback_rename_list_and_delete(
    server: EchoServer, store: TodoChatKitStore, alice: ChatContext
) -> None:
    first = await stream(server, alice, "threads.create", input=user_input("first"))
    second = await stream(server, alice, "threads.create", input=user_input("second"))
    thread_id = first[0].thread.id
    answer = done_items(first)[1]

    assert (
        await call(
            server,
            alice,
            "items.feedback",
            thread_id=thread_id,
            item_ids=[answer.id],
            kind="negative",
        )
        == {}
    )
    assert await store.load_feedback(thread_id, alice) == {answer.id: "negative"}

    renamed = await call(server, alice, "threads.update", thread_id=thread_id, title="Groceries")
    assert renamed["title"] == "Groceries"
    listed = await call(server, alice, "threads.list", order="desc", limit=1)
    assert [thread["id"] for thread in listed["data"]] == [second[0].thread.id]
    assert listed["has_more"] is True
    rest = await call(server, alice, "threads.list", order="desc", limit=1, after=listed["after"])
    assert [(t["id"], t["title"]) for t in rest["data"]] == [(thread_id, "Groceries")]

    assert await call(server, alice, "threads.delete", thread_id=thread_id) == {}
    with pytest.raises(NotFoundError):
        await call(server, alice, "threads.get_by_id", thread_id=thread_id)


async def test_another_user_gets_not_found_or_an_empty_list(
    server: EchoServer, alice: ChatContext, bob: ChatContext
) -> None:
    events = await stream(server, alice, "threads.create", input=user_input("secret plans"))
    thread_id = events[0].thread.id
    user_message = done_items(events)[0]

    for op, params in [
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("threads.update", {"thread_id": thread_id, "title": "pwned"}),
        ("threads.delete", {"thread_id": thread_id}),
        (
            "items.feedback",
            {"thread_id": thread_id, "item_ids": [user_message.id], "kind": "positive"},
        ),
    ]:
        with pytest.raises(NotFoundError):
            await call(server, bob, op, **params)
    for op, params in [
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("hi")}),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_message.id}),
    ]:
        with pytest.raises(NotFoundError):
            await stream(server, bob, op, **params)

    listed = await call(server, bob, "items.list", thread_id=thread_id)
    assert listed == {"data": [], "has_more": False}
    assert (await call(server, bob, "threads.list"))["data"] == []
    # Alice's thread is untouched.
    thread = Thread.model_validate(
        await call(server, alice, "threads.get_by_id", thread_id=thread_id)
    )
    assert thread.title == "secret plans"
    assert thread.items.data == done_items(events)


def test_the_sdk_frame_that_ends_the_opening_is_the_one_the_server_waits_for(
    store: TodoChatKitStore,
) -> None:
    """`TodoChatKitServer` holds a turn's opening frames until one starts with
    `STREAM_OPTIONS_FRAME`: if the SDK ever encoded `stream_options` otherwise, every reply
    would be held to its end."""
    event = StreamOptionsEvent(stream_options=StreamOptions(allow_cancel=True))
    frame = b"data: " + EchoServer(store)._serialize(event) + b"\n\n"
    assert frame.startswith(STREAM_OPTIONS_FRAME)
