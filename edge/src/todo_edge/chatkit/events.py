"""`todo.agent.v1.RespondEvent`s → ChatKit thread stream events, for one run.

- message started / text delta / message done → an assistant message item (`thread.item.added`,
  content part added, text deltas, part done, `thread.item.done`). Item ids come from the
  store, so they are unique whatever ids the model produced.
- run started on the offline model → an info notice, once per thread; the model out of
  reach → a warning notice before the error (`notices.py`).
- tool call started → a `progress_update` ("Adding task…"), and a step of the turn's
  workflow item (`workflow.py`: one per turn, tool calls and handoffs as its tasks, stored
  when the run ends).
- tool call finished → a widget item: a list card for reads, a compact card for a created or
  changed task, a small card for deletions, a Confirm / Cancel card for a bulk change preview
  (`bulk_preview_item`). Failed calls show no card (the assistant says why).
- after the run, if any tool changed tasks → a `client_effect` `tasks.changed` so a host page
  can refresh its own task list.
- run failed, or the call itself failed → an `error` event with user-safe text and whether
  retrying may help. A message still streaming is finished first, so its text is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import grpc
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ClientEffectEvent,
    ErrorEvent,
    ProgressUpdateEvent,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    WidgetItem,
)
from chatkit.widgets import DynamicWidgetRoot
from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo_common.errors import parse_rpc_error

from todo_edge.chatkit.notices import (
    is_unreachable_call,
    is_unreachable_failure,
    offline_notice,
    unreachable_notice,
)
from todo_edge.chatkit.task_refs import ref_annotations
from todo_edge.chatkit.widgets import (
    BulkChange,
    bulk_preview_card,
    deleted_card,
    task_card,
    task_list_card,
)
from todo_edge.chatkit.workflow import TurnWorkflow
from todo_edge.problems import problem_from_rpc

# The client effect a host page listens for to refresh its task list.
TASKS_CHANGED_EFFECT = "tasks.changed"

_PROGRESS: dict[str, tuple[str, str]] = {
    "add_task": ("Adding task…", "plus"),
    "list_tasks": ("Looking up your tasks…", "search"),
    "search_tasks": ("Searching your tasks…", "search"),
    "get_task": ("Looking up the task…", "search"),
    "update_task": ("Updating task…", "write"),
    "complete_task": ("Completing task…", "check-circle"),
    "reopen_task": ("Reopening task…", "reload"),
    "delete_task": ("Deleting task…", "write"),
    "undo_last_change": ("Undoing…", "reload"),
    "preview_bulk_change": ("Finding the tasks to change…", "search"),
}
_CARD_HEADING = {
    "add_task": "Task added",
    "update_task": "Task updated",
    "complete_task": "Task completed",
    "reopen_task": "Task reopened",
    "get_task": "Task",
    "undo_last_change": "Change undone",
}
_LIST_HEADING = {"list_tasks": "Your tasks", "search_tasks": "Matching tasks"}
_MUTATING_TOOLS = frozenset(
    {"add_task", "update_task", "complete_task", "reopen_task", "delete_task", "undo_last_change"}
)

# gRPC failures of the agent call where trying again may help.
_RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)

# Said when the agent's stream ended without saying how the run ended.
INCOMPLETE_REPLY = "The assistant stopped before finishing its reply. Try again."


def rpc_error_event(error: grpc.aio.AioRpcError) -> ErrorEvent:
    """The error event for a failed agent call: the HTTP mapping's user-safe text."""
    info = parse_rpc_error(error)
    problem = problem_from_rpc(info)
    return ErrorEvent(
        code="custom", message=problem.detail, allow_retry=info.code in _RETRYABLE_CODES
    )


