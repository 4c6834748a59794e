"""The visible agent activity of one assistant turn: one ChatKit `WorkflowItem` whose custom
tasks are the turn's tool calls and handoffs.

The first tool call (or handoff) of a run adds the item (`thread.item.added`); each later one
adds a task (`workflow.task.added`), and a call that ends updates its task
(`workflow.task.updated`: "Adding 'Buy milk'…" → "Added 'Buy milk'", or marked failed with
the tool's user-safe reason). When the run ends the item gets its summary ("Added 3 tasks")
and is done (`thread.item.done`), which is when the SDK stores it: one store write per turn,
none per event. It keeps the place it was created at on reload, because the store orders
items by creation time, so the task cards written during the turn stay below it. A stream
cut off by the client (Stop, a reload) stores the workflow as it was, with the unfinished
steps marked stopped (`stopped_workflow`, called from the server's cancel handler).

The SDK's own `stream_agent_response` ends a workflow as soon as any other item appears; this
one stays open for the whole turn, so a turn has one workflow even when the model talks
between tool calls, and the task cards appear as each call ends, as they did before.

ChatKit tasks have no "failed" state: a failed step is `status_indicator="none"` with
`FAILED_ICON`, a "Couldn't …" title and the reason as its content; clients (our fallback
included) recognise it by the icon.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit.icons import IconName
from chatkit.types import (
    CustomSummary,
    CustomTask,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)
from todo.agent.v1 import agent_service_pb2 as agent_pb

# The icon of a failed step (see the module docstring).
FAILED_ICON: IconName = "lucide:circle-x"
# What a step that never finished says.
STOPPED_REASON = "Stopped before it finished."
# Task titles are cut to this many characters in step titles.
MAX_TITLE_CHARS = 60


@dataclass(frozen=True)
class _Verbs:
    """How the steps of one tool read: while running, done (with what), failed, and the
    past-tense verb of the summary."""

    running: str
    done: str
    failed: str
    icon: IconName
    summary: str = ""


# {title} is the task's title (from the arguments while running, from the result once done);
# {count}/{tasks} the number of tasks a read returned; {query} a search's words.
_TOOLS: dict[str, _Verbs] = {
    "add_task": _Verbs(
        "Adding {title}…", "Added {title}", "Couldn't add {title}", "plus", summary="Added"
    ),
    "list_tasks": _Verbs(
        "Listing your tasks…", "Listed {tasks}", "Couldn't list your tasks", "search"
    ),
    "search_tasks": _Verbs(
        "Searching for {query}…",
        "Found {tasks} matching {query}",
        "Couldn't search your tasks",
        "search",
    ),
    "get_task": _Verbs(
        "Looking up a task…", "Looked up {title}", "Couldn't look up the task", "search"
    ),
    "update_task": _Verbs(
        "Updating a task…",
        "Updated {title}",
        "Couldn't update the task",
        "write",
        summary="Updated",
    ),
    "complete_task": _Verbs(
        "Completing a task…",
        "Completed {title}",
        "Couldn't complete the task",
        "check-circle",
        summary="Completed",
    ),
    "reopen_task": _Verbs(
        "Reopening a task…",
        "Reopened {title}",
        "Couldn't reopen the task",
        "reload",
        summary="Reopened",
    ),
    "delete_task": _Verbs(
        "Deleting a task…",
        "Deleted {deleted}",
        "Couldn't delete the task",
        "write",
        summary="Deleted",
    ),
    "undo_last_change": _Verbs(
        "Undoing the last change…",
        "Undid the last change",
        "Couldn't undo the last change",
        "reload",
        summary="Changed",
    ),
}
_OTHER_TOOL = _Verbs("Working…", "Done", "A step failed", "sparkle")


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_TITLE_CHARS:
        text = text[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return f"'{text}'"


def _count(count: int, noun: str = "task") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _arguments(arguments_json: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments_json or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass
class _Step:
    """One tool call of the turn: where its task is and what it was asked."""

    index: int
    name: str
    arguments: dict[str, Any]
    finished: bool = False


@dataclass
class _Tally:
    """What the turn's finished calls did, for the summary."""

    changed: dict[str, str]  # task id → the tool that last changed it (or "delete_task")
    reads: list[str]  # the done titles of successful reads
    failures: list[str]  # the titles of failed steps
    handoffs: list[str]  # the done titles of handoffs


