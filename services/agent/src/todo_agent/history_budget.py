"""How much conversation history a turn may send: a size budget for the configured model.

A model whose context cannot hold the request fails in unhelpful ways (llama.cpp's server
answers 200 with an empty stream, others a 400), and since the caller sends the same history
with every later message, each of them failed the same way. So the history is cut to what fits
the model's context (`AGENT_MODEL_CONTEXT_TOKENS`) beside the instructions, the tool schemas,
the new message and room for the reply: oldest messages first, never the new message, and the
model is told that earlier turns were left out (a note at the start of the oldest message kept,
not a message of its own: some servers' chat templates refuse a second system message or two
user messages in a row).

Sizes are counted in characters, at `BUDGET_CHARS_PER_TOKEN`, below the usual 4 characters a
token: a budget that is too small costs old context, one that is too large costs the turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agents import Agent

from todo_agent.settings import AgentSettings

BUDGET_CHARS_PER_TOKEN = 3.0
# What the instructions take (they are built per run; today about 1,300 characters), with room
# for the clock and the locale line.
INSTRUCTIONS_RESERVE_CHARS = 2500
# The role markers and separators a chat template adds around each message.
MESSAGE_OVERHEAD_CHARS = 16
CUT_NOTE = (
    "(Earlier messages of this conversation were left out to fit the model's context. If the "
    "user refers to something you cannot see here, ask them.)"
)


def _tool_schema_chars(agent: Agent[Any]) -> int:
    """Characters the tool definitions take in one request: those of `agent` or of an agent it
    hands off to, whichever has more (a request carries the tools of the agent answering)."""
    largest = 0
    seen: set[int] = set()
    pending: list[Agent[Any]] = [agent]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        size = 0
        for tool in current.tools:
            schema = getattr(tool, "params_json_schema", {})
            size += len(tool.name) + len(getattr(tool, "description", "")) + len(json.dumps(schema))
        for handoff in current.handoffs:
            if isinstance(handoff, Agent):
                pending.append(handoff)
            else:
                size += len(handoff.tool_name) + len(handoff.tool_description)
                size += len(json.dumps(handoff.input_json_schema))
        largest = max(largest, size)
    return largest


@dataclass(frozen=True)
class HistoryBudget:
    """The characters of history one turn may send; `None` sends it uncut."""

    chars: int | None

    @classmethod
    def for_model(cls, settings: AgentSettings, agent: Agent[Any]) -> HistoryBudget:
        """The budget of the configured model for `agent` (offline: no budget)."""
        if settings.is_offline or settings.model_context_tokens <= 0:
            return cls(None)
        room = (
            settings.model_context_tokens - settings.model_reply_tokens
        ) * BUDGET_CHARS_PER_TOKEN
        room -= INSTRUCTIONS_RESERVE_CHARS + _tool_schema_chars(agent)
        return cls(max(0, int(room)))

    def fit(self, items: list[Any]) -> list[Any]:
        """`items` (history oldest first, then the new message) cut to the budget."""
        if self.chars is None or len(items) <= 1:
            return items
        *history, newest = items
        left = self.chars - _size(newest)
        kept: list[Any] = []
        for message in reversed(history):
            left -= _size(message)
            if left < 0:
                break
            kept.append(message)
        kept.reverse()
        if len(kept) == len(history):
            return items
        # Start at a user message, as strict chat templates require after the system prompt.
        while kept and kept[0].get("role") != "user":
            kept.pop(0)
        first = kept[0] if kept else newest
        noted = {**first, "content": f"{CUT_NOTE}\n\n{first['content']}"}
        if kept:
            return [noted, *kept[1:], newest]
        return [noted]


def _size(message: dict[str, Any]) -> int:
    return len(str(message.get("content", ""))) + MESSAGE_OVERHEAD_CHARS
