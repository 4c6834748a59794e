"""Conformance of the edge's ChatKit Store: every item type round-trips, pages are stable,
users are isolated, deletes cascade and feedback is kept.

Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from chatkit.actions import ActionConfig
from chatkit.store import NotFoundError, StoreItemType, default_generate_id
from chatkit.types import (
    ActiveStatus,
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    AttachmentUploadDescriptor,
    ClientToolCallItem,
    ClosedStatus,
    CustomSummary,
    CustomTask,
    DurationSummary,
    EndOfTurnItem,
    EntitySource,
    FileAttachment,
    FileSource,
    FileTask,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    ImageTask,
    InferenceOptions,
    LockedStatus,
    Page,
    SDKHiddenContextItem,
    SearchTask,
    StructuredInputAnswer,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    TaskItem,
    ThoughtTask,
    Thread,
    ThreadItem,
    ThreadMetadata,
    ToolChoice,
    URLSource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import (
    Badge,
    Button,
    Caption,
    Card,
    Divider,
    DynamicWidgetRoot,
    ListView,
    ListViewItem,
    Row,
    Spacer,
    Text,
    Title,
    WidgetTemplate,
)
from sqlalchemy import func, select
from todo_common.db import Database
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_edge.chatkit.models import (
    ChatAttachmentRow,
    ChatItemFeedbackRow,
    ChatItemRow,
    ChatThreadRow,
)
from todo_edge.chatkit.store import ID_PREFIXES

# Building widgets from the typed classes is deprecated in favour of templates; the store must
# still keep both exactly, so both are built here.
pytestmark = pytest.mark.filterwarnings("ignore:Direct usage of named widget classes")

THREAD_ITEM_CLASSES: tuple[type[Any], ...] = get_args(get_args(ThreadItem)[0])


# ---- builders ----


def now() -> datetime:
    """What the SDK stamps items with: a naive `datetime.now()`."""
    return datetime.now()


async def new_thread(
    store: TodoChatKitStore, context: ChatContext, **fields: Any
) -> ThreadMetadata:
    """Saves and returns a new thread of the context's user."""
    thread = ThreadMetadata(id=store.generate_thread_id(context), created_at=now(), **fields)
    await store.save_thread(thread, context)
    return thread


def task_action(action_type: str, **options: Any) -> ActionConfig:
    """The action a task card's button sends: its type and the card's task id."""
    return ActionConfig(
        type=action_type, payload={"task_id": "0193a0b4-1111-7000-8000-000000000001"}, **options
    )


def task_card(thread_id: str, item_id: str) -> WidgetItem:
    """A task card of the kind the edge renders: title, badges, due date, action buttons."""
    return WidgetItem(
        id=item_id,
        thread_id=thread_id,
        created_at=now(),
        copy_text="Buy milk — due tomorrow, high priority",
        widget=Card(
            size="md",
            status={"text": "Task added", "icon": "check"},
            children=[
                Row(
                    gap=2,
                    align="center",
                    children=[
                        Title(value="Buy milk", size="sm"),
                        Spacer(),
                        Badge(label="high", color="danger", variant="soft", pill=True),
                        Badge(label="groceries", color="secondary"),
                    ],
                ),
                Caption(value="Due Sun, Nov 22", color="secondary"),
                Divider(spacing=2),
                Row(
                    gap=2,
                    children=[
                        Button(
                            label="Complete",
                            style="primary",
                            iconStart="check",
                            onClickAction=task_action("task.complete", loadingBehavior="self"),
                        ),
                        Button(
                            label="Delete",
                            color="danger",
                            variant="outline",
                            onClickAction=task_action("task.delete", streaming=False),
                        ),
                    ],
                ),
            ],
        ),
    )


def task_list(thread_id: str, item_id: str) -> WidgetItem:
    """A list widget (ListView of ListViewItems)."""
    return WidgetItem(
        id=item_id,
        thread_id=thread_id,
        created_at=now(),
        widget=ListView(
            limit=5,
            status={"text": "2 open tasks"},
            children=[
                ListViewItem(
                    key=f"task-{n}",
                    gap=2,
                    onClickAction=ActionConfig(type="task.open", payload={"n": n}),
                    children=[Text(value=title, weight="semibold"), Badge(label="due today")],
                )
                for n, title in enumerate(["Buy milk", "Call mum"])
            ],
        ),
    )


