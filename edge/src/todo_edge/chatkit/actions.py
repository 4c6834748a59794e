"""Widget actions: the Complete / Reopen / Delete / Undo buttons of task cards.

They call the tasks service directly with the caller's token (no model round trip) and
return the card with that task's row redrawn; a row redrawn after a change carries an Undo
button with that change's token, and Undo (`UndoChange`) redraws the card's rows it restored. The tasks service scopes every call by the
token's user, so another user's task id is NOT_FOUND exactly like a missing one: the user gets
a friendly message and nothing changes. Bad payloads (unknown action, missing or odd task id)
are INVALID_ARGUMENT.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    ACTION_COMPLETE,
    ACTION_DELETE,
    ACTION_REOPEN,
    ACTION_UNDO,
    TASK_ACTIONS,
    deleted_row,
    mark_undone,
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
        shown = f" `{kind[:64]}`" if isinstance(kind, str) and kind else ""
        raise InvalidArgument(
            f"Unknown action{shown}.",
            field_violations=[
                FieldViolation(
                    "params.action.type", f"must be one of {', '.join(sorted(TASK_ACTIONS))}"
                )
            ],
            reason="UNKNOWN_ACTION",
        )
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


async def run_task_action(
    tasks: tasks_service_pb2_grpc.TaskServiceStub,
    action: Action[str, Any],
    sender: WidgetItem | None,
    *,
    token: str,
    deadline_seconds: float,
    zone: ZoneInfo,
) -> ActionOutcome:
    """Performs a task action and redraws the sender's row. Raises InvalidArgument for a bad
    action, NotFound (friendly text) for a missing or foreign task, and lets other gRPC
    errors through (the caller maps them)."""
    kind, task_id = parse_task_action(action)
    if sender is not None and task_id not in widget_task_ids(sender.widget):
        # A crafted request naming some other task through this card.
        raise NotFound(NOT_ON_CARD_MESSAGE, reason="TASK_NOT_ON_CARD")
    caller = bind_caller(tasks, token=token, timeout=deadline_seconds)
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
