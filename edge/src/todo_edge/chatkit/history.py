"""The conversation the agent sees: the thread's newest items, flattened to typed messages.

The store is the only memory: every turn loads the newest items (`desc`, then reversed), so a
retried, stopped or deleted exchange is simply what the store holds now. Widgets become their
copy text (what the card said), assistant messages their text, and each message carries the
tasks it showed, changed or @-mentioned as typed refs (`task_refs.item_refs`), so no id has
to be in text people read; hidden and client-tool items
carry nothing the model needs and are left out, except the SDK's "stream cancelled" note,
which tells the model not to continue a reply the user stopped. Workflow items (the turn's
steps, `workflow.py`) are left out too: what a step did is already in the history twice —
the task card's copy text and the assistant's reply, which also says why a call failed — so
their text would only spend the model's context.
"""

from __future__ import annotations

from chatkit.store import Store
from chatkit.types import (
    AssistantMessageItem,
    SDKHiddenContextItem,
    Thread,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
)
from todo.agent.v1 import agent_service_pb2 as agent_pb

from todo_edge.chatkit.context import ChatContext
from todo_edge.chatkit.task_refs import item_refs

# What the model is told in place of a reply the user stopped.
STOPPED_NOTE = "(The user stopped this reply.)"


def user_text(item: UserMessageItem) -> str:
    """The text of a user message (tags contribute their visible text)."""
    parts: list[str] = []
    for part in item.content:
        if isinstance(part, UserMessageTextContent | UserMessageTagContent):
            parts.append(part.text)
    text = " ".join(part for part in parts if part)
    if item.quoted_text:
        text = f'About "{item.quoted_text}": {text}'
    return text


def item_message(item: ThreadItem, max_chars: int) -> agent_pb.ConversationMessage | None:
    """The message an item contributes to the history, if any (text cut to `max_chars`)."""
    role: agent_pb.Role.ValueType
    if isinstance(item, UserMessageItem):
        role, text = agent_pb.ROLE_USER, user_text(item)
    elif isinstance(item, AssistantMessageItem):
        role, text = agent_pb.ROLE_ASSISTANT, "\n".join(part.text for part in item.content)
    elif isinstance(item, WidgetItem):
        role, text = agent_pb.ROLE_ASSISTANT, item.copy_text or ""
    elif isinstance(item, SDKHiddenContextItem):
        role, text = agent_pb.ROLE_ASSISTANT, STOPPED_NOTE
    else:
        return None
    text = text.strip()
    if not text:
        return None
    return agent_pb.ConversationMessage(role=role, text=text[:max_chars], tasks=item_refs(item))


def _created_by_this_request(thread: ThreadMetadata) -> bool:
    """True for the thread of a `threads.create` request: the SDK answers it with the `Thread`
    it just made (an empty first page of items), where every other request loads the thread's
    metadata from the store. Such a thread holds nothing but `current`, so there is no history
    to read (one query less on a new thread's first turn)."""
    return isinstance(thread, Thread) and not thread.items.data and not thread.items.has_more


async def load_history(
    store: Store[ChatContext],
    thread: ThreadMetadata,
    current: UserMessageItem,
    context: ChatContext,
    *,
    max_items: int,
    max_chars: int,
) -> list[agent_pb.ConversationMessage]:
    """The newest messages before `current`, oldest first, at most `max_items`.

    `current` is already stored (a new message) or is the message being retried, in which
    case anything newer has just been removed; either way it and anything after it are left
    out, because it is sent as the request's `input`.
    """
    if max_items <= 0 or _created_by_this_request(thread):
        return []
    # One extra item per slot for `current` and anything the SDK stored after it.
    page = await store.load_thread_items(thread.id, None, max_items * 2 + 1, "desc", context)
    items = page.data
    ids = [item.id for item in items]
    if current.id in ids:
        items = items[ids.index(current.id) + 1 :]
    messages = [m for m in (item_message(item, max_chars) for item in items) if m is not None]
    return list(reversed(messages[:max_items]))
