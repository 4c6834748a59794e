"""Widget actions: the Complete / Reopen / Delete / Undo buttons of task cards, and the
Confirm / Cancel buttons of bulk change previews (`run_bulk_action`); `run_card_action` runs
either as the caller.

They call the tasks service directly with the caller's token (no model round trip) and
return the card with that task's row redrawn; a row redrawn after a change carries an Undo
button with that change's token, and Undo (`UndoChange`) redraws the card's rows it restored. The tasks service scopes every call by the
token's user, so another user's task id is NOT_FOUND exactly like a missing one: the user gets
a friendly message and nothing changes. Bad payloads (unknown action, missing or odd task id)
are INVALID_ARGUMENT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import grpc
from chatkit.actions import Action
from chatkit.types import WidgetItem
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.channels import bind_caller
from todo_common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    parse_rpc_error,
)

from todo_edge.chatkit.widgets import (
    ACTION_BULK_CANCEL,
    ACTION_BULK_CONFIRM,
    ACTION_COMPLETE,
    ACTION_DELETE,
    ACTION_REOPEN,
    ACTION_UNDO,
    BULK_ACTIONS,
    TASK_ACTIONS,
    BulkChange,
    bulk_cancelled_card,
    bulk_result_card,
    deleted_row,
    is_bulk_card,
    mark_undone,
    pending_bulk_change,
    replace_task_row,
    row_title,
    task_row,
    widget_copy_text,
    widget_task_ids,
)

MAX_TASK_ID_CHARS = 128
MAX_UNDO_TOKEN_CHARS = 256

TASK_GONE_MESSAGE = "That task no longer exists; it may have been deleted. Nothing was changed."
NOT_ON_CARD_MESSAGE = "That task is not on this card. Nothing was changed."
UNDO_GONE_MESSAGE = "That change can no longer be undone. Nothing was changed."


@dataclass(frozen=True)
class ActionOutcome:
    """What an action did: the redrawn widget item, and which task changed or was deleted."""

    item: WidgetItem | None
    task_id: str
    deleted: bool


def parse_task_action(action: Action[str, Any]) -> tuple[str, str]:
    """The action's type and task id; InvalidArgument when it is not a task action.

    The SDK's `Action` model accepts anything: a missing `type` is left as the model's
    TypeVar default and `payload` may be any JSON. So every part is checked for its type
    here, and a payload must be exactly `{"task_id": …}` as the cards send it (Undo's:
    `{"task_id": …, "undo_token": …}`; anything else, however large, is refused without
    being echoed back)."""
    kind: object = action.type
    if not isinstance(kind, str) or kind not in TASK_ACTIONS:
        raise _unknown_action(kind)
    payload: object = action.payload
    task_id = payload.get("task_id") if isinstance(payload, dict) else None
    keys = {"task_id", "undo_token"} if kind == ACTION_UNDO else {"task_id"}
    if (
        not isinstance(payload, dict)
        or set(payload) != keys
        or not _is_undo_token(payload.get("undo_token", "-"))
        or not isinstance(task_id, str)
        or not task_id
        or len(task_id) > MAX_TASK_ID_CHARS
    ):
        raise InvalidArgument(
            "The action needs the task's id, and nothing else.",
            field_violations=[
                FieldViolation(
                    "params.action.payload",
                    f'must be {{"task_id": …}} with a task id of 1 to {MAX_TASK_ID_CHARS} '
                    'characters (and, for Undo, "undo_token")',
                )
            ],
            reason="INVALID_ACTION_PAYLOAD",
        )
    return kind, task_id


def _is_undo_token(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_UNDO_TOKEN_CHARS


def _unknown_action(kind: object) -> InvalidArgument:
    shown = f" `{kind[:64]}`" if isinstance(kind, str) and kind else ""
    known = ", ".join(sorted(TASK_ACTIONS | BULK_ACTIONS))
    return InvalidArgument(
        f"Unknown action{shown}.",
        field_violations=[FieldViolation("params.action.type", f"must be one of {known}")],
        reason="UNKNOWN_ACTION",
    )


async def run_card_action(
    tasks: tasks_service_pb2_grpc.TaskServiceStub,
    action: Action[str, Any],
    sender: WidgetItem | None,
    *,
    token: str,
    deadline_seconds: float,
    zone: ZoneInfo,
) -> ActionOutcome | BulkOutcome:
    """One card button as the caller (`token`; every tasks call within `deadline_seconds`):
    a preview's Confirm / Cancel (`run_bulk_action`) or a task card's button
    (`run_task_action`)."""
    caller = bind_caller(tasks, token=token, timeout=deadline_seconds)
    if is_bulk_action(action):
        return await run_bulk_action(caller, action, sender, zone)
    return await run_task_action(caller, action, sender, zone)


async def run_task_action(
    caller: tasks_service_pb2_grpc.TaskServiceStub,
    action: Action[str, Any],
    sender: WidgetItem | None,
    zone: ZoneInfo,
) -> ActionOutcome:
    """Performs a task action and redraws the sender's row. Raises InvalidArgument for a bad
    action, NotFound (friendly text) for a missing or foreign task, and lets other gRPC
    errors through (the caller maps them). `caller`: the tasks service bound to the caller."""
    kind, task_id = parse_task_action(action)
    if sender is not None and task_id not in widget_task_ids(sender.widget):
        # A crafted request naming some other task through this card.
        raise NotFound(NOT_ON_CARD_MESSAGE, reason="TASK_NOT_ON_CARD")
    if kind == ACTION_UNDO:
        return await _undo(caller, task_id, str(action.payload["undo_token"]), sender, zone)
    task: tasks_pb.Task | None
    try:
        if kind == ACTION_DELETE:
            deleted = await caller.DeleteTask(tasks_pb.DeleteTaskRequest(id=task_id))
            task, undo_token = None, deleted.undo_token
        elif kind == ACTION_COMPLETE:
            done = await caller.CompleteTask(tasks_pb.CompleteTaskRequest(id=task_id))
            task, undo_token = done.task, done.undo_token
        else:
            assert kind == ACTION_REOPEN
            reopened = await caller.ReopenTask(tasks_pb.ReopenTaskRequest(id=task_id))
            task, undo_token = reopened.task, reopened.undo_token
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(TASK_GONE_MESSAGE, reason="TASK_NOT_FOUND") from None
        raise
    if sender is None:
        return ActionOutcome(item=None, task_id=task_id, deleted=task is None)
    if task is None:
        row = deleted_row(task_id, row_title(sender.widget, task_id) or "Task", undo_token)
    else:
        row = task_row(task, zone, undo_token)
    widget = replace_task_row(sender.widget, task_id, row)
    item = sender.model_copy(update={"widget": widget, "copy_text": widget_copy_text(widget)})
    return ActionOutcome(item=item, task_id=task_id, deleted=task is None)


async def _undo(
    caller: tasks_service_pb2_grpc.TaskServiceStub,
    task_id: str,
    undo_token: str,
    sender: WidgetItem | None,
    zone: ZoneInfo,
) -> ActionOutcome:
    """Undo: reverts the change the button's token names, then redraws every row of the card
    the undo touched (a restored task as it is now; one the undo removed struck out) and says
    in the caption that the change was undone. A token the tasks service no longer knows, or
    one already used, expired or overtaken by a later change, changes nothing and says why."""
    try:
        undone = await caller.UndoChange(tasks_pb.UndoChangeRequest(undo_token=undo_token))
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(UNDO_GONE_MESSAGE, reason="UNDO_TOKEN_NOT_FOUND") from None
        if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
            # The tasks service's sentences say why (already undone, expired, changed since).
            info = parse_rpc_error(error)
            raise FailedPrecondition(info.message, reason=info.reason) from None
        raise
    restored = {task.id: task for task in undone.tasks}
    if sender is None:
        return ActionOutcome(item=None, task_id=task_id, deleted=task_id not in restored)
    widget = sender.widget
    on_card = widget_task_ids(widget)
    for shown in on_card:
        if shown in restored:
            widget = replace_task_row(widget, shown, task_row(restored[shown], zone))
        elif shown == task_id:
            widget = replace_task_row(
                widget, shown, deleted_row(shown, row_title(widget, shown) or "Task")
            )
    widget = mark_undone(widget)
    item = sender.model_copy(update={"widget": widget, "copy_text": widget_copy_text(widget)})
    return ActionOutcome(item=item, task_id=task_id, deleted=task_id not in restored)


# ---- Bulk change previews: Confirm / Cancel ----

BULK_GONE_MESSAGE = (
    "At least one of these tasks no longer exists; it may have been deleted. Nothing was "
    "changed: ask for a new preview."
)
NOT_A_PREVIEW_MESSAGE = "That button belongs to a bulk change preview. Nothing was changed."


@dataclass(frozen=True)
class BulkOutcome:
    """What a Confirm / Cancel did: the redrawn card, and which tasks changed or went."""

    item: WidgetItem
    changed_task_ids: list[str] = field(default_factory=list)
    deleted_task_ids: list[str] = field(default_factory=list)


def is_bulk_action(action: Action[str, Any]) -> bool:
    """True for a preview card's Confirm or Cancel."""
    kind: object = action.type
    return isinstance(kind, str) and kind in BULK_ACTIONS


