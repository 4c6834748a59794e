"""The history the agent sees: read from the store, except on a thread this request created."""

from __future__ import annotations

from datetime import datetime

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    Page,
    Thread,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
)
from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo_edge.chatkit.context import ChatContext
from todo_edge.chatkit.history import load_history
from todo_edge.chatkit.store import TodoChatKitStore


def _user(thread_id: str, item_id: str, text: str) -> UserMessageItem:
    fields = {"id": item_id, "thread_id": thread_id, "created_at": datetime.now()}
    content = [{"type": "input_text", "text": text}]
    return UserMessageItem.model_validate(
        {**fields, "content": content, "attachments": [], "inference_options": {}}
    )


async def test_a_stored_thread_sends_its_earlier_messages(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread = ThreadMetadata(id="thr_history", created_at=datetime.now())
    await store.save_thread(thread, alice)
    await store.add_thread_item(thread.id, _user(thread.id, "msg_1", "add milk"), alice)
    answer = AssistantMessageItem(
        id="msg_2",
        thread_id=thread.id,
        created_at=datetime.now(),
        content=[AssistantMessageContent(text="Added milk.")],
    )
    await store.add_thread_item(thread.id, answer, alice)
    current = _user(thread.id, "msg_3", "and eggs")
    await store.add_thread_item(thread.id, current, alice)

    loaded = await store.load_thread(thread.id, alice)
    history = await load_history(store, loaded, current, alice, max_items=10, max_chars=100)

    assert [(m.role, m.text) for m in history] == [
        (agent_pb.ROLE_USER, "add milk"),
        (agent_pb.ROLE_ASSISTANT, "Added milk."),
    ]


async def test_a_thread_this_request_created_reads_nothing(alice: ChatContext) -> None:
    class NoReads(TodoChatKitStore):
        def __init__(self) -> None:
            pass

        async def load_thread_items(self, *args: object, **kwargs: object) -> Page[ThreadItem]:
            raise AssertionError("a new thread's history was read from the store")

    # What the SDK passes `respond()` for `threads.create`: the Thread it just made.
    thread = Thread(id="thr_new", created_at=datetime.now(), items=Page())
    current = _user(thread.id, "msg_1", "hello")

    history = await load_history(NoReads(), thread, current, alice, max_items=10, max_chars=100)

    assert history == []
