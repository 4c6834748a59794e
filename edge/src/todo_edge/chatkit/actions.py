"""Widget actions: the Complete / Reopen / Delete buttons of task cards.

They call the tasks service directly with the caller's token (no model round trip) and
return the card with that task's row redrawn. The tasks service scopes every call by the
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
from todo_common.errors import FieldViolation, InvalidArgument, NotFound

from todo_edge.chatkit.widgets import (
    ACTION_COMPLETE,
    ACTION_DELETE,
    ACTION_REOPEN,
    TASK_ACTIONS,
    deleted_row,
    replace_task_row,
    row_title,
    task_row,
    widget_copy_text,
    widget_task_ids,
)

MAX_TASK_ID_CHARS = 128

TASK_GONE_MESSAGE = "That task no longer exists; it may have been deleted. Nothing was changed."
NOT_ON_CARD_MESSAGE = "That task is not on this card. Nothing was changed."


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
    here, and a payload must be exactly `{"task_id": …}` as the cards send it (anything
    else, however large, is refused without being echoed back)."""
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
    if (
        not isinstance(payload, dict)
        or set(payload) != {"task_id"}
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
                    "characters",
                )
            ],
            reason="INVALID_ACTION_PAYLOAD",
        )
    return kind, task_id


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
    task: tasks_pb.Task | None
    try:
        if kind == ACTION_DELETE:
            await caller.DeleteTask(tasks_pb.DeleteTaskRequest(id=task_id))
            task = None
        elif kind == ACTION_COMPLETE:
            task = (await caller.CompleteTask(tasks_pb.CompleteTaskRequest(id=task_id))).task
        else:
            assert kind == ACTION_REOPEN
            task = (await caller.ReopenTask(tasks_pb.ReopenTaskRequest(id=task_id))).task
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise NotFound(TASK_GONE_MESSAGE, reason="TASK_NOT_FOUND") from None
        raise
    if sender is None:
        return ActionOutcome(item=None, task_id=task_id, deleted=task is None)
    if task is None:
        row = deleted_row(task_id, row_title(sender.widget, task_id) or "Task")
    else:
        row = task_row(task, zone)
    widget = replace_task_row(sender.widget, task_id, row)
    item = sender.model_copy(update={"widget": widget, "copy_text": widget_copy_text(widget)})
    return ActionOutcome(item=item, task_id=task_id, deleted=task is None)