class RunTranslator:
    """Maps the events of one Respond call to ChatKit events for `thread_id`."""

    def __init__(
        self,
        thread_id: str,
        new_message_id: Callable[[], str],
        zone: ZoneInfo,
        now: Callable[[], datetime] = datetime.now,
        *,
        new_workflow_id: Callable[[], str] | None = None,
        offline_notice_shown: bool = False,
    ) -> None:
        self._thread_id = thread_id
        self._new_message_id = new_message_id
        self._zone = zone
        # Naive local time, the SDK's own convention for item timestamps (the edge runs in UTC).
        self._now = now
        # Agent message id → the open assistant item.
        self._open: dict[str, AssistantMessageItem] = {}
        self.changed_task_ids: list[str] = []
        self.deleted_task_ids: list[str] = []
        self.mutated = False
        self.ended = False
        # The turn's tool calls and handoffs as one workflow item (`workflow.py`).
        self.workflow = TurnWorkflow(thread_id, new_workflow_id or new_message_id, now)
        # True once the thread has shown (or this run sent) the offline-model notice.
        self.offline_notice_shown = offline_notice_shown
        self.sent_offline_notice = False

    def translate(self, event: agent_pb.RespondEvent) -> Iterator[ThreadStreamEvent]:
        """The ChatKit events one agent event produces."""
        kind = event.WhichOneof("event")
        if kind == "message_started":
            yield from self._message_started(event.message_started.message_id)
        elif kind == "text_delta":
            delta = event.text_delta
            if delta.message_id not in self._open:
                yield from self._message_started(delta.message_id)
            item = self._open[delta.message_id]
            item.content[0].text += delta.delta
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartTextDelta(content_index=0, delta=delta.delta),
            )
        elif kind == "message_done":
            done = event.message_done
            if done.message_id not in self._open:
                yield from self._message_started(done.message_id)
            yield from self._message_done(done.message_id, done.text, done.tasks)
        elif kind == "tool_call_started":
            name = event.tool_call_started.name
            text, icon = _PROGRESS.get(name, ("Working…", "sparkle"))
            yield ProgressUpdateEvent(text=text, icon=icon)
            yield from self.workflow.tool_started(event.tool_call_started)
        elif kind == "tool_call_finished":
            yield from self.workflow.tool_finished(event.tool_call_finished)
            yield from self._tool_finished(event.tool_call_finished)
        elif kind == "agent_handed_off":
            yield from self.workflow.handed_off(event.agent_handed_off)
        elif kind == "run_started":
            if event.run_started.offline and not self.offline_notice_shown:
                self.offline_notice_shown = self.sent_offline_notice = True
                yield offline_notice()
        elif kind == "run_finished":
            yield from self._finish_turn()
        elif kind == "run_failed":
            failed = event.run_failed
            yield from self._finish_turn()
            if is_unreachable_failure(failed):
                yield unreachable_notice()
            yield ErrorEvent(
                code="custom",
                message=failed.message or INCOMPLETE_REPLY,
                allow_retry=failed.retryable,
            )

    def call_failed(self, error: grpc.aio.AioRpcError) -> Iterator[ThreadStreamEvent]:
        """Events for an agent call that failed (agent down, deadline, bad token)."""
        yield from self._finish_turn()
        if is_unreachable_call(error):
            yield unreachable_notice()
        yield rpc_error_event(error)

    def stream_ended(self) -> Iterator[ThreadStreamEvent]:
        """Events for the end of the agent's stream (an error if the run did not say how
        it ended)."""
        if self.ended:
            return
        yield from self._finish_turn()
        yield ErrorEvent(code="custom", message=INCOMPLETE_REPLY, allow_retry=True)

    def _finish_turn(self) -> Iterator[ThreadStreamEvent]:
        """The end of the run: open messages finished, the workflow done, the effects."""
        self.ended = True
        yield from self._close_open_messages()
        yield from self.workflow.end()
        yield from self._effects()

    def _message_started(self, message_id: str) -> Iterator[ThreadStreamEvent]:
        item = AssistantMessageItem(
            id=self._new_message_id(),
            thread_id=self._thread_id,
            created_at=self._now(),
            content=[AssistantMessageContent(text="")],
        )
        self._open[message_id] = item
        yield ThreadItemAddedEvent(item=item.model_copy(deep=True))
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartAdded(
                content_index=0, content=AssistantMessageContent(text="")
            ),
        )

    def _message_done(
        self, message_id: str, text: str, refs: Iterable[agent_pb.TaskRef] = ()
    ) -> Iterator[ThreadStreamEvent]:
        item = self._open.pop(message_id)
        # The tasks the message named ride on it as entity annotations (`task_refs`).
        item.content = [AssistantMessageContent(text=text, annotations=ref_annotations(refs))]
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartDone(
                content_index=0, content=AssistantMessageContent(text=text)
            ),
        )
        yield ThreadItemDoneEvent(item=item)

    def _close_open_messages(self) -> Iterator[ThreadStreamEvent]:
        for message_id, item in list(self._open.items()):
            text = item.content[0].text
            if text.strip():
                yield from self._message_done(message_id, text)
            else:
                del self._open[message_id]

    def _tool_finished(self, finished: agent_pb.ToolCallFinished) -> Iterator[ThreadStreamEvent]:
        if not finished.ok:
            return
        name = finished.name
        if name in _MUTATING_TOOLS:
            self.mutated = True
            self.changed_task_ids.extend(task.id for task in finished.tasks)
            self.deleted_task_ids.extend(finished.deleted_task_ids)
        card: tuple[DynamicWidgetRoot, str] | None = None
        if finished.HasField("bulk_change_preview"):
            card = bulk_preview_item(finished, self._zone)
        elif name in _LIST_HEADING:
            card = task_list_card(list(finished.tasks), _LIST_HEADING[name], self._zone)
        elif finished.deleted_task_ids:
            card = deleted_card(
                len(finished.deleted_task_ids), finished.deleted_tasks, finished.undo_token
            )
        elif len(finished.tasks) == 1:
            heading = _CARD_HEADING.get(name, "Task")
            card = task_card(finished.tasks[0], heading, self._zone, finished.undo_token)
        elif finished.tasks:
            card = task_list_card(list(finished.tasks), "Tasks", self._zone)
        if card is None:
            return
        widget, copy_text = card
        yield ThreadItemDoneEvent(
            item=WidgetItem(
                id=self._new_message_id(),
                thread_id=self._thread_id,
                created_at=self._now(),
                widget=widget,
                copy_text=copy_text,
            )
        )

    def _effects(self) -> Iterator[ThreadStreamEvent]:
        if self.mutated:
            self.mutated = False
            yield tasks_changed_effect(self.changed_task_ids, self.deleted_task_ids)