TEMPLATE = WidgetTemplate(
    {
        "version": "1.0",
        "name": "Task",
        "template": (
            '{"type": "Card", "size": "sm", "children": ['
            '{"type": "Text", "id": "title", "value": {{ title | tojson }}, "streaming": false},'
            '{"type": "Row", "children": [{"type": "Badge", "label": {{ priority | tojson }}}]},'
            '{"type": "Button", "label": "Complete", "onClickAction":'
            ' {"type": "task.complete", "payload": {"task_id": {{ task_id | tojson }}}}}'
            "]}"
        ),
        "jsonSchema": {},
    }
)


def template_card(thread_id: str, item_id: str) -> WidgetItem:
    """A widget built the recommended way, from a `.widget` template (a DynamicWidgetRoot)."""
    widget = TEMPLATE.build({"title": "Buy milk", "priority": "high", "task_id": "t-1"})
    assert isinstance(widget, DynamicWidgetRoot)
    return WidgetItem(id=item_id, thread_id=thread_id, created_at=now(), widget=widget)


def every_item(store: TodoChatKitStore, thread: ThreadMetadata, context: ChatContext) -> list[Any]:
    """Realistic instances of every ThreadItem type (several shapes of some)."""
    tid = thread.id

    def item_id(kind: Any) -> str:
        return store.generate_item_id(kind, thread, context)

    return [
        UserMessageItem(
            id=item_id("message"),
            thread_id=tid,
            created_at=now(),
            content=[
                UserMessageTextContent(text="add buy milk tomorrow, high priority "),
                UserMessageTagContent(
                    id="tag-groceries",
                    text="#groceries",
                    data={"tag": "groceries", "count": 3},
                    group="tags",
                    interactive=True,
                ),
            ],
            attachments=[
                FileAttachment(
                    id=default_generate_id("attachment"),
                    name="list.txt",
                    mime_type="text/plain",
                    thread_id=tid,
                    metadata={"storage_key": "s3://bucket/list.txt", "size": 120},
                ),
                ImageAttachment(
                    id=default_generate_id("attachment"),
                    name="fridge.png",
                    mime_type="image/png",
                    preview_url="https://cdn.example.com/previews/fridge.png",
                    upload_descriptor=AttachmentUploadDescriptor(
                        url="https://uploads.example.com/u/1",
                        method="PUT",
                        headers={"x-upload-token": "abc"},
                    ),
                ),
            ],
            quoted_text="milk, eggs, bread",
            inference_options=InferenceOptions(tool_choice=ToolChoice(id="tasks"), model="gpt-x"),
        ),
        UserMessageItem(
            id=item_id("message"),
            thread_id=tid,
            created_at=now(),
            content=[UserMessageTextContent(text="what's due this week? ünïcödé ✓ 🥛")],
            inference_options=InferenceOptions(),
        ),
        AssistantMessageItem(
            id=item_id("message"),
            thread_id=tid,
            created_at=now(),
            content=[
                AssistantMessageContent(
                    text="Added **Buy milk** for tomorrow.",
                    annotations=[
                        Annotation(
                            source=URLSource(
                                title="Docs",
                                url="https://example.com/docs",
                                attribution="example.com",
                                description="How tasks work",
                                timestamp="2026-11-21",
                                group="web",
                            ),
                            index=5,
                        ),
                        Annotation(source=FileSource(title="Notes", filename="notes.md")),
                        Annotation(
                            source=EntitySource(
                                id="task-1",
                                title="Buy milk",
                                icon="check-circle",
                                label="Task",
                                inline_label="milk",
                                interactive=True,
                                data={"task_id": "t-1", "priority": 3},
                            )
                        ),
                    ],
                ),
                AssistantMessageContent(text="Anything else?"),
            ],
        ),
        ClientToolCallItem(
            id=item_id("tool_call"),
            thread_id=tid,
            created_at=now(),
            call_id="call_pending_1",
            name="get_selected_tasks",
            arguments={"filter": {"state": "open", "tags": ["a", "b"]}, "limit": 5},
        ),
        ClientToolCallItem(
            id=item_id("tool_call"),
            thread_id=tid,
            created_at=now(),
            status="completed",
            call_id="call_done_1",
            name="get_selected_tasks",
            arguments={},
            output={"selected": [{"id": "t-1", "done": False}], "count": 1, "ratio": 0.5},
        ),
        task_card(tid, item_id("message")),
        task_list(tid, item_id("message")),
        template_card(tid, item_id("message")),
        GeneratedImageItem(
            id=item_id("message"),
            thread_id=tid,
            created_at=now(),
            image=GeneratedImage(id="img_1", url="https://cdn.example.com/img_1.png"),
        ),
        GeneratedImageItem(id=item_id("message"), thread_id=tid, created_at=now()),
        StructuredInputItem(
            id=item_id("message"),
            thread_id=tid,
            created_at=now(),
            status="answered",
            inputs=[
                StructuredInputMultipleChoice(
                    id="priority",
                    question="Which priority?",
                    options=[
                        StructuredInputMultipleChoiceOption(value="high"),
                        StructuredInputMultipleChoiceOption(value="low"),
                    ],
                    answer=StructuredInputAnswer(values=["high"]),
                ),
                StructuredInputFreeform(
                    id="notes",
                    question="Any notes?",
                    description="Optional",
                    answer=StructuredInputAnswer(skipped=True),
                ),
            ],
        ),
        WorkflowItem(
            id=item_id("workflow"),
            thread_id=tid,
            created_at=now(),
            workflow=Workflow(
                type="custom",
                expanded=True,
                summary=CustomSummary(title="Updated 3 tasks", icon="check"),
                tasks=[
                    CustomTask(
                        title="Adding task…",
                        icon="plus",
                        content="Buy milk",
                        status_indicator="complete",
                    ),
                    SearchTask(
                        title="Searching",
                        title_query="milk",
                        queries=["milk", "dairy"],
                        sources=[URLSource(title="Shop", url="https://shop.example.com")],
                        status_indicator="loading",
                    ),
                    ThoughtTask(title="Thinking", content="The user wants a reminder."),
                    FileTask(title="Reading", sources=[FileSource(title="f", filename="f.txt")]),
                    ImageTask(title="Looking"),
                ],
            ),
        ),
        WorkflowItem(
            id=item_id("workflow"),
            thread_id=tid,
            created_at=now(),
            workflow=Workflow(
                type="reasoning",
                tasks=[ThoughtTask(content="…")],
                summary=DurationSummary(duration=12),
            ),
        ),
        TaskItem(
            id=item_id("task"),
            thread_id=tid,
            created_at=now(),
            task=CustomTask(title="Completed “Buy milk”", icon="check", content="Done."),
        ),
        HiddenContextItem(
            id=item_id("message"),
            thread_id=tid,
            created_at=now(),
            content={"tasks_changed": ["t-1"], "note": "not shown to the user", "n": [1, 2.5]},
        ),
        SDKHiddenContextItem(
            id=item_id("sdk_hidden_context"),
            thread_id=tid,
            created_at=now(),
            content="The user cancelled the stream. Stop responding to the prior request.",
        ),
        EndOfTurnItem(id=item_id("message"), thread_id=tid, created_at=now()),
    ]


