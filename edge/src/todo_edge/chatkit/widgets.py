"""Task cards shown in the chat: a task-list card and a compact card for one task.

Widgets are built as `chatkit.widgets.DynamicWidgetRoot`s from plain component dicts (the
shape `WidgetTemplate.build` produces; the SDK deprecates instantiating the named component
classes directly). Every component used is a real ChatKit component with valid props; the
tests validate each card against the SDK's strict component types.

Each task is one row whose `id` is `task-<task id>`, so a widget action can replace exactly that
row (see `replace_task_row`). Buttons send `task.complete` / `task.reopen` / `task.delete` with
`{"task_id": …}` to the server without streaming (`threads.sync_custom_action`), so they work
even while a reply is streaming and need no model round trip. A row drawn after a change (by
the chat or by one of its buttons) also has an Undo button: `task.undo` with
`{"task_id": …, "undo_token": …}`, the token of that change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chatkit.widgets import DynamicWidgetRoot
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb

from todo_edge.recurrence import describe_recurrence

# Widget action types (the `type` of a button's action).
ACTION_COMPLETE = "task.complete"
ACTION_REOPEN = "task.reopen"
ACTION_DELETE = "task.delete"
ACTION_UNDO = "task.undo"
TASK_ACTIONS = frozenset({ACTION_COMPLETE, ACTION_REOPEN, ACTION_DELETE, ACTION_UNDO})
# What a card's caption says once its change was undone.
UNDONE_CAPTION = "Change undone"

# The most rows one list card shows; the caption says how many more there are.
MAX_LIST_ROWS = 25

_PRIORITY = {
    tasks_pb.TASK_PRIORITY_HIGH: ("High", "danger"),
    tasks_pb.TASK_PRIORITY_MEDIUM: ("Medium", "warning"),
    tasks_pb.TASK_PRIORITY_LOW: ("Low", "secondary"),
}


def row_id(task_id: str) -> str:
    """The component id of a task's row."""
    return f"task-{task_id}"


def title_id(task_id: str) -> str:
    """The component id of a task's title text (read back when the task is deleted)."""
    return f"title-{task_id}"


def _action(kind: str, task_id: str, **extra: str) -> dict[str, Any]:
    return {
        "type": kind,
        "payload": {"task_id": task_id, **extra},
        "handler": "server",
        "loadingBehavior": "self",
        "streaming": False,
    }


def _badge(label: str, color: str) -> dict[str, Any]:
    return {"type": "Badge", "label": label, "color": color, "variant": "soft", "size": "sm"}


# Clock times that mean "that day, no particular time": a date without a time is stored as
# the end of that day (23:59 in the user's zone, as the agent's tools and the task panel write
# it); midnight is how other clients send a bare date.
_WHOLE_DAY = {(23, 59), (0, 0)}


def format_due(due: datetime, zone: ZoneInfo, now: datetime | None = None) -> str:
    """A due time as people read it in their zone: `Sat 22 Nov`, plus the time unless it
    stands for the whole day (23:59 or midnight), plus the year unless it is this year."""
    local = due.astimezone(zone)
    current = (now or datetime.now(UTC)).astimezone(zone)
    text = f"{local:%a} {local.day} {local:%b}"
    if local.year != current.year:
        text += f" {local.year}"
    if (local.hour, local.minute) not in _WHOLE_DAY:
        text += f", {local:%H:%M}"
    return text


def _due(task: tasks_pb.Task) -> datetime | None:
    if not task.HasField("due_time"):
        return None
    return task.due_time.ToDatetime(tzinfo=UTC)


def _is_done(task: tasks_pb.Task) -> bool:
    return task.state == tasks_pb.TASK_STATE_COMPLETED


def task_summary(task: tasks_pb.Task, zone: ZoneInfo) -> str:
    """One line of plain text for a task (copy text, and the history the model sees)."""
    details = []
    due = _due(task)
    if due is not None:
        details.append(f"due {format_due(due, zone)}")
    priority = _PRIORITY.get(task.priority)
    if priority:
        details.append(f"{priority[0].lower()} priority")
    details.extend(f"#{tag}" for tag in task.tags)
    repeats = describe_recurrence(task.recurrence)
    if repeats:
        details.append(repeats)
    state = "done" if _is_done(task) else "open"
    suffix = f" ({', '.join(details)})" if details else ""
    return f"[{state}] {task.title}{suffix}"


