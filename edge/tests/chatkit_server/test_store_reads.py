"""How often one `/chatkit` request reads the chat tables, op by op, through the real edge.

The request checks and the SDK's `process()` both look at the thread (and often an item) a
request names; one request reads each of them from the database once (the store's read cache).
Counted on the database driver, so the numbers are what reaches the database. Before the read
cache the same ops made 38 reads (the thread twice in every op that names one, the item twice
for actions and structured input, the newest page twice for retry and client tool output);
now 24.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from chatkit.types import ClientToolCallItem, StructuredInputFreeform, StructuredInputItem
from todo_common.db import Database
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_testkit.auth import SignedUpUser
from todo_testkit.chatkit import ChatClient, user_message
from todo_testkit.databases import IsolatedDatabase as EdgeDatabase
from todo_testkit.edge import assert_problem
from todo_testkit.tasks import TaskCaller


@pytest.fixture
async def store(edge_database: EdgeDatabase) -> AsyncIterator[TodoChatKitStore]:
    """The edge's store, used directly to set up items no reply of ours produces."""
    database = Database.from_url(edge_database.url, edge_database.schema, pool_size=1)
    yield TodoChatKitStore(database)
    await database.dispose()


async def _reads_of(
    chat: ChatClient, reads: Counter[str], op: str, params: dict[str, Any], streaming: bool
) -> tuple[int, int]:
    """(thread reads, item reads) of one op, which must succeed."""
    before = reads.copy()
    if streaming:
        result = await chat.stream(op, params)
        assert result.status == 200 and result.of("error") == [], (op, result.text)
    else:
        response = await chat.post(op, params)
        assert response.status_code == 200, (op, response.text)
    made = reads - before
    assert set(made) <= {"chat_threads", "chat_items"}, made
    return made["chat_threads"], made["chat_items"]


async def test_each_op_reads_the_thread_once(
    alice_chat: ChatClient,
    alice: SignedUpUser,
    alice_tasks: TaskCaller,
    store: TodoChatKitStore,
    chat_reads: Counter[str],
) -> None:
    created = await alice_chat.create("add buy milk")
    thread_id = created.thread_id
    [first_message] = created.done_items("user_message")
    [card] = created.done_items("widget")
    [task] = await alice_tasks.list_all()
    context = ChatContext(user_id=alice.user_id, token="")
    measured: dict[str, tuple[int, int]] = {}

    async def measure(op: str, params: dict[str, Any], *, streaming: bool = False) -> None:
        measured[op] = await _reads_of(alice_chat, chat_reads, op, params, streaming)

    async def press(op: str, action: str) -> None:
        """The card's button for the task."""
        params = {
            "thread_id": thread_id,
            "item_id": card["id"],
            "action": {"type": action, "payload": {"task_id": task.id}},
        }
        await measure(op, params, streaming=op == "threads.custom_action")

    async def put(item: ClientToolCallItem | StructuredInputItem) -> None:
        """Stores an item no reply of ours produces: a client tool call, a question."""
        await store.add_thread_item(thread_id, item, context)

    await measure("threads.create", {"input": user_message("add buy bread")}, streaming=True)
    await measure("threads.get_by_id", {"thread_id": thread_id})
    await measure("threads.list", {"limit": 10})
    await measure("threads.update", {"thread_id": thread_id, "title": "Shopping"})
    await measure("items.list", {"thread_id": thread_id})
    await measure(
        "items.feedback",
        {"thread_id": thread_id, "item_ids": [first_message["id"]], "kind": "positive"},
    )
    await press("threads.sync_custom_action", "task.complete")
    await press("threads.custom_action", "task.reopen")
    await measure(
        "threads.add_user_message",
        {"thread_id": thread_id, "input": user_message("what are my tasks?")},
        streaming=True,
    )
    await measure(
        "threads.retry_after_item",
        {"thread_id": thread_id, "item_id": first_message["id"]},
        streaming=True,
    )
    await put(
        ClientToolCallItem(
            id="tc_pending",
            thread_id=thread_id,
            created_at=datetime.now(),
            call_id="call_1",
            name="pick_colour",
            arguments={},
        )
    )
    await measure(
        "threads.add_client_tool_output",
        {"thread_id": thread_id, "result": {"colour": "green"}},
        streaming=True,
    )
    await put(
        StructuredInputItem(
            id="si_pending",
            thread_id=thread_id,
            created_at=datetime.now(),
            inputs=[StructuredInputFreeform(id="q1", question="Which list?")],
        )
    )
    await measure(
        "threads.add_structured_input",
        {"thread_id": thread_id, "item_id": "si_pending", "input": {"answers": {}}},
        streaming=True,
    )
    await measure("threads.delete", {"thread_id": thread_id})

    # (reads of chat_threads, reads of chat_items). The item reads left are the page an op
    # answers with, or a page the SDK reads after the op itself changed the thread's items.
    assert measured == {
        "threads.create": (0, 0),  # a thread this request created has no history to read
        "threads.get_by_id": (1, 1),
        "threads.list": (1, 0),
        "threads.update": (1, 0),
        "items.list": (1, 1),
        "items.feedback": (1, 1),  # the named items, as the feedback is written
        "threads.sync_custom_action": (1, 1),
        "threads.custom_action": (1, 1),
        "threads.add_user_message": (1, 1),  # the history, after the message is stored
        "threads.retry_after_item": (1, 2),  # the newest page; the history after the removal
        "threads.add_client_tool_output": (1, 2),  # the newest item; the clean-up after saving
        "threads.add_structured_input": (1, 1),
        "threads.delete": (1, 0),
    }


async def test_refused_requests_read_at_most_the_thread(
    alice_chat: ChatClient, bob_chat: ChatClient, chat_reads: Counter[str]
) -> None:
    created = await alice_chat.create("add buy tea")
    [user] = created.done_items("user_message")

    before = chat_reads.total()
    refused = await bob_chat.post(
        "threads.retry_after_item", {"thread_id": created.thread_id, "item_id": user["id"]}
    )
    assert_problem(refused, 404)
    assert chat_reads.total() - before == 1
    dictation = await alice_chat.post(
        "input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/webm"}
    )
    assert_problem(dictation, 400, "FEATURE_NOT_ENABLED")
    assert chat_reads.total() - before == 1
