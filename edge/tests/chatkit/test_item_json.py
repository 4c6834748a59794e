"""`items.list` and `threads.get_by_id` from the stored JSON (`item_json.py`) answer byte for byte
what the SDK's own `_process_non_streaming` answers, over the real store and database.

The thread holds every kind of item the edge stores: messages, task cards built by
`widgets.py` (one task, lists with done, overdue, tagged and escaped titles, a deleted card,
one without copy text), a card the splice cannot prove (a `"children": null` inside a template
property, which the SDK keeps), a strict `Card`, client tool calls, workflows, images and the
hidden context items both paths leave out. Both answers are compared for every page size,
order and cursor.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from chatkit.server import ChatKitServer
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    InferenceOptions,
    SDKHiddenContextItem,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import Card, DynamicWidgetRoot, Text
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_edge.chatkit import widgets as cards
from todo_edge.chatkit.item_json import card_response_json, read_response
from todo_edge.chatkit.requests import parse_request
from todo_edge.chatkit.store import DYNAMIC_WIDGET_ROOT

ZONE = ZoneInfo("Europe/London")


class ReadOnlyServer(ChatKitServer[ChatContext]):
    """The SDK's server over the store; only its JSON reads are used here."""

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        raise AssertionError("no turn runs in these tests")
        yield  # pragma: no cover


def _task(number: int, *, done: bool = False, due_days: int | None = 1) -> tasks_pb.Task:
    task = tasks_pb.Task(
        id=f"task-{number:04d}",
        title=f'Task {number} "quoted" ünïcødé \\ back\tslash \u2028 😀',
        priority=[
            tasks_pb.TASK_PRIORITY_HIGH,
            tasks_pb.TASK_PRIORITY_MEDIUM,
            tasks_pb.TASK_PRIORITY_LOW,
        ][number % 3],
        tags=["home", "errand"][: number % 3],
        state=tasks_pb.TASK_STATE_COMPLETED if done else tasks_pb.TASK_STATE_OPEN,
    )
    if due_days is not None:
        task.due_time.FromDatetime(datetime.now(UTC) + timedelta(days=due_days))
    return task


def _thread_items(thread_id: str) -> list[ThreadItem]:
    """One of every kind of item, repeated so pages of every size cut through all of them."""
    start = datetime(2026, 12, 1, 9, 30, 0, 123456)
    items: list[ThreadItem] = []

    def at() -> dict[str, Any]:
        return {
            "id": f"item-{len(items):04d}",
            "thread_id": thread_id,
            "created_at": start + timedelta(seconds=len(items)),
        }

    for round_ in range(6):
        items.append(
            UserMessageItem(
                **at(),
                content=[UserMessageTextContent(text=f"add task {round_}")],
                inference_options=InferenceOptions(),
                quoted_text="earlier" if round_ % 2 else None,
            )
        )
        widget, copy_text = cards.task_card(_task(round_), "Added", ZONE)
        items.append(WidgetItem(**at(), widget=widget, copy_text=copy_text))
        listed = [_task(n, done=n % 2 == 0, due_days=(-2, None, 3)[n % 3]) for n in range(30)]
        widget, copy_text = cards.task_list_card(listed[: round_ * 6], "Your tasks", ZONE)
        items.append(WidgetItem(**at(), widget=widget, copy_text=copy_text))
        widget, copy_text = cards.deleted_card(round_ + 1)
        items.append(WidgetItem(**at(), widget=widget, copy_text=None if round_ % 2 else copy_text))
        items.append(
            AssistantMessageItem(**at(), content=[AssistantMessageContent(text="Done. 👍")])
        )
        items.append(SDKHiddenContextItem(**at(), content="The user cancelled the stream."))
        items.append(HiddenContextItem(**at(), content={"note": None}))
    odd = DynamicWidgetRoot.model_validate(
        {
            "type": "Card",
            "padding": 1.5,
            "big": [1e20, 0.1, 123456789012345678901234567890],
            "raw": {"children": None, "label": "kept by the SDK"},
            "children": {"type": "Text", "value": "only child", "children": None},
        }
    )
    items.append(WidgetItem(**at(), widget=odd, copy_text="odd"))
    items.append(WidgetItem(**at(), widget=Card(children=[Text(value="strict")])))
    items.append(
        ClientToolCallItem(
            **at(), call_id="call-1", name="pick", arguments={"a": None}, output=None
        )
    )
    items.append(
        WorkflowItem(
            **at(), workflow=Workflow(type="custom", tasks=[CustomTask(title="step", icon=None)])
        )
    )
    items.append(GeneratedImageItem(**at(), image=GeneratedImage(id="img", url="https://x/y")))
    items.append(EndOfTurnItem(**at()))
    return items