def bulk_change_from_payload(payload: dict[str, Any]) -> BulkChange:
    """The change a stored preview's Confirm button carries (written by `bulk_preview_card`)."""
    due = payload.get("due_time")
    return BulkChange(
        action=str(payload["action"]),
        task_ids=tuple(str(task_id) for task_id in payload["task_ids"]),
        due_time=datetime.fromisoformat(due) if isinstance(due, str) else None,
        add_tags=tuple(payload.get("add_tags") or ()),
        remove_tags=tuple(payload.get("remove_tags") or ()),
    )


def bulk_request_id(sender: WidgetItem) -> str:
    """The batch call's request id: one per preview card, so a second Confirm (another tab,
    a double click racing the first) is answered by the tasks service without a second
    change."""
    return f"chat-bulk-{sender.id}"[:128]


async def run_bulk_action(
    caller: tasks_service_pb2_grpc.TaskServiceStub,
    action: Action[str, Any],
    sender: WidgetItem | None,
    zone: ZoneInfo,
) -> BulkOutcome:
    """Confirm makes exactly the change the stored preview shows, to exactly its tasks (the
    client's payload is not trusted, and tasks added since are not touched); Cancel changes
    nothing. Once a card is settled, either button answers it as it is. A task gone since the
    preview fails the whole change with a friendly NotFound (nothing changed). `caller`: the
    tasks service bound to the caller."""
    if sender is None:
        raise InvalidArgument(
            "A bulk change needs the preview card it was previewed on.",
            field_violations=[FieldViolation("params.item_id", "must be the preview card")],
            reason="INVALID_ACTION_PAYLOAD",
        )
    pending = pending_bulk_change(sender.widget)
    if pending is None:
        if not is_bulk_card(sender.widget):
            raise NotFound(NOT_A_PREVIEW_MESSAGE, reason="TASK_NOT_ON_CARD")
        return BulkOutcome(item=sender)
    if action.type == ACTION_BULK_CANCEL:
        widget = bulk_cancelled_card(sender.widget)
        item = sender.model_copy(update={"widget": widget, "copy_text": widget_copy_text(widget)})
        return BulkOutcome(item=item)
    assert action.type == ACTION_BULK_CONFIRM
    change = bulk_change_from_payload(pending)
    try:
        changed, next_tasks = await _send_bulk(caller, change, bulk_request_id(sender))
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(BULK_GONE_MESSAGE, reason="TASK_NOT_FOUND") from None
        raise
    widget, copy_text = bulk_result_card(change, changed, next_tasks, zone)
    item = sender.model_copy(update={"widget": widget, "copy_text": copy_text})
    if change.action == "delete":
        return BulkOutcome(item=item, deleted_task_ids=list(change.task_ids))
    touched = [task.id for task in changed] + [task.id for task in next_tasks]
    return BulkOutcome(item=item, changed_task_ids=touched)


async def _send_bulk(
    caller: Any, change: BulkChange, request_id: str
) -> tuple[list[tasks_pb.Task], list[tasks_pb.Task]]:
    """The batch RPC of `change`: the tasks it answered, and next occurrences created."""
    ids = list(change.task_ids)
    if change.action == "complete":
        done = await caller.BatchCompleteTasks(
            tasks_pb.BatchCompleteTasksRequest(ids=ids, request_id=request_id)
        )
        return list(done.tasks), list(done.next_tasks)
    if change.action == "delete":
        gone = await caller.BatchDeleteTasks(
            tasks_pb.BatchDeleteTasksRequest(ids=ids, request_id=request_id)
        )
        return list(gone.tasks), []
    request = tasks_pb.BatchUpdateTasksRequest(
        ids=ids,
        add_tags=change.add_tags,
        remove_tags=change.remove_tags,
        request_id=request_id,
    )
    if change.action == "reschedule":
        request.update_mask.paths.append("due_time")
        if change.due_time is not None:
            request.due_time.FromDatetime(change.due_time)
    updated = await caller.BatchUpdateTasks(request)
    return list(updated.tasks), []
