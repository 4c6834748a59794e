"""The run context: what the tools know about the caller and the run, never from the model.

One `AgentContext` per Respond call. The tools read the caller's token (to forward to the tasks
service), the user's clock and the run's deadline from here; the model's tool arguments never
carry identity. Tools also record what they touched here, keyed by tool call id, so the event
stream can report the typed tasks without parsing tool output text.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from todo.agent.v1 import agent_service_pb2
from todo.tasks.v1 import tasks_service_pb2

if TYPE_CHECKING:
    from todo.tasks.v1.tasks_service_pb2_grpc import TaskServiceAsyncStub


@dataclass
class ToolOutcome:
    """What one tool call did: success, a user-safe error, tasks touched, ids deleted, a bulk
    change previewed."""

    ok: bool
    error_message: str = ""
    tasks: list[tasks_service_pb2.Task] = field(default_factory=list)
    deleted_task_ids: list[str] = field(default_factory=list)
    # The deleted tasks as they were, so the reply (and the chat's card) can name them.
    deleted: list[tasks_service_pb2.Task] = field(default_factory=list)
    # The token that undoes what the call changed ("" when it changed nothing).
    undo_token: str = ""
    # A bulk change previewed (nothing changed yet) on `tasks` (`preview_bulk_change`).
    preview: agent_service_pb2.BulkChangePreview | None = None


@dataclass
class AgentContext:
    """Per-run state shared with the tools through `RunContextWrapper.context`."""

    user_id: str
    # The caller's access token, forwarded verbatim to the tasks service.
    token: str = field(repr=False)
    # The tasks service, on the channel whose interceptor sends the caller's token; the tools
    # bind it to the caller and their deadline (`todo_common.channels.bind_caller`).
    tasks: TaskServiceAsyncStub = field(repr=False)
    time_zone: ZoneInfo
    # The user's local time when the run started; relative dates are resolved against it.
    now: datetime
    # Event-loop time by which the run must end (the tighter of the caller's deadline and the
    # service's wall-clock cap).
    deadline: float
    tool_timeout_seconds: float
    # The user's preferred language (BCP 47), when the caller sent one.
    locale: str = ""
    # The caller's thread and the id of the user message this run answers; with both, the
    # tools' creations are idempotent across runs of the same message (todo_agent.tools).
    thread_id: str = ""
    input_item_id: str = ""
    # The composer tool the user picked (`todo.agent.v1.Intent`; `todo_agent.intents`).
    intent: int = 0
    # Tasks the run has asked to create so far: a creation's position in the run.
    creations: int = 0
    outcomes: dict[str, ToolOutcome] = field(default_factory=dict)
    # Every task id this run knows (the request's refs, what the tools returned) → its title:
    # the only ids a reply's refs may name (`todo_agent.task_refs`).
    task_titles: dict[str, str] = field(default_factory=dict, repr=False)
    # Set when the caller cancelled or the run hit its deadline: tools refuse to start.
    cancelled: bool = False
    # Every task a tool ran in, so the service can wait for them after a cancellation.
    tool_tasks: set[asyncio.Task[object]] = field(default_factory=set, repr=False)

    def remaining_seconds(self) -> float:
        """Seconds until the run's deadline."""
        return self.deadline - asyncio.get_running_loop().time()

    def tool_timeout(self) -> float:
        """The deadline for one tasks-service call: min(remaining run time, per-call cap)."""
        return max(0.0, min(self.remaining_seconds(), self.tool_timeout_seconds))