def tasks_changed_effect(changed: list[str], deleted: list[str]) -> ClientEffectEvent:
    """The `tasks.changed` client effect."""
    return ClientEffectEvent(
        name=TASKS_CHANGED_EFFECT,
        data={"task_ids": list(dict.fromkeys(changed)), "deleted_task_ids": list(deleted)},
    )


_BULK_ACTION_NAMES = {
    agent_pb.BULK_ACTION_COMPLETE: "complete",
    agent_pb.BULK_ACTION_DELETE: "delete",
    agent_pb.BULK_ACTION_RESCHEDULE: "reschedule",
    agent_pb.BULK_ACTION_TAG: "tag",
}


def bulk_preview_item(
    finished: agent_pb.ToolCallFinished, zone: ZoneInfo
) -> tuple[DynamicWidgetRoot, str] | None:
    """The Confirm / Cancel card of a `preview_bulk_change` result: exactly the tasks it
    listed (None for a preview of an unknown action, which cannot be confirmed)."""
    preview = finished.bulk_change_preview
    action = _BULK_ACTION_NAMES.get(preview.action)
    if action is None:
        return None
    change = BulkChange(
        action=action,
        task_ids=tuple(task.id for task in finished.tasks),
        due_time=preview.due_time.ToDatetime(tzinfo=UTC) if preview.HasField("due_time") else None,
        add_tags=tuple(preview.add_tags),
        remove_tags=tuple(preview.remove_tags),
    )
    return bulk_preview_card(change, list(finished.tasks), zone, truncated=preview.truncated)
