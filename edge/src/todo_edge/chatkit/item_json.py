"""`items.list` and `threads.get_by_id` answered from the stored item JSON, byte for byte what
the SDK's own path answers, without decoding task cards and serialising them again.

The SDK's path decodes every stored item into pydantic models and dumps the page with
`by_alias`, `exclude_none` and `exclude_metadata`; a widget's serialiser drops `None`s
recursively at every nesting level, so a page with task cards cost ~0.6 ms per card (profiled:
200 items with 67 cards, 55 ms). Here a page is the stored rows spliced into the envelope the
SDK serialises for an empty page:

- a template-built card (`widget_root == DYNAMIC_WIDGET_ROOT`) was stored by the same
  serialiser, which already dropped every `None` but a component's `children`; its response
  form is its stored JSON without `"children":null` on components and without a trailing
  `"copy_text":null` (`card_response_json`). It relies on the row having been written by
  the store (`_encode_item`: pydantic writes a component's declared fields, then its template
  properties, in the order decoding gives them back). A card the transform cannot prove (a
  `"children":null` anywhere but on a component, item fields out of their declared order,
  JSON that does not parse) takes the SDK path for that item;
- every other item is decoded and dumped alone with the SDK's options (a message costs
  5 to 30 µs), and hidden context items are left out as the SDK leaves them out.

`tests/chatkit/test_item_json.py` compares both paths byte for byte.
"""

from __future__ import annotations

from typing import Any

import orjson
from chatkit.server import DEFAULT_PAGE_SIZE, ChatKitServer
from chatkit.types import (
    ChatKitReq,
    HiddenContextItem,
    ItemsListReq,
    Page,
    SDKHiddenContextItem,
    ThreadItem,
    ThreadsGetByIdReq,
)

from todo_edge.chatkit.context import ChatContext
from todo_edge.chatkit.read_cache import CachedPage
from todo_edge.chatkit.store import DYNAMIC_WIDGET_ROOT, TodoChatKitStore
from todo_edge.chatkit.store import _decode_item as decode_item

# The SDK's `_serialize` options for every JSON response.
_DUMP_OPTIONS: dict[str, Any] = {
    "by_alias": True,
    "exclude_none": True,
    "context": {"exclude_metadata": True},
}

# A WidgetItem's fields in the order pydantic writes them.
_WIDGET_ITEM_KEYS = ("id", "thread_id", "created_at", "type", "widget", "copy_text")
_ABSENT = object()

_NULL_CHILDREN = b',"children":null'
_NULL_COPY_TEXT_END = b',"copy_text":null}'
_DATA_START = b'{"data":['


async def read_response(
    request: ChatKitReq,
    server: ChatKitServer[ChatContext],
    store: TodoChatKitStore,
    context: ChatContext,
) -> bytes | None:
    """The JSON answer to `items.list` or `threads.get_by_id` (what the SDK's
    `_process_non_streaming` returns for it), or None for any other op."""
    if isinstance(request, ItemsListReq):
        params = request.params
        page = await store.load_item_rows(
            params.thread_id, params.after, params.limit or DEFAULT_PAGE_SIZE, params.order, context
        )
        return items_page_json(server, page)
    if isinstance(request, ThreadsGetByIdReq):
        thread_id = request.params.thread_id
        thread = await store.load_thread(thread_id, context)
        page = await store.load_item_rows(thread_id, None, DEFAULT_PAGE_SIZE, "asc", context)
        response = server._to_thread_response(thread)
        response.items = _empty_page(page)
        envelope = server._serialize(response)
        items = _envelope(server, page)
        suffix = b'"items":' + items + b"}"
        if not envelope.endswith(suffix):
            # Not the shape this module knows (a newer SDK): serialise it the SDK's way.
            response.items = _decoded_page(page)
            return server._serialize(response)
        return envelope[: -len(suffix)] + b'"items":' + _splice(items, page) + b"}"
    return None


def items_page_json(server: ChatKitServer[ChatContext], page: CachedPage) -> bytes:
    """The `items.list` answer for a page of stored rows."""
    envelope = _envelope(server, page)
    if not envelope.startswith(_DATA_START + b"]"):
        return server._serialize(_decoded_page(page))
    return _splice(envelope, page)


def card_response_json(data: str) -> bytes | None:
    """A stored template-built widget item's JSON as the SDK serialises it in a response, or
    None when the stored JSON is not in the form this transform is proved for."""
    try:
        fields = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(fields, dict) or not _in_order(list(fields), _WIDGET_ITEM_KEYS):
        return None
    widget = fields.get("widget")
    if not isinstance(widget, dict):
        return None
    null_children = _component_null_children(widget)
    encoded = data.encode()
    # Every `"children":null` must be a component's (the SDK keeps one inside a template
    # property's plain dict); a component's `children` never comes first (`type` precedes it).
    if null_children is None or encoded.count(b'"children":null') != null_children:
        return None
    if encoded.count(_NULL_CHILDREN) != null_children:
        return None
    if null_children:
        encoded = encoded.replace(_NULL_CHILDREN, b"")
    if "copy_text" in fields and fields["copy_text"] is None:
        if not encoded.endswith(_NULL_COPY_TEXT_END):
            return None
        encoded = encoded[: -len(_NULL_COPY_TEXT_END)] + b"}"
    return encoded


def _component_null_children(widget: dict[str, Any]) -> int | None:
    """How many components of the tree (the root and everything under `children`) have
    `"children": null`; None if a child is not an object."""
    found = 0
    pending: list[Any] = [widget]
    while pending:
        node = pending.pop()
        if type(node) is not dict:
            return None
        children = node.get("children", _ABSENT)
        if children is None:
            found += 1
        elif type(children) is list:
            pending.extend(children)
        elif children is not _ABSENT:
            pending.append(children)
    return found


def _in_order(keys: list[str], declared: tuple[str, ...]) -> bool:
    """True if the keys are declared ones, in declared order."""
    return keys == [key for key in declared if key in keys]


def _fragments(page: CachedPage) -> list[bytes]:
    """Each visible row's response JSON, in page order."""
    out: list[bytes] = []
    for row in page.rows:
        if row[2] == DYNAMIC_WIDGET_ROOT:
            fast = card_response_json(row[1])
            if fast is not None:
                out.append(fast)
                continue
        item = decode_item(row)
        if not _is_hidden(item):
            out.append(item.model_dump_json(**_DUMP_OPTIONS).encode())
    return out


def _splice(envelope: bytes, page: CachedPage) -> bytes:
    """The envelope of an empty page (`{"data":[],…}`) with the page's items in it."""
    return _DATA_START + b",".join(_fragments(page)) + envelope[len(_DATA_START) :]


def _is_hidden(item: ThreadItem) -> bool:
    return isinstance(item, HiddenContextItem | SDKHiddenContextItem)


def _after(page: CachedPage) -> str | None:
    """The page's `after`, as the store's Page sets it (the last row's id, hidden or not)."""
    return page.rows[-1][0] if page.has_more and page.rows else None


def _empty_page(page: CachedPage) -> Page[ThreadItem]:
    return Page[ThreadItem](data=[], has_more=page.has_more, after=_after(page))


def _envelope(server: ChatKitServer[ChatContext], page: CachedPage) -> bytes:
    return server._serialize(_empty_page(page))


def _decoded_page(page: CachedPage) -> Page[ThreadItem]:
    """The page as the SDK's path builds it: decoded items, hidden ones left out."""
    items = [decode_item(row) for row in page.rows]
    return Page[ThreadItem](
        data=[item for item in items if not _is_hidden(item)],
        has_more=page.has_more,
        after=_after(page),
    )
