"""Task cards shown in the chat: a task-list card and a compact card for one task.

Widgets are built as `chatkit.widgets.DynamicWidgetRoot`s from plain component dicts (the
shape `WidgetTemplate.build` produces; the SDK deprecates instantiating the named component
classes directly). Every component used is a real ChatKit component with valid props; the
tests validate each card against the SDK's strict component types.

Each task is one row whose `id` is `task-<task id>`, so a widget action can replace exactly that
row (see `replace_task_row`). A bulk change preview (`bulk_preview_card`) lists the tasks
without buttons and ends with Confirm / Cancel; its Confirm action carries the change and the
previewed ids, read back from the stored card when pressed. Buttons send `task.complete` / `task.reopen` / `task.delete` with
`{"task_id": …}` to the server without streaming (`threads.sync_custom_action`), so they work
even while a reply is streaming and need no model round trip. A row drawn after a change (by
the chat or by one of its buttons) also has an Undo button: `task.undo` with
`{"task_id": …, "undo_token": …}`, the token of that change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


def _title_and_badges(
    task: tasks_pb.Task, zone: ZoneInfo
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A task's title text and its badges (due, priority, tags, repeats, done)."""
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
    return title, badges


def task_row(task: tasks_pb.Task, zone: ZoneInfo, undo_token: str = "") -> dict[str, Any]:
    """A task's row: its title, badges (due, priority, tags) and its buttons (with Undo when
    `undo_token` is the change that just drew it)."""
    done = _is_done(task)
    title, badges = _title_and_badges(task, zone)
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
    return replace_component(widget, row_id(task_id), row)


def replace_component(
    widget: DynamicWidgetRoot | Any, target: str, row: dict[str, Any]
) -> DynamicWidgetRoot:
    """A copy of the widget with the component whose id is `target` replaced by `row`."""
    data = widget.model_dump(mode="json")

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


# ---- Bulk change previews (the `preview_bulk_change` tool; buttons in `actions.py`) ----

ACTION_BULK_CONFIRM = "bulk.confirm"
ACTION_BULK_CANCEL = "bulk.cancel"
BULK_ACTIONS = frozenset({ACTION_BULK_CONFIRM, ACTION_BULK_CANCEL})
# Component ids of a preview card's heading and of its button row (replaced once settled).
BULK_TITLE_ID = "bulk-title"
BULK_BUTTONS_ID = "bulk-buttons"


@dataclass(frozen=True)
class BulkChange:
    """A previewed bulk change: what it does to which tasks (in the Confirm button's payload)."""

    action: str  # "complete", "delete", "reschedule" or "tag"
    task_ids: tuple[str, ...]
    due_time: datetime | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        """The Confirm button's payload."""
        return {
            "action": self.action,
            "task_ids": list(self.task_ids),
            "due_time": self.due_time.isoformat() if self.due_time else None,
            "add_tags": list(self.add_tags),
            "remove_tags": list(self.remove_tags),
        }


def due_phrase(due: datetime, zone: ZoneInfo, now: datetime | None = None) -> str:
    """A due time as a short phrase: `today`, `tomorrow`, or `Sat 22 Nov` (with the time
    unless it stands for the whole day)."""
    local = due.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    days = (local.date() - today).days
    if days not in (0, 1):
        return format_due(due, zone, now)
    text = "today" if days == 0 else "tomorrow"
    if (local.hour, local.minute) not in _WHOLE_DAY:
        text += f" at {local:%H:%M}"
    return text


def _tag_words(change: BulkChange) -> str:
    parts = []
    if change.add_tags:
        parts.append("add " + ", ".join(f"#{tag}" for tag in change.add_tags))
    if change.remove_tags:
        parts.append("remove " + ", ".join(f"#{tag}" for tag in change.remove_tags))
    return " and ".join(parts)


def _count(count: int) -> str:
    return "1 task" if count == 1 else f"{count} tasks"


# What each action is called on a preview (a question) and once done.
_BULK_VERBS = {
    "complete": ("Complete", "Completed"),
    "delete": ("Delete", "Deleted"),
    "reschedule": ("Reschedule", "Rescheduled"),
    "tag": ("Re-tag", "Re-tagged"),
}


def bulk_heading(change: BulkChange, zone: ZoneInfo, *, done: bool) -> str:
    """A bulk card's heading: `Reschedule 4 tasks to tomorrow?` on the preview,
    `Rescheduled 4 tasks to tomorrow` once confirmed."""
    verb = _BULK_VERBS.get(change.action, ("Change", "Changed"))[done]
    text = f"{verb} {_count(len(change.task_ids))}"
    if change.action == "reschedule" and change.due_time is not None:
        text += f" to {due_phrase(change.due_time, zone)}"
    elif change.action == "tag":
        text += f": {_tag_words(change)}"
    return text if done else text + "?"


