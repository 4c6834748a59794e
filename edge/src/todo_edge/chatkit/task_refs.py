"""Typed task references (`todo.agent.v1.TaskRef`) from and to stored ChatKit items.

The agent reads ids from refs, never from text people read, so every item that showed or named
tasks yields its refs when the history is built:

- a task card: one ref per task row, numbered when the card is a list;
- an assistant message: the refs the agent sent with it (`MessageDone.tasks`), stored on the
  message as entity annotations (`EntitySource` with `data.type == "task"`), which the ChatKit
  client shows as the message's sources (hover: a preview, click: the task in the page's panel);
- a user message: its @-mentions (`input_tag` content of a task), checked against the user's
  tasks when the message arrived (`check_mentions`): a mention of a task that is not theirs, or
  no longer exists, was turned into plain text then, so a stored tag is always the user's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import grpc
from chatkit.types import (
    Annotation,
    AssistantMessageItem,
    EntitySource,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
)
from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.channels import bind_caller

from todo_edge.chatkit.widgets import row_id, title_id

log = logging.getLogger(__name__)

# The entity type the web page gives task tags and the edge gives task annotations.
TASK_ENTITY = "task"
# At most this many @-mentions of one message are checked; later ones stay plain text.
MAX_MENTIONS = 20
# The agent's limits (`todo_agent.task_refs`).
MAX_REFS = 100
MAX_ID_CHARS = 128
MAX_TITLE_CHARS = 500


def _ref(task_id: str, title: str, position: int = 0) -> agent_pb.TaskRef:
    return agent_pb.TaskRef(id=task_id, title=title[:MAX_TITLE_CHARS], position=position)


def is_task_tag(part: object) -> bool:
    """Whether a user message part is an @-mention of a task."""
    return (
        isinstance(part, UserMessageTagContent)
        and part.data.get("type") == TASK_ENTITY
        and 0 < len(part.id) <= MAX_ID_CHARS
    )


def item_refs(item: object) -> list[agent_pb.TaskRef]:
    """The tasks a stored item showed, changed or mentioned, in the order shown."""
    if isinstance(item, WidgetItem):
        refs = widget_refs(item.widget)
    elif isinstance(item, AssistantMessageItem):
        refs = [
            _ref(source.id, source.title, int(source.data.get("position") or 0))
            for part in item.content
            for annotation in part.annotations
            if isinstance(source := annotation.source, EntitySource)
            and source.data.get("type") == TASK_ENTITY
        ]
    elif isinstance(item, UserMessageItem):
        refs = [
            _ref(part.id, part.text)
            for part in item.content
            if isinstance(part, UserMessageTagContent) and is_task_tag(part)
        ]
    else:
        return []
    return refs[:MAX_REFS]


def _nodes(node: Any) -> Iterator[Any]:
    """Every component of a widget, depth first (walked on the objects: dumping a list card
    to dicts costs ~17 ms, walking it a few µs)."""
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, list):
        for child in children:
            yield from _nodes(child)
    elif children is not None and not isinstance(children, str):
        yield from _nodes(children)


def widget_refs(widget: Any) -> list[agent_pb.TaskRef]:
    """One ref per task row of a task card (see `widgets.py`), numbered on a list card."""
    rows: list[str] = []
    titles: dict[str, str] = {}
    is_list = False
    for node in _nodes(widget):
        kind = getattr(node, "type", None)
        if kind == "Title":
            is_list = True
        node_id = getattr(node, "id", None)
        key = getattr(node, "key", None)
        if kind == "Row" and isinstance(key, str) and node_id == row_id(key):
            rows.append(key)
        elif kind == "Text" and isinstance(node_id, str) and node_id.startswith("title-"):
            value = getattr(node, "value", None)
            if isinstance(value, str):
                titles[node_id] = value
    return [
        _ref(task_id, titles.get(title_id(task_id), ""), index if is_list else 0)
        for index, task_id in enumerate(rows, start=1)
    ]


def ref_annotations(refs: Iterable[agent_pb.TaskRef]) -> list[Annotation]:
    """An assistant message's refs as entity annotations (its sources, in the client)."""
    return [
        Annotation(
            source=EntitySource(
                id=ref.id,
                title=ref.title,
                icon="check-circle",
                interactive=True,
                data={"type": TASK_ENTITY, "position": ref.position},
            )
        )
        for ref in refs
    ]


async def check_mentions(
    tasks: tasks_service_pb2_grpc.TaskServiceStub,
    item: UserMessageItem,
    *,
    token: str,
    deadline_seconds: float,
) -> tuple[list[agent_pb.TaskRef], bool]:
    """The refs of the message's @-mentioned tasks that are the caller's, with their current
    titles; and whether the message changed. A mention of another user's task, a missing one,
    one past `MAX_MENTIONS` or one that cannot be checked now becomes plain text in `item`
    (the same answer for every case: nothing tells a foreign id from a missing one)."""
    tags = [part for part in item.content if isinstance(part, UserMessageTagContent)]
    if not tags:
        return [], False
    stub = bind_caller(tasks, token=token, timeout=deadline_seconds)
    checked = [tag for tag in tags if is_task_tag(tag)][:MAX_MENTIONS]
    found = await asyncio.gather(*(_own_task(stub, tag.id) for tag in checked))
    owned = {tag.id: task for tag, task in zip(checked, found, strict=True) if task is not None}
    refs: list[agent_pb.TaskRef] = []
    content: list[UserMessageTextContent | UserMessageTagContent] = []
    changed = False
    for part in item.content:
        task = owned.get(part.id) if isinstance(part, UserMessageTagContent) else None
        if isinstance(part, UserMessageTagContent) and task is None:
            content.append(UserMessageTextContent(text=part.text))
            changed = True
            continue
        if isinstance(part, UserMessageTagContent) and task is not None:
            if part.text != task.title:
                # The text the agent finds the title in (`todo_agent.task_refs`).
                part = part.model_copy(update={"text": task.title})
                changed = True
            if all(ref.id != task.id for ref in refs):
                refs.append(_ref(task.id, task.title))
        content.append(part)
    if changed:
        item.content = list(content)
    return refs, changed


async def _own_task(stub: Any, task_id: str) -> tasks_pb.Task | None:
    """The caller's task, or None (not theirs, missing, or the tasks service failed)."""
    try:
        response = await stub.GetTask(tasks_pb.GetTaskRequest(id=task_id))
    except grpc.aio.AioRpcError as error:
        if error.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            log.warning("mention not checked", extra={"code": error.code().name})
        return None
    task: tasks_pb.Task = response.task
    return task