def same_items(loaded: list[Any], expected: list[Any]) -> None:
    """Equal as models AND as the JSON a client receives (classes and fields both kept)."""
    assert loaded == expected
    assert [type(item) for item in loaded] == [type(item) for item in expected]
    assert [item.model_dump_json() for item in loaded] == [
        item.model_dump_json() for item in expected
    ]


async def all_items(
    store: TodoChatKitStore, thread_id: str, context: ChatContext, order: str = "asc"
) -> list[Any]:
    """Every item of the thread, in one big page."""
    page = await store.load_thread_items(thread_id, None, 1000, order, context)
    assert not page.has_more
    return list(page.data)


async def thread_with_items(
    store: TodoChatKitStore, context: ChatContext, count: int | None = None, **fields: Any
) -> tuple[ThreadMetadata, list[Any]]:
    """A new thread of the context's user and the items added to it, in order: `count`
    same-instant items, or one of every item type (`every_item`) when `count` is None."""
    thread = await new_thread(store, context, **fields)
    if count is None:
        items: list[Any] = every_item(store, thread, context)
    else:
        items = same_instant_items(thread.id, count, now())
    await add_items(store, thread.id, items, context)
    return thread, items


async def add_items(
    store: TodoChatKitStore, thread_id: str, items: list[Any], context: ChatContext
) -> None:
    """Adds the items one after another, as the SDK does while a turn streams."""
    for item in items:
        await store.add_thread_item(thread_id, item, context)


async def count(database: Database, table: Any, **where: Any) -> int:
    """Rows of `table` matching the column values (to prove rows are really gone)."""
    async with database.session() as session:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(getattr(table, column) == value)
        return int(await session.scalar(query) or 0)


# ---- every item type round-trips ----


def test_the_builders_cover_every_thread_item_type() -> None:
    thread = ThreadMetadata(id="thr_x", created_at=now())
    store = TodoChatKitStore.__new__(TodoChatKitStore)
    built = {type(item) for item in every_item(store, thread, ChatContext("u", "t"))}
    assert built == set(THREAD_ITEM_CLASSES)


