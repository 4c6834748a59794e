"""The store's per-request read cache: a request reads a thread, an item or a page once, still
sees its own writes, and never sees another request's cache; a context without a cache reads
the database every time. Reads are counted on the database driver (`chat_reads`).

Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime

import pytest
from chatkit.store import NotFoundError
from chatkit.types import ThreadMetadata, UserMessageItem, UserMessageTextContent
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_edge.chatkit.read_cache import NO_READ_CACHE, ReadCache


def request_of(context: ChatContext) -> ChatContext:
    """The user's context for one new request (with its own read cache)."""
    return replace(context, read_cache=ReadCache())


def message(thread_id: str, item_id: str, text: str) -> UserMessageItem:
    """A user message item."""
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=datetime.now(),
        content=[UserMessageTextContent(text=text)],
        inference_options={},
    )


async def thread_with_messages(
    store: TodoChatKitStore, context: ChatContext, count: int
) -> ThreadMetadata:
    """A new thread of the context's user holding `count` messages `msg_0`…"""
    thread = ThreadMetadata(id=store.generate_thread_id(context), created_at=datetime.now())
    await store.save_thread(thread, context)
    for n in range(count):
        await store.add_thread_item(thread.id, message(thread.id, f"msg_{n}", f"m{n}"), context)
    return thread


async def thread_and_request(
    store: TodoChatKitStore, context: ChatContext, count: int
) -> tuple[ThreadMetadata, ChatContext]:
    """`thread_with_messages`, and a new request of the same user (its read cache empty)."""
    return await thread_with_messages(store, context, count), request_of(context)


async def assert_unseen(store: TodoChatKitStore, thread_id: str, context: ChatContext) -> None:
    """The thread, its item `msg_0` and its items are nothing to the context."""
    with pytest.raises(NotFoundError):
        await store.load_thread(thread_id, context)
    with pytest.raises(NotFoundError):
        await store.load_item(thread_id, "msg_0", context)
    assert (await store.load_thread_items(thread_id, None, 5, "asc", context)).data == []


def texts(items: list[object]) -> list[str]:
    """The text of each user message."""
    return [
        part.text
        for item in items
        if isinstance(item, UserMessageItem)
        for part in item.content
        if isinstance(part, UserMessageTextContent)
    ]


async def test_a_request_reads_its_thread_item_and_page_once(
    store: TodoChatKitStore, alice: ChatContext, chat_reads: Counter[str]
) -> None:
    thread, request = await thread_and_request(store, alice, 3)

    for _ in range(3):
        assert (await store.load_thread(thread.id, request)).id == thread.id
        assert (await store.load_item(thread.id, "msg_1", request)).id == "msg_1"
        page = await store.load_thread_items(thread.id, None, 2, "desc", request)
        assert ([i.id for i in page.data], page.has_more, page.after) == (
            ["msg_2", "msg_1"],
            True,
            "msg_1",
        )
    assert chat_reads == Counter(chat_threads=1, chat_items=2)
    # An item on a page already read comes from that page.
    assert (await store.load_item(thread.id, "msg_2", request)).id == "msg_2"
    assert chat_reads == Counter(chat_threads=1, chat_items=2)
    # Another query is another read.
    await store.load_thread_items(thread.id, None, 2, "asc", request)
    assert chat_reads["chat_items"] == 3


async def test_without_a_request_cache_every_read_reaches_the_database(
    store: TodoChatKitStore, alice: ChatContext, chat_reads: Counter[str]
) -> None:
    thread = await thread_with_messages(store, alice, 1)
    assert alice.read_cache is NO_READ_CACHE

    for _ in range(2):
        await store.load_thread(thread.id, alice)
        await store.load_item(thread.id, "msg_0", alice)
        await store.load_thread_items(thread.id, None, 5, "asc", alice)
    assert chat_reads == Counter(chat_threads=2, chat_items=4)
    assert NO_READ_CACHE.thread(thread.id) is None