@pytest.fixture
async def thread(store: TodoChatKitStore, alice: ChatContext) -> str:
    thread = ThreadMetadata(
        id="thr_items_json", title="Cards ünï", created_at=datetime(2026, 12, 1, 9, 0)
    )
    await store.save_thread(thread, alice)
    for item in _thread_items(thread.id):
        await store.add_thread_item(thread.id, item, alice)
    return thread.id


async def _both(
    store: TodoChatKitStore, context: ChatContext, op: str, params: dict[str, Any]
) -> tuple[bytes, bytes | None]:
    """(the SDK's answer, the spliced answer) to one request."""
    server = ReadOnlyServer(store)
    request = parse_request(f'{{"type": "{op}", "params": {json.dumps(params)}}}')
    sdk = await server._process_non_streaming(request, context)  # type: ignore[arg-type]
    return sdk, await read_response(request, server, store, context)


async def test_items_list_is_byte_identical_for_every_page(
    store: TodoChatKitStore, alice: ChatContext, thread: str
) -> None:
    for order in ("asc", "desc"):
        for limit in (None, 1, 7, 20, 200):
            after: str | None = None
            pages = 0
            while True:
                params: dict[str, Any] = {"thread_id": thread, "order": order}
                if limit is not None:
                    params["limit"] = limit
                if after is not None:
                    params["after"] = after
                sdk, spliced = await _both(store, alice, "items.list", params)
                assert spliced == sdk, (order, limit, after)
                page = json.loads(sdk)
                pages += 1
                if not page["has_more"]:
                    break
                after = page["after"]
            assert pages >= 1
    sdk, _ = await _both(store, alice, "items.list", {"thread_id": thread, "limit": 200})
    shown = json.loads(sdk)["data"]
    # The thread's visible items all came back, cards included (hidden ones left out).
    assert len(shown) == 6 * 5 + 6
    assert sum(item["type"] == "widget" for item in shown) == 6 * 3 + 2


async def test_template_cards_are_spliced_not_decoded(
    store: TodoChatKitStore, alice: ChatContext, thread: str
) -> None:
    page = await store.load_item_rows(thread, None, 200, "asc", alice)
    dynamic = [row for row in page.rows if row[2] == DYNAMIC_WIDGET_ROOT]
    spliced = [row for row in dynamic if card_response_json(row[1]) is not None]
    # Every card widgets.py built; only the odd card (a null `children` in a plain dict) is not.
    assert len(dynamic) == 6 * 3 + 1
    assert len(spliced) == len(dynamic) - 1


async def test_get_by_id_is_byte_identical(
    store: TodoChatKitStore, alice: ChatContext, thread: str
) -> None:
    sdk, spliced = await _both(store, alice, "threads.get_by_id", {"thread_id": thread})
    assert spliced == sdk
    assert b'"has_more":true' in sdk


async def test_another_users_thread_answers_alike(
    store: TodoChatKitStore, alice: ChatContext, bob: ChatContext, thread: str
) -> None:
    sdk, spliced = await _both(store, bob, "items.list", {"thread_id": thread})
    assert spliced == sdk == b'{"data":[],"has_more":false}'
    server = ReadOnlyServer(store)
    request = parse_request(
        f'{{"type": "threads.get_by_id", "params": {{"thread_id": "{thread}"}}}}'
    )
    with pytest.raises(NotFoundError):
        await read_response(request, server, store, bob)


async def test_other_ops_take_the_sdk_path(store: TodoChatKitStore, alice: ChatContext) -> None:
    request = parse_request('{"type": "threads.list", "params": {}}')
    assert await read_response(request, ReadOnlyServer(store), store, alice) is None


def test_a_card_with_a_null_children_outside_a_component_is_not_spliced() -> None:
    widget = DynamicWidgetRoot.model_validate(
        {"type": "Card", "raw": {"children": None}, "children": [{"type": "Text", "value": "x"}]}
    )
    item = WidgetItem(id="w", thread_id="t", created_at=datetime(2026, 1, 1), widget=widget)
    stored = item.model_dump_json()
    assert card_response_json(stored) is None
    plain, _ = cards.task_card(_task(1), "Added", ZONE)
    item = WidgetItem(id="w", thread_id="t", created_at=datetime(2026, 1, 1), widget=plain)
    spliced = card_response_json(item.model_dump_json())
    assert (
        spliced
        == item.model_dump_json(
            by_alias=True, exclude_none=True, context={"exclude_metadata": True}
        ).encode()
    )
    assert b'"children":null' in item.model_dump_json().encode()