class TurnWorkflow:
    """The workflow item of one run, fed the run's tool and handoff events."""

    def __init__(
        self,
        thread_id: str,
        new_item_id: Callable[[], str],
        now: Callable[[], datetime],
    ) -> None:
        self._thread_id = thread_id
        self._new_item_id = new_item_id
        self._now = now
        self.item: WorkflowItem | None = None
        self._steps: dict[str, _Step] = {}
        self._tally = _Tally(changed={}, reads=[], failures=[], handoffs=[])

    # ---- events of the run ----

    def tool_started(self, started: agent_pb.ToolCallStarted) -> Iterator[ThreadStreamEvent]:
        """A step for the call, running."""
        arguments = _arguments(started.arguments_json)
        verbs = _TOOLS.get(started.name, _OTHER_TOOL)
        title = verbs.running.format(
            title=_quoted(_text(arguments.get("title")))
            if _text(arguments.get("title"))
            else "a task",
            query=_quoted(_text(arguments.get("query"))),
        )
        task = CustomTask(title=title, icon=verbs.icon, status_indicator="loading")
        index = yield from self._add(task)
        self._steps[started.call_id] = _Step(index, started.name, arguments)

    def tool_finished(self, finished: agent_pb.ToolCallFinished) -> Iterator[ThreadStreamEvent]:
        """The call's step, done or failed."""
        step = self._steps.get(finished.call_id)
        if step is None or step.finished:
            # A call whose start was not seen: its step appears already finished.
            step = _Step(-1, finished.name, {})
        task = self._finished_task(step, finished)
        if step.index < 0:
            step.index = yield from self._add(task)
            self._steps.setdefault(finished.call_id, step)
        else:
            yield from self._update(step.index, task)
        step.finished = True

    def handed_off(self, handoff: agent_pb.AgentHandedOff) -> Iterator[ThreadStreamEvent]:
        """A step saying who took over."""
        title = f"Handed over to the {handoff.to_agent}" if handoff.to_agent else "Handed over"
        self._tally.handoffs.append(title)
        yield from self._add(CustomTask(title=title, icon="agent", status_indicator="complete"))

    def end(self) -> Iterator[ThreadStreamEvent]:
        """The finished item with its summary (nothing when the turn had no steps)."""
        item = self.item
        if item is None:
            return
        self.item = None
        for call_id, step in self._steps.items():
            if not step.finished:
                failed = agent_pb.ToolCallFinished(
                    call_id=call_id, name=step.name, ok=False, error_message=STOPPED_REASON
                )
                item.workflow.tasks[step.index] = self._finished_task(step, failed)
                step.finished = True
        item.workflow.summary = self._summary()
        item.workflow.expanded = False
        yield ThreadItemDoneEvent(item=item)

    # ---- steps ----

    def _add(self, task: CustomTask) -> Generator[ThreadStreamEvent, None, int]:
        """Adds the task (creating the item with the first one); returns its index."""
        if self.item is None:
            self.item = WorkflowItem(
                id=self._new_item_id(),
                thread_id=self._thread_id,
                created_at=self._now(),
                workflow=Workflow(type="custom", tasks=[task], expanded=True),
            )
            # The event's own item and task list (shallow: tasks are replaced, never changed
            # in place), so a later step cannot alter what the event says before it is sent.
            workflow = self.item.workflow.model_copy(update={"tasks": [task]})
            yield ThreadItemAddedEvent(item=self.item.model_copy(update={"workflow": workflow}))
            return 0
        tasks = self.item.workflow.tasks
        tasks.append(task)
        yield ThreadItemUpdatedEvent(
            item_id=self.item.id,
            update=WorkflowTaskAdded(task_index=len(tasks) - 1, task=task),
        )
        return len(tasks) - 1

    def _update(self, index: int, task: CustomTask) -> Iterator[ThreadStreamEvent]:
        assert self.item is not None
        self.item.workflow.tasks[index] = task
        yield ThreadItemUpdatedEvent(
            item_id=self.item.id,
            update=WorkflowTaskUpdated(task_index=index, task=task),
        )

    def _finished_task(self, step: _Step, finished: agent_pb.ToolCallFinished) -> CustomTask:
        verbs = _TOOLS.get(step.name or finished.name, _OTHER_TOOL)
        asked = _text(step.arguments.get("title"))
        query = _quoted(_text(step.arguments.get("query")))
        if not finished.ok:
            title = verbs.failed.format(title=_quoted(asked) if asked else "the task", query=query)
            self._tally.failures.append(title)
            return CustomTask(
                title=title,
                icon=FAILED_ICON,
                content=finished.error_message or "Something went wrong.",
                status_indicator="none",
            )
        tasks = list(finished.tasks)
        named = tasks[0].title if len(tasks) == 1 else asked
        title = verbs.done.format(
            title=_quoted(named) if named else _count(len(tasks)),
            tasks=_count(len(tasks)),
            query=query,
            deleted=_quoted(finished.deleted_tasks[0].title)
            if len(finished.deleted_tasks) == 1
            else _count(len(finished.deleted_task_ids)),
        )
        if verbs.summary:
            for task in tasks:
                self._tally.changed[task.id] = step.name
            for task_id in finished.deleted_task_ids:
                self._tally.changed[task_id] = "delete_task"
        else:
            self._tally.reads.append(title)
        return CustomTask(title=title, icon=verbs.icon, status_indicator="complete")

    def _summary(self) -> CustomSummary:
        """ "Added 3 tasks", "Updated 2 tasks" (several kinds of change), the one read's
        title, or what failed."""
        tally = self._tally
        failed = len(tally.failures)
        if tally.changed:
            kinds = set(tally.changed.values())
            verb = _TOOLS[kinds.pop()].summary if len(kinds) == 1 else "Updated"
            title = f"{verb} {_count(len(tally.changed))}"
        elif len(tally.reads) == 1:
            title = tally.reads[0]
        elif tally.reads:
            title = "Looked through your tasks"
        elif failed == 1:
            return CustomSummary(title=tally.failures[0], icon=FAILED_ICON)
        elif failed:
            return CustomSummary(title=f"{_count(failed, 'step')} failed", icon=FAILED_ICON)
        else:
            title = tally.handoffs[0] if tally.handoffs else "Done"
        if failed:
            title += f" · {_count(failed, 'step')} failed"
        return CustomSummary(title=title, icon="check-circle")


def stopped_workflow(item: WorkflowItem) -> WorkflowItem:
    """A workflow the client stopped, as it is stored: its running steps marked stopped."""
    for index, task in enumerate(item.workflow.tasks):
        if isinstance(task, CustomTask) and task.status_indicator == "loading":
            item.workflow.tasks[index] = CustomTask(
                title=task.title,
                icon=FAILED_ICON,
                content=STOPPED_REASON,
                status_indicator="none",
            )
    if item.workflow.summary is None:
        item.workflow.summary = CustomSummary(title="Stopped", icon=FAILED_ICON)
    item.workflow.expanded = False
    return item