async def test_each_read_gives_fresh_objects(store: TodoChatKitStore, alice: ChatContext) -> None:
    thread, request = await thread_and_request(store, alice, 1)

    loaded = await store.load_thread(thread.id, request)
    loaded.title = "changed by a caller"
    item = (await store.load_thread_items(thread.id, None, 5, "asc", request)).data[0]
    assert isinstance(item, UserMessageItem)
    item.content = []

    assert (await store.load_thread(thread.id, request)).title is None
    again = await store.load_thread_items(thread.id, None, 5, "asc", request)
    assert texts(list(again.data)) == ["m0"]


async def test_a_request_sees_its_own_writes(
    store: TodoChatKitStore, alice: ChatContext, chat_reads: Counter[str]
) -> None:
    thread, request = await thread_and_request(store, alice, 2)
    loaded = await store.load_thread(thread.id, request)
    await store.load_thread_items(thread.id, None, 10, "asc", request)
    await store.load_item(thread.id, "msg_0", request)
    reads_before = chat_reads.copy()

    # A saved thread is what the next load returns, without a read.
    loaded.title = "Groceries"
    await store.save_thread(loaded, request)
    assert (await store.load_thread(thread.id, request)).title == "Groceries"
    # An item saved in place keeps its place on the pages already read, without a read.
    await store.save_item(thread.id, message(thread.id, "msg_0", "edited"), request)
    page = await store.load_thread_items(thread.id, None, 10, "asc", request)
    assert texts(list(page.data)) == ["edited", "m1"]
    assert texts([await store.load_item(thread.id, "msg_0", request)]) == ["edited"]
    assert chat_reads == reads_before

    # A new item (or a removed one) changes the pages: they are read again.
    await store.add_thread_item(thread.id, message(thread.id, "msg_new", "new"), request)
    page = await store.load_thread_items(thread.id, None, 10, "asc", request)
    assert texts(list(page.data)) == ["edited", "m1", "new"]
    await store.delete_thread_item(thread.id, "msg_1", request)
    page = await store.load_thread_items(thread.id, None, 10, "asc", request)
    assert texts(list(page.data)) == ["edited", "new"]
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, "msg_1", request)
    assert chat_reads["chat_items"] == reads_before["chat_items"] + 3

    # Every answer is what a request without a cache reads.
    fresh = await store.load_thread_items(thread.id, None, 10, "asc", alice)
    assert [i.id for i in page.data] == [i.id for i in fresh.data]
    assert (await store.load_thread(thread.id, alice)).title == "Groceries"


async def test_a_deleted_thread_is_gone_for_the_request(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread, request = await thread_and_request(store, alice, 1)
    await store.load_thread(thread.id, request)
    await store.load_item(thread.id, "msg_0", request)

    await store.delete_thread(thread.id, request)
    await assert_unseen(store, thread.id, request)


async def test_a_failed_write_forgets_what_it_may_have_changed(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread, request = await thread_and_request(store, alice, 1)
    await store.load_thread(thread.id, request)
    await store.load_thread_items(thread.id, None, 5, "asc", request)
    # Another request deletes the thread meanwhile.
    await store.delete_thread(thread.id, request_of(alice))

    with pytest.raises(NotFoundError):
        await store.add_thread_item(thread.id, message(thread.id, "msg_x", "x"), request)
    assert (await store.load_thread_items(thread.id, None, 5, "asc", request)).data == []


async def test_one_users_cache_never_answers_another(
    store: TodoChatKitStore, alice: ChatContext, bob: ChatContext
) -> None:
    thread = await thread_with_messages(store, alice, 1)
    await store.load_thread(thread.id, request_of(alice))

    bobs_request = request_of(bob)
    await assert_unseen(store, thread.id, bobs_request)
    # Feedback checks the thread is bob's: alice's read of it in her request does not count.
    with pytest.raises(NotFoundError):
        await store.add_feedback(thread.id, ["msg_0"], "positive", bobs_request)
