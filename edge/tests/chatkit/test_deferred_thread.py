"""A threads.create's new thread is INSERTed together with its first item (one statement on
PostgreSQL, one transaction on SQLite): nobody sees the thread before its message is stored,
then it is stored, listed and loaded as if it had been written at once; a thread no item took
along is written alone (`write_unwritten_threads`).

Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_edge.chatkit.read_cache import ReadCache


def creating(context: ChatContext) -> ChatContext:
    """The user's context for one threads.create request (the server sets the flag)."""
    return replace(context, read_cache=ReadCache(defer_new_threads=True))


def message(thread_id: str, item_id: str) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=datetime.now(),
        content=[UserMessageTextContent(text="hello")],
        inference_options={},
    )


async def saved_new_thread(store: TodoChatKitStore, context: ChatContext) -> ThreadMetadata:
    thread = ThreadMetadata(
        id=store.generate_thread_id(context), created_at=datetime.now(), title="T"
    )
    await store.save_thread(thread, context)
    return thread


async def listed(store: TodoChatKitStore, context: ChatContext) -> list[str]:
    page = await store.load_threads(20, None, "desc", replace(context, read_cache=ReadCache()))
    return [thread.id for thread in page.data]


async def test_the_thread_is_stored_with_its_first_item_and_not_before(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    request = creating(alice)
    thread = await saved_new_thread(store, request)

    assert await listed(store, alice) == []
    # The request itself sees what it saved.
    assert (await store.load_thread(thread.id, request)).title == "T"

    await store.add_thread_item(thread.id, message(thread.id, "msg_1"), request)

    assert await listed(store, alice) == [thread.id]
    other_request = replace(alice, read_cache=ReadCache())
    assert (await store.load_thread(thread.id, other_request)) == thread
    items = await store.load_thread_items(thread.id, None, 5, "asc", other_request)
    assert [item.id for item in items.data] == ["msg_1"]
    # Later writes in the same request are the usual ones.
    thread.title = "Renamed"
    await store.save_thread(thread, request)
    await store.add_thread_item(thread.id, message(thread.id, "msg_2"), request)
    later_request = replace(alice, read_cache=ReadCache())
    assert (await store.load_thread(thread.id, later_request)).title == "Renamed"
    items = await store.load_thread_items(thread.id, None, 5, "asc", later_request)
    assert [item.id for item in items.data] == ["msg_1", "msg_2"]


async def test_a_thread_no_item_took_along_is_written_alone(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    request = creating(alice)
    thread = await saved_new_thread(store, request)
    await store.write_unwritten_threads(request)
    await store.write_unwritten_threads(request)  # nothing left: a no-op

    assert await listed(store, alice) == [thread.id]
    items = await store.load_thread_items(thread.id, None, 5, "asc", alice)
    assert items.data == []


async def test_another_user_never_sees_the_new_thread(
    store: TodoChatKitStore, alice: ChatContext, bob: ChatContext
) -> None:
    request = creating(alice)
    thread = await saved_new_thread(store, request)
    await store.add_thread_item(thread.id, message(thread.id, "msg_1"), request)

    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, bob)
    with pytest.raises(NotFoundError):
        await store.add_thread_item(thread.id, message(thread.id, "msg_2"), bob)
    assert await listed(store, bob) == []


async def test_without_the_flag_the_thread_is_written_at_once(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    request = replace(alice, read_cache=ReadCache())
    thread = await saved_new_thread(store, request)
    assert await listed(store, alice) == [thread.id]