async def test_every_item_type_round_trips_through_load_item_and_load_thread_items(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread, items = await thread_with_items(store, alice)

    for item in items:
        loaded = await store.load_item(thread.id, item.id, alice)
        same_items([loaded], [item])
    same_items(await all_items(store, thread.id, alice), items)
    same_items(await all_items(store, thread.id, alice, "desc"), items[::-1])


async def test_attachment_metadata_inside_a_user_message_is_kept(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    # The SDK strips `metadata` from responses; the store must still keep it for the app.
    thread = await new_thread(store, alice)
    message = every_item(store, thread, alice)[0]
    await store.add_thread_item(thread.id, message, alice)
    loaded = await store.load_item(thread.id, message.id, alice)
    assert isinstance(loaded, UserMessageItem)
    assert loaded.attachments[0].metadata == {"storage_key": "s3://bucket/list.txt", "size": 120}


async def test_a_template_widget_comes_back_as_the_same_dynamic_root(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread = await new_thread(store, alice)
    item = template_card(thread.id, store.generate_item_id("message", thread, alice))
    await store.add_thread_item(thread.id, item, alice)
    loaded = await store.load_item(thread.id, item.id, alice)
    assert isinstance(loaded, WidgetItem)
    assert type(loaded.widget) is DynamicWidgetRoot
    assert loaded.widget.model_dump() == item.widget.model_dump()
    # Replacing it with a typed widget (e.g. after a widget action) switches the class back.
    typed = task_card(thread.id, item.id)
    await store.save_item(thread.id, typed, alice)
    same_items([await store.load_item(thread.id, item.id, alice)], [typed])


async def test_aware_timestamps_round_trip_and_sort_as_utc(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread = await new_thread(store, alice)
    base = datetime.now(UTC).replace(tzinfo=None)
    naive_later = SDKHiddenContextItem(
        id="shcx_b", thread_id=thread.id, created_at=base + timedelta(seconds=1), content="b"
    )
    # 10:00+02:00 is 08:00 UTC: earlier than `base` although its wall clock reads later.
    aware_earlier = SDKHiddenContextItem(
        id="shcx_a",
        thread_id=thread.id,
        created_at=(base - timedelta(hours=1))
        .replace(tzinfo=UTC)
        .astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")),
        content="a",
    )
    await store.add_thread_item(thread.id, naive_later, alice)
    await store.add_thread_item(thread.id, aware_earlier, alice)
    same_items(await all_items(store, thread.id, alice), [aware_earlier, naive_later])


# ---- ordering, cursors, has_more ----


def same_instant_items(thread_id: str, count: int, at: datetime) -> list[SDKHiddenContextItem]:
    """Items sharing one timestamp, ids deliberately out of alphabetical order."""
    return [
        SDKHiddenContextItem(
            id=f"shcx_{(count - n):03d}", thread_id=thread_id, created_at=at, content=f"#{n}"
        )
        for n in range(count)
    ]


async def test_items_with_identical_timestamps_keep_insertion_order(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread, items = await thread_with_items(store, alice, 6)
    same_items(await all_items(store, thread.id, alice, "asc"), items)
    same_items(await all_items(store, thread.id, alice, "desc"), items[::-1])


async def test_order_follows_creation_time_before_insertion_order(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    # E.g. a cancelled stream saves its partial assistant message (created when it started)
    # after a widget that finished during the stream.
    thread = await new_thread(store, alice)
    t = now()
    later = SDKHiddenContextItem(id="shcx_late", thread_id=thread.id, created_at=t, content="2")
    earlier = SDKHiddenContextItem(
        id="shcx_early", thread_id=thread.id, created_at=t - timedelta(seconds=2), content="1"
    )
    await store.add_thread_item(thread.id, later, alice)
    await store.add_thread_item(thread.id, earlier, alice)
    same_items(await all_items(store, thread.id, alice), [earlier, later])


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_after_cursor_pages_through_every_item_once(
    store: TodoChatKitStore, alice: ChatContext, order: str
) -> None:
    thread = await new_thread(store, alice)
    t = now()
    # Two timestamps, several items on each: the cursor must break ties by insertion order.
    items = same_instant_items(thread.id, 4, t) + [
        SDKHiddenContextItem(
            id=f"shcx_z{n}", thread_id=thread.id, created_at=t + timedelta(seconds=1), content=""
        )
        for n in range(3)
    ]
    await add_items(store, thread.id, items, alice)
    expected = items if order == "asc" else items[::-1]

    pages: list[Page[ThreadItem]] = []
    after: str | None = None
    while True:
        page = await store.load_thread_items(thread.id, after, 3, order, alice)
        pages.append(page)
        if not page.has_more:
            break
        after = page.after
    assert [len(page.data) for page in pages] == [3, 3, 1]
    assert [page.has_more for page in pages] == [True, True, False]
    assert [page.after for page in pages] == [pages[0].data[-1].id, pages[1].data[-1].id, None]
    same_items([item for page in pages for item in page.data], expected)


async def test_has_more_is_false_when_the_page_is_exactly_full(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread, items = await thread_with_items(store, alice, 4)
    page = await store.load_thread_items(thread.id, None, 4, "asc", alice)
    assert (len(page.data), page.has_more, page.after) == (4, False, None)
    page = await store.load_thread_items(thread.id, items[1].id, 2, "asc", alice)
    same_items(list(page.data), items[2:])
    assert not page.has_more
    empty = await store.load_thread_items(thread.id, items[-1].id, 2, "asc", alice)
    assert (empty.data, empty.has_more, empty.after) == ([], False, None)


async def test_an_unknown_after_cursor_is_not_found(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread = await new_thread(store, alice)
    with pytest.raises(NotFoundError):
        await store.load_thread_items(thread.id, "msg_missing", 10, "asc", alice)


async def test_an_invalid_order_is_rejected(store: TodoChatKitStore, alice: ChatContext) -> None:
    thread = await new_thread(store, alice)
    with pytest.raises(ValueError, match="order"):
        await store.load_thread_items(thread.id, None, 10, "sideways", alice)
    with pytest.raises(ValueError, match="order"):
        await store.load_threads(10, None, "random", alice)


async def test_the_newest_item_is_the_one_just_added(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    # threads.add_client_tool_output loads 1 item desc and expects the pending tool call.
    thread = await new_thread(store, alice)
    t = now()
    await add_items(store, thread.id, same_instant_items(thread.id, 3, t), alice)
    tool_call = ClientToolCallItem(
        id=store.generate_item_id("tool_call", thread, alice),
        thread_id=thread.id,
        created_at=t,
        call_id="call_1",
        name="pick_task",
        arguments={},
    )
    await store.add_thread_item(thread.id, tool_call, alice)
    newest = await store.load_thread_items(thread.id, None, 1, "desc", alice)
    same_items(list(newest.data), [tool_call])
    assert newest.has_more


async def test_save_item_replaces_in_place_and_keeps_the_position(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread = await new_thread(store, alice)
    t = now()
    items = same_instant_items(thread.id, 3, t)
    tool_call = ClientToolCallItem(
        id="tc_1", thread_id=thread.id, created_at=t, call_id="c", name="n", arguments={}
    )
    ordered = [items[0], tool_call, items[1], items[2]]
    await add_items(store, thread.id, ordered, alice)

    done = tool_call.model_copy(update={"status": "completed", "output": {"ok": True}})
    await store.save_item(thread.id, done, alice)
    same_items(await all_items(store, thread.id, alice), [items[0], done, items[1], items[2]])
    same_items([await store.load_item(thread.id, "tc_1", alice)], [done])
    assert await count(store._database, ChatItemRow, thread_id=thread.id) == 4


async def test_save_item_of_a_new_item_appends_it(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread = await new_thread(store, alice)
    items = same_instant_items(thread.id, 3, now())
    await store.add_thread_item(thread.id, items[0], alice)
    await store.save_item(thread.id, items[1], alice)
    same_items(await all_items(store, thread.id, alice), items[:2])


async def test_adding_an_existing_item_again_replaces_it_in_place(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread, items = await thread_with_items(store, alice, 3)
    again = items[0].model_copy(update={"content": "changed"})
    await store.add_thread_item(thread.id, again, alice)
    same_items(await all_items(store, thread.id, alice), [again, items[1], items[2]])


async def test_the_same_item_id_in_two_threads_is_two_items(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    first, second = await new_thread(store, alice), await new_thread(store, alice)
    a = SDKHiddenContextItem(id="shcx_same", thread_id=first.id, created_at=now(), content="a")
    b = SDKHiddenContextItem(id="shcx_same", thread_id=second.id, created_at=now(), content="b")
    await store.add_thread_item(first.id, a, alice)
    await store.add_thread_item(second.id, b, alice)
    same_items([await store.load_item(first.id, "shcx_same", alice)], [a])
    same_items([await store.load_item(second.id, "shcx_same", alice)], [b])


async def test_limit_is_respected_and_clamped(store: TodoChatKitStore, alice: ChatContext) -> None:
    thread, _ = await thread_with_items(store, alice, 5)
    assert len((await store.load_thread_items(thread.id, None, 2, "asc", alice)).data) == 2
    # A limit below 1 still returns one item (and says there are more), never everything.
    page = await store.load_thread_items(thread.id, None, -1, "asc", alice)
    assert (len(page.data), page.has_more) == (1, True)


# ---- deletes ----


async def test_delete_thread_item_removes_only_that_item(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread, items = await thread_with_items(store, alice, 3)
    await store.delete_thread_item(thread.id, items[1].id, alice)
    same_items(await all_items(store, thread.id, alice), [items[0], items[2]])
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, items[1].id, alice)
    # Removing an item that was streamed but never saved is not an error.
    await store.delete_thread_item(thread.id, "msg_never_saved", alice)


async def test_delete_thread_cascades_to_items_feedback_and_attachments(
    store: TodoChatKitStore, database: Database, alice: ChatContext
) -> None:
    thread, items = await thread_with_items(store, alice, title="Groceries")
    keep = await new_thread(store, alice, title="Work")
    kept_item = SDKHiddenContextItem(
        id="shcx_keep", thread_id=keep.id, created_at=now(), content=""
    )
    await store.add_thread_item(keep.id, kept_item, alice)
    await store.add_feedback(thread.id, [items[2].id], "positive", alice)
    for attachment in items[0].attachments:
        await store.save_attachment(attachment.model_copy(update={"thread_id": thread.id}), alice)

    await store.delete_thread(thread.id, alice)

    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, alice)
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, items[0].id, alice)
    assert (await store.load_thread_items(thread.id, None, 50, "asc", alice)).data == []
    assert await count(database, ChatItemRow, thread_id=thread.id) == 0
    assert await count(database, ChatItemFeedbackRow, thread_id=thread.id) == 0
    assert await count(database, ChatAttachmentRow, thread_id=thread.id) == 0
    assert await count(database, ChatThreadRow, id=thread.id) == 0
    # The other thread is untouched.
    same_items(await all_items(store, keep.id, alice), [kept_item])
    with pytest.raises(NotFoundError):
        await store.delete_thread(thread.id, alice)


# ---- threads ----


async def test_thread_metadata_round_trips(store: TodoChatKitStore, alice: ChatContext) -> None:
    thread = ThreadMetadata(
        id=store.generate_thread_id(alice),
        created_at=now(),
        title="Groceries ✓",
        status=LockedStatus(reason="Archived by you"),
        allowed_image_domains=["cdn.example.com"],
        metadata={"source": "web", "nested": {"n": 1, "tags": ["a", "b"]}, "flag": None},
    )
    await store.save_thread(thread, alice)
    assert await store.load_thread(thread.id, alice) == thread

    renamed = thread.model_copy(
        update={"title": "Shopping", "status": ClosedStatus(reason=None), "metadata": {"v": 2}}
    )
    await store.save_thread(renamed, alice)
    loaded = await store.load_thread(thread.id, alice)
    assert loaded == renamed
    assert loaded.model_dump_json() == renamed.model_dump_json()
    reopened = renamed.model_copy(update={"status": ActiveStatus(), "title": None})
    await store.save_thread(reopened, alice)
    assert await store.load_thread(thread.id, alice) == reopened


async def test_saving_a_thread_with_items_stores_only_its_metadata(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    # threads.create passes a `Thread` (metadata plus a page of items) to save_thread.
    metadata = ThreadMetadata(id=store.generate_thread_id(alice), created_at=now(), title="T")
    item = SDKHiddenContextItem(id="shcx_1", thread_id=metadata.id, created_at=now(), content="")
    await store.save_thread(Thread(**metadata.model_dump(), items=Page(data=[item])), alice)
    loaded = await store.load_thread(metadata.id, alice)
    assert type(loaded) is ThreadMetadata
    assert loaded == metadata
    assert (await store.load_thread_items(metadata.id, None, 10, "asc", alice)).data == []


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_load_threads_pages_the_callers_threads_only(
    store: TodoChatKitStore, alice: ChatContext, bob: ChatContext, order: str
) -> None:
    t = now()
    mine = []
    for n in range(5):
        # Three threads share a timestamp: insertion order breaks the tie.
        thread = ThreadMetadata(
            id=store.generate_thread_id(alice),
            created_at=t if n < 3 else t + timedelta(seconds=n),
            title=f"thread {n}",
        )
        await store.save_thread(thread, alice)
        mine.append(thread)
    theirs = await new_thread(store, bob, title="bob's secret plans")
    expected = mine if order == "asc" else mine[::-1]

    first = await store.load_threads(2, None, order, alice)
    second = await store.load_threads(2, first.after, order, alice)
    third = await store.load_threads(2, second.after, order, alice)
    assert [p.has_more for p in (first, second, third)] == [True, True, False]
    assert first.after == first.data[-1].id and third.after is None
    assert [*first.data, *second.data, *third.data] == expected

    bobs = await store.load_threads(20, None, order, bob)
    assert bobs.data == [theirs]
    # Alice cannot use bob's thread as a cursor to learn where it sits.
    with pytest.raises(NotFoundError):
        await store.load_threads(20, theirs.id, order, alice)


async def test_a_renamed_thread_keeps_its_place_in_the_list(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    threads = [await new_thread(store, alice, title=f"t{n}") for n in range(3)]
    await store.save_thread(threads[0].model_copy(update={"title": "renamed"}), alice)
    listed = await store.load_threads(10, None, "asc", alice)
    assert [thread.id for thread in listed.data] == [thread.id for thread in threads]
    assert listed.data[0].title == "renamed"


# ---- isolation ----


async def test_another_users_thread_and_items_are_not_found(
    store: TodoChatKitStore, database: Database, alice: ChatContext, bob: ChatContext
) -> None:
    thread, items = await thread_with_items(
        store, alice, title="Alice's private list", metadata={"k": "v"}
    )
    await store.add_feedback(thread.id, [items[2].id], "negative", alice)
    attachment = items[0].attachments[0]
    await store.save_attachment(attachment, alice)
    missing_thread = "thr_does_not_exist"

    errors: list[NotFoundError] = []

    async def not_found(call: Callable[[], Any]) -> None:
        with pytest.raises(NotFoundError) as caught:
            await call()
        errors.append(caught.value)

    await not_found(lambda: store.load_thread(thread.id, bob))
    await not_found(lambda: store.load_thread(missing_thread, bob))
    await not_found(lambda: store.save_thread(thread.model_copy(update={"title": "pwned"}), bob))
    await not_found(lambda: store.load_item(thread.id, items[0].id, bob))
    await not_found(lambda: store.add_thread_item(thread.id, items[1], bob))
    await not_found(
        lambda: store.add_thread_item(
            thread.id,
            SDKHiddenContextItem(id="shcx_new", thread_id=thread.id, created_at=now(), content=""),
            bob,
        )
    )
    await not_found(lambda: store.save_item(thread.id, items[1], bob))
    await not_found(lambda: store.delete_thread_item(thread.id, items[1].id, bob))
    await not_found(lambda: store.delete_thread(thread.id, bob))
    await not_found(lambda: store.load_thread_items(thread.id, items[0].id, 10, "asc", bob))
    await not_found(lambda: store.add_feedback(thread.id, [items[2].id], "positive", bob))
    await not_found(lambda: store.load_attachment(attachment.id, bob))
    await not_found(lambda: store.save_attachment(attachment, bob))
    await not_found(lambda: store.delete_attachment(attachment.id, bob))

    # Listing another user's thread is an empty page, exactly like a thread that does not exist.
    for thread_id in (thread.id, missing_thread):
        page = await store.load_thread_items(thread_id, None, 20, "desc", bob)
        assert (page.data, page.has_more, page.after) == ([], False, None)
    assert (await store.load_threads(20, None, "desc", bob)).data == []
    assert await store.load_feedback(thread.id, bob) == {}

    # Nothing in any answer names alice's thread, and foreign looks exactly like missing.
    for error in errors:
        text = str(error)
        assert "Alice" not in text and thread.id not in text and alice.user_id not in text
    assert str(errors[0]) == str(errors[1])

    # And alice's data is exactly as she left it.
    assert await store.load_thread(thread.id, alice) == thread
    same_items(await all_items(store, thread.id, alice), items)
    assert await store.load_feedback(thread.id, alice) == {items[2].id: "negative"}
    assert await store.load_attachment(attachment.id, alice) == attachment
    assert await count(database, ChatItemRow, owner_id=bob.user_id) == 0
    assert await count(database, ChatThreadRow, owner_id=bob.user_id) == 0


async def test_huge_and_odd_ids_are_simply_not_found(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    # Ids come straight from request bodies: a 1 MiB id, or SQL-looking text, is just unknown.
    thread, [item] = await thread_with_items(store, alice, 1)
    for odd in ("x" * (1024 * 1024), "' OR 1=1 --", "thr_%", "", "\u00e9\u0301"):
        with pytest.raises(NotFoundError):
            await store.load_thread(odd, alice)
        with pytest.raises(NotFoundError):
            await store.load_item(thread.id, odd, alice)
        with pytest.raises(NotFoundError):
            await store.load_thread_items(thread.id, odd, 10, "asc", alice)
        with pytest.raises(NotFoundError):
            await store.load_threads(10, odd, "desc", alice)
        with pytest.raises(NotFoundError):
            await store.add_feedback(thread.id, [odd], "positive", alice)
        with pytest.raises(NotFoundError):
            await store.delete_thread(odd, alice)
        page = await store.load_thread_items(odd, None, 10, "asc", alice)
        assert page.data == []
    same_items(await all_items(store, thread.id, alice), [item])


async def test_concurrent_adds_to_one_thread_all_land(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread = await new_thread(store, alice)
    items = same_instant_items(thread.id, 20, now())
    await asyncio.gather(*(store.add_thread_item(thread.id, item, alice) for item in items))
    loaded = await all_items(store, thread.id, alice)
    assert sorted(item.id for item in loaded) == sorted(item.id for item in items)


# ---- feedback ----


async def test_feedback_is_persisted_and_the_latest_kind_wins(
    store: TodoChatKitStore, database: Database, alice: ChatContext
) -> None:
    thread, items = await thread_with_items(store, alice, 3)

    await store.add_feedback(thread.id, [items[0].id, items[1].id, items[0].id], "positive", alice)
    assert await store.load_feedback(thread.id, alice) == {
        items[0].id: "positive",
        items[1].id: "positive",
    }
    await store.add_feedback(thread.id, [items[1].id], "negative", alice)
    assert await store.load_feedback(thread.id, alice) == {
        items[0].id: "positive",
        items[1].id: "negative",
    }
    async with database.session() as session:
        row = await session.get(ChatItemFeedbackRow, (thread.id, items[1].id))
    assert row is not None
    assert (row.owner_id, row.kind) == (alice.user_id, "negative")
    assert abs(row.created_at - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=5)

    # Feedback goes with its item.
    await store.delete_thread_item(thread.id, items[0].id, alice)
    assert await store.load_feedback(thread.id, alice) == {items[1].id: "negative"}


async def test_feedback_on_an_unknown_item_records_nothing(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread, [item] = await thread_with_items(store, alice, 1)
    with pytest.raises(NotFoundError):
        await store.add_feedback(thread.id, [item.id, "msg_unknown"], "positive", alice)
    assert await store.load_feedback(thread.id, alice) == {}
    with pytest.raises(ValueError, match="kind"):
        await store.add_feedback(thread.id, [item.id], "meh", alice)
    with pytest.raises(ValueError, match="at most"):
        await store.add_feedback(thread.id, [f"msg_{n}" for n in range(101)], "positive", alice)


# ---- attachments ----


async def test_attachment_metadata_round_trips_and_deletes(
    store: TodoChatKitStore, alice: ChatContext
) -> None:
    thread = await new_thread(store, alice)
    file, image = every_item(store, thread, alice)[0].attachments
    for attachment in (file, image):
        await store.save_attachment(attachment, alice)
        assert await store.load_attachment(attachment.id, alice) == attachment
    moved = image.model_copy(update={"thread_id": thread.id, "upload_descriptor": None})
    await store.save_attachment(moved, alice)
    assert await store.load_attachment(image.id, alice) == moved
    await store.delete_attachment(file.id, alice)
    with pytest.raises(NotFoundError):
        await store.load_attachment(file.id, alice)
    with pytest.raises(NotFoundError):
        await store.delete_attachment(file.id, alice)


# ---- ids ----


def test_ids_keep_the_sdk_prefixes_and_are_unique() -> None:
    store = TodoChatKitStore.__new__(TodoChatKitStore)
    context = ChatContext("u", "t")
    thread = ThreadMetadata(id="thr_x", created_at=now())
    assert set(ID_PREFIXES) == set(get_args(StoreItemType))
    for item_type, prefix in ID_PREFIXES.items():
        assert default_generate_id(item_type).split("_")[0] == prefix
        assert store.generate_item_id(item_type, thread, context).startswith(prefix + "_")
    assert store.generate_thread_id(context).startswith("thr_")
    ids = {store.generate_item_id("message", thread, context) for _ in range(10_000)}
    ids |= {store.generate_thread_id(context) for _ in range(10_000)}
    assert len(ids) == 20_000


def test_the_context_never_shows_the_token() -> None:
    context = ChatContext(user_id="u1", token="secret-bearer", request_id="r1")
    assert "secret-bearer" not in repr(context)