def _undo_button(task_id: str, undo_token: str) -> dict[str, Any]:
    """The button that reverts the change that drew the row."""
    return {
        "type": "Button",
        "label": "Undo",
        "size": "sm",
        "variant": "outline",
        "onClickAction": _action(ACTION_UNDO, task_id, undo_token=undo_token),
    }


def task_row(task: tasks_pb.Task, zone: ZoneInfo, undo_token: str = "") -> dict[str, Any]:
    """A task's row: its title, badges (due, priority, tags) and its buttons (with Undo when
    `undo_token` is the change that just drew it)."""
    done = _is_done(task)
    badges: list[dict[str, Any]] = []
    due = _due(task)
    if due is not None:
        overdue = not done and due < datetime.now(UTC)
        badges.append(
            _badge(
                ("Overdue " if overdue else "Due ") + format_due(due, zone),
                "danger" if overdue else "info",
            )
        )
    priority = _PRIORITY.get(task.priority)
    if priority:
        badges.append(_badge(priority[0], priority[1]))
    badges.extend(_badge(f"#{tag}", "discovery") for tag in task.tags)
    repeats = describe_recurrence(task.recurrence)
    if repeats:
        badges.append(_badge(repeats[0].upper() + repeats[1:], "secondary"))
    if done:
        badges.append(_badge("Done", "success"))
    title: dict[str, Any] = {
        "type": "Text",
        "id": title_id(task.id),
        "value": task.title,
        "weight": "semibold",
        "size": "sm",
        "lineThrough": done,
    }
    if done:
        title["color"] = "secondary"
    toggle = (
        {
            "type": "Button",
            "label": "Reopen",
            "iconStart": "reload",
            "size": "sm",
            "variant": "outline",
            "onClickAction": _action(ACTION_REOPEN, task.id),
        }
        if done
        else {
            "type": "Button",
            "label": "Complete",
            "iconStart": "check",
            "size": "sm",
            "variant": "solid",
            "color": "success",
            "onClickAction": _action(ACTION_COMPLETE, task.id),
        }
    )
    delete = {
        "type": "Button",
        "label": "Delete",
        "size": "sm",
        "variant": "ghost",
        "color": "danger",
        "onClickAction": _action(ACTION_DELETE, task.id),
    }
    buttons = [toggle, delete]
    if undo_token:
        buttons.append(_undo_button(task.id, undo_token))
    return {
        "type": "Row",
        "id": row_id(task.id),
        "key": task.id,
        "gap": 3,
        "align": "center",
        "children": [
            {
                "type": "Col",
                "flex": 1,
                "gap": 1,
                "children": [
                    title,
                    {"type": "Row", "gap": 1, "wrap": "wrap", "children": badges},
                ],
            },
            # The buttons keep their width ("0 0 auto"); the title and badges give way
            # (they wrap), so the buttons never spill past the card's edge.
            {"type": "Row", "gap": 2, "flex": "0 0 auto", "children": buttons},
        ],
    }


def deleted_row(task_id: str, title: str, undo_token: str = "") -> dict[str, Any]:
    """What a task's row becomes once the task is deleted: the title struck out, and only an
    Undo button (when `undo_token` is the deletion's)."""
    trailing: list[dict[str, Any]] = [_badge("Deleted", "secondary")]
    if undo_token:
        trailing.append(_undo_button(task_id, undo_token))
    return {
        "type": "Row",
        "id": row_id(task_id),
        "key": task_id,
        "gap": 3,
        "align": "center",
        "children": [
            {
                "type": "Text",
                "id": title_id(task_id),
                "value": title,
                "size": "sm",
                "lineThrough": True,
                "color": "secondary",
            },
            {"type": "Spacer"},
            *trailing,
        ],
    }


def _card(children: list[dict[str, Any]], size: str) -> DynamicWidgetRoot:
    return DynamicWidgetRoot.model_validate(
        {"type": "Card", "size": size, "padding": 3, "children": children}
    )


