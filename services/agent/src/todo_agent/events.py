"""Agents SDK stream events → `todo.agent.v1.RespondEvent`s (run failures: `todo_agent.failures`).

Text deltas are coalesced: the first delta of a message goes out at once (time to first
text), later ones are buffered until ~30 ms have passed (the service flushes on a timer, see
`flush_due_in`) or ~64 characters are waiting, and the buffer is always flushed before any
other event. Each gRPC message costs tens of microseconds
in Python, so per-token messages would dominate the service's own cost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from agents import (
    AgentUpdatedStreamEvent,
    HandoffOutputItem,
    RawResponsesStreamEvent,
    RunItemStreamEvent,
    StreamEvent,
    ToolCallItem,
    ToolCallOutputItem,
)
from todo.agent.v1 import agent_service_pb2 as pb

from todo_agent.context import AgentContext

log = logging.getLogger(__name__)


def _event(**kwargs: Any) -> pb.RespondEvent:
    return pb.RespondEvent(**kwargs)


class EventMapper:
    """Turns one run's SDK events into RespondEvents. Message ids are local to the run."""

    def __init__(
        self,
        context: AgentContext,
        agent_name: str,
        *,
        flush_interval_seconds: float = 0.03,
        flush_chars: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._context = context
        self.agent_name = agent_name
        self._interval = flush_interval_seconds
        self._flush_chars = flush_chars
        self._clock = clock
        self._messages = 0
        self._message_id: str | None = None
        self._text: list[str] = []
        self._buffer: list[str] = []
        self._buffered = 0
        self._last_flush = float("-inf")
        self._tool_names: dict[str, str] = {}

    def map(self, event: StreamEvent) -> Iterator[pb.RespondEvent]:
        """The RespondEvents one SDK event produces (often none)."""
        if isinstance(event, RawResponsesStreamEvent):
            yield from self._raw(event.data)
            return
        yield from self.flush()
        if isinstance(event, AgentUpdatedStreamEvent):
            self.agent_name = event.new_agent.name
            return
        if not isinstance(event, RunItemStreamEvent):
            return
        item = event.item
        if event.name == "tool_called" and isinstance(item, ToolCallItem):
            raw = item.raw_item
            call_id = str(item.call_id or "")
            self._tool_names[call_id] = str(item.tool_name or "")
            yield _event(
                tool_call_started=pb.ToolCallStarted(
                    call_id=call_id,
                    name=self._tool_names[call_id],
                    arguments_json=str(
                        getattr(raw, "arguments", None) or _get(raw, "arguments") or "{}"
                    ),
                )
            )
        elif event.name == "tool_output" and isinstance(item, ToolCallOutputItem):
            call_id = str(item.call_id or "")
            outcome = self._context.outcomes.get(call_id)
            name = self._tool_names.get(call_id, "")
            if outcome is None:
                finished = pb.ToolCallFinished(
                    call_id=call_id,
                    name=name,
                    ok=False,
                    error_message="The tool failed unexpectedly.",
                )
            else:
                finished = pb.ToolCallFinished(
                    call_id=call_id,
                    name=name,
                    ok=outcome.ok,
                    error_message=outcome.error_message,
                    tasks=outcome.tasks,
                    deleted_task_ids=outcome.deleted_task_ids,
                    undo_token=outcome.undo_token,
                    deleted_tasks=outcome.deleted,
                )
            yield _event(tool_call_finished=finished)
        elif event.name == "handoff_occured" and isinstance(item, HandoffOutputItem):
            yield _event(
                agent_handed_off=pb.AgentHandedOff(
                    from_agent=item.source_agent.name, to_agent=item.target_agent.name
                )
            )
            self.agent_name = item.target_agent.name

    def _raw(self, data: Any) -> Iterator[pb.RespondEvent]:
        kind = getattr(data, "type", "")
        if kind == "response.output_text.delta":
            delta = str(getattr(data, "delta", "") or "")
            if not delta:
                return
            if self._message_id is None:
                yield from self._start()
            self._text.append(delta)
            self._buffer.append(delta)
            self._buffered += len(delta)
            now = self._clock()
            if self._buffered >= self._flush_chars or now - self._last_flush >= self._interval:
                yield from self.flush()
        elif kind == "response.output_item.done":
            item = getattr(data, "item", None)
            if getattr(item, "type", None) == "message" and self._message_id is not None:
                yield from self._finish()

    def _start(self) -> Iterator[pb.RespondEvent]:
        self._messages += 1
        self._message_id = f"msg_{self._messages}"
        self._text = []
        self._last_flush = float("-inf")
        yield _event(
            message_started=pb.MessageStarted(
                message_id=self._message_id, agent_name=self.agent_name
            )
        )

    def flush_due_in(self) -> float | None:
        """Seconds until buffered text must be flushed, or None when nothing is buffered."""
        if not self._buffer:
            return None
        return max(0.0, self._last_flush + self._interval - self._clock())

    def flush(self) -> Iterator[pb.RespondEvent]:
        """Sends any buffered text now."""
        if self._buffer and self._message_id is not None:
            text = "".join(self._buffer)
            self._buffer = []
            self._buffered = 0
            self._last_flush = self._clock()
            yield _event(text_delta=pb.TextDelta(message_id=self._message_id, delta=text))

    def _finish(self) -> Iterator[pb.RespondEvent]:
        yield from self.flush()
        assert self._message_id is not None
        yield _event(
            message_done=pb.MessageDone(message_id=self._message_id, text="".join(self._text))
        )
        self._message_id = None
        self._text = []

    def close(self) -> Iterator[pb.RespondEvent]:
        """Ends a message left open (a model that never sent its item-done event)."""
        if self._message_id is not None:
            yield from self._finish()


def _get(raw: Any, key: str) -> Any:
    if isinstance(raw, dict):
        return raw.get(key)
    return getattr(raw, key, None)