def _plain_row(task: tasks_pb.Task, zone: ZoneInfo) -> dict[str, Any]:
    """A task's row on a preview: its title and badges, no buttons."""
    title, badges = _title_and_badges(task, zone)
    return {
        "type": "Col",
        "key": task.id,
        "gap": 1,
        "children": [title, {"type": "Row", "gap": 1, "wrap": "wrap", "children": badges}],
    }


def _rows(rows: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    children: list[dict[str, Any]] = []
    for index, row in enumerate(rows[:MAX_LIST_ROWS]):
        if index:
            children.append({"type": "Divider", "spacing": 2})
        children.append(row)
    if total > MAX_LIST_ROWS:
        children.append({"type": "Caption", "value": f"and {total - MAX_LIST_ROWS} more"})
    return children


def bulk_preview_card(
    change: BulkChange, tasks: Sequence[tasks_pb.Task], zone: ZoneInfo, *, truncated: bool
) -> tuple[DynamicWidgetRoot, str]:
    """The preview of a bulk change, with Confirm / Cancel (none when no task matches)."""
    if not tasks:
        text = "No tasks match, so there is nothing to change."
        return _card([{"type": "Text", "value": text, "size": "sm"}], "sm"), text
    question = bulk_heading(change, zone, done=False)
    children: list[dict[str, Any]] = [
        {"type": "Title", "id": BULK_TITLE_ID, "value": question, "size": "sm"},
        *_rows([_plain_row(task, zone) for task in tasks], len(tasks)),
    ]
    if truncated:
        children.append(
            {"type": "Caption", "value": f"Only these {len(tasks)} are included; more match."}
        )
    confirm = {
        "type": "Button",
        "label": "Confirm",
        "size": "sm",
        "variant": "solid",
        "color": "danger" if change.action == "delete" else "primary",
        "onClickAction": _bulk_action(ACTION_BULK_CONFIRM, change.payload()),
    }
    cancel = {
        "type": "Button",
        "label": "Cancel",
        "size": "sm",
        "variant": "outline",
        "onClickAction": _bulk_action(ACTION_BULK_CANCEL, {}),
    }
    children.append({"type": "Row", "id": BULK_BUTTONS_ID, "gap": 2, "children": [confirm, cancel]})
    lines = [question] + [f"- {task_summary(task, zone)}" for task in tasks[:MAX_LIST_ROWS]]
    return _card(children, "md"), "\n".join(lines)


def _bulk_action(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "payload": payload,
        "handler": "server",
        "loadingBehavior": "container",
        "streaming": False,
    }


def pending_bulk_change(widget: DynamicWidgetRoot | Any) -> dict[str, Any] | None:
    """The payload of a preview card's Confirm button, or None once the card is settled
    (confirmed or cancelled) or when it is no preview at all."""
    for node in _walk(widget.model_dump(mode="json")):
        action = node.get("onClickAction")
        if isinstance(action, dict) and action.get("type") == ACTION_BULK_CONFIRM:
            payload = action.get("payload")
            return payload if isinstance(payload, dict) else None
    return None


def is_bulk_card(widget: DynamicWidgetRoot | Any) -> bool:
    """True for a bulk change card, pending or settled."""
    return any(node.get("id") == BULK_TITLE_ID for node in _walk(widget.model_dump(mode="json")))


def bulk_cancelled_card(widget: DynamicWidgetRoot | Any) -> DynamicWidgetRoot:
    """The preview once cancelled: the list stays, the buttons give way to a note."""
    note = {"type": "Caption", "id": BULK_BUTTONS_ID, "value": "Cancelled: nothing was changed."}
    return replace_component(widget, BULK_BUTTONS_ID, note)


def bulk_result_card(
    change: BulkChange,
    tasks: Sequence[tasks_pb.Task],
    next_tasks: Sequence[tasks_pb.Task],
    zone: ZoneInfo,
) -> tuple[DynamicWidgetRoot, str]:
    """A confirmed bulk change: the tasks as they now are (deleted ones struck out), with
    their usual buttons."""
    heading = bulk_heading(change, zone, done=True)
    if change.action == "delete":
        rows = [deleted_row(task.id, task.title) for task in tasks]
    else:
        rows = [task_row(task, zone) for task in tasks]
    children: list[dict[str, Any]] = [
        {"type": "Title", "id": BULK_TITLE_ID, "value": heading, "size": "sm"},
        *_rows(rows, len(tasks)),
    ]
    if next_tasks:
        again = _count(len(next_tasks))
        children.append({"type": "Caption", "value": f"{again} repeat: next occurrence added."})
    widget = _card(children, "md")
    return widget, widget_copy_text(widget)