def task_list_card(
    tasks: Sequence[tasks_pb.Task], heading: str, zone: ZoneInfo
) -> tuple[DynamicWidgetRoot, str]:
    """A card listing tasks (at most MAX_LIST_ROWS), and its plain-text copy."""
    shown = list(tasks[:MAX_LIST_ROWS])
    children: list[dict[str, Any]] = [{"type": "Title", "value": heading, "size": "sm"}]
    if not shown:
        children.append({"type": "Text", "value": "No tasks.", "color": "secondary", "size": "sm"})
    for index, task in enumerate(shown):
        if index:
            children.append({"type": "Divider", "spacing": 2})
        children.append(task_row(task, zone))
    more = len(tasks) - len(shown)
    if more > 0:
        children.append({"type": "Caption", "value": f"and {more} more"})
    lines = [heading + ":"] + [f"- {task_summary(task, zone)}" for task in shown]
    if more > 0:
        lines.append(f"- and {more} more")
    return _card(children, "md"), "\n".join(lines)


def task_card(
    task: tasks_pb.Task, heading: str, zone: ZoneInfo, undo_token: str = ""
) -> tuple[DynamicWidgetRoot, str]:
    """A compact card for one created or changed task (with Undo when `undo_token` is that
    change's), and its plain-text copy."""
    children = [{"type": "Caption", "value": heading}, task_row(task, zone, undo_token)]
    return _card(children, "sm"), f"{heading}: {task_summary(task, zone)}"


def deleted_card(
    count: int, deleted: Sequence[tasks_pb.Task] = (), undo_token: str = ""
) -> tuple[DynamicWidgetRoot, str]:
    """A compact card saying tasks were deleted: a struck-out row per deleted task known (with
    Undo when `undo_token` is the deletion's)."""
    text = "Task deleted" if count == 1 else f"{count} tasks deleted"
    children: list[dict[str, Any]] = [{"type": "Caption", "value": text}]
    children.extend(deleted_row(task.id, task.title, undo_token) for task in deleted)
    return _card(children, "sm"), text


def mark_undone(widget: DynamicWidgetRoot | Any) -> DynamicWidgetRoot:
    """A copy of a card whose caption now says its change was undone."""
    data = widget.model_dump(mode="json")
    for node in data.get("children") or []:
        if isinstance(node, dict) and node.get("type") == "Caption":
            node["value"] = UNDONE_CAPTION
    return DynamicWidgetRoot.model_validate(data)


def _walk(node: Any) -> Iterable[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        children = node.get("children")
        if isinstance(children, list):
            for child in children:
                yield from _walk(child)
        elif isinstance(children, dict):
            yield from _walk(children)


def widget_task_ids(widget: DynamicWidgetRoot | Any) -> list[str]:
    """The ids of the tasks that have a row in the widget."""
    data = widget.model_dump(mode="json")
    return [
        str(node["key"])
        for node in _walk(data)
        if node.get("type") == "Row" and str(node.get("id", "")) == row_id(str(node.get("key")))
    ]


def row_title(widget: DynamicWidgetRoot | Any, task_id: str) -> str | None:
    """The title shown for a task in the widget, if it has a row."""
    for node in _walk(widget.model_dump(mode="json")):
        if node.get("id") == title_id(task_id) and isinstance(node.get("value"), str):
            return str(node["value"])
    return None


def replace_task_row(
    widget: DynamicWidgetRoot | Any, task_id: str, row: dict[str, Any]
) -> DynamicWidgetRoot:
    """A copy of the widget with the task's row replaced by `row`."""
    data = widget.model_dump(mode="json")
    target = row_id(task_id)

    def replace(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("id") == target:
                return row
            children = node.get("children")
            if isinstance(children, list):
                return {**node, "children": [replace(child) for child in children]}
            if isinstance(children, dict):
                return {**node, "children": replace(children)}
        return node

    return DynamicWidgetRoot.model_validate(replace(data))


def widget_copy_text(widget: DynamicWidgetRoot | Any) -> str:
    """Plain text of a task card as it is now (after an action changed a row)."""
    lines: list[str] = []
    data = widget.model_dump(mode="json")
    for node in data.get("children") or []:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind in ("Title", "Caption") and isinstance(node.get("value"), str):
            lines.append(str(node["value"]))
        elif kind == "Row":
            parts = [
                str(child.get("value") or child.get("label"))
                for child in _walk(node)
                if child.get("type") in ("Text", "Badge")
            ]
            if parts:
                title, badges = parts[0], parts[1:]
                lines.append(f"- {title}" + (f" ({', '.join(badges)})" if badges else ""))
    return "\n".join(lines)
