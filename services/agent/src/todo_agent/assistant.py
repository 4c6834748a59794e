"""The two agents: the main task assistant and the Urdu-speaking specialist it hands off to.

Instructions are built per run from the run context, so every model (offline or an LLM) sees
the user's local time and time zone and resolves "tomorrow" the same way.
"""

from __future__ import annotations

from typing import Any

from agents import Agent, RunContextWrapper, handoff

from todo_agent.context import AgentContext
from todo_agent.intents import instruction_line
from todo_agent.tools import TASK_TOOLS

MAIN_AGENT_NAME = "Todo Assistant"
URDU_AGENT_NAME = "Urdu Assistant"

_COMMON = """\
You manage the user's personal task list with the tools you have. Rules:
- Use the tools for every change and every question about tasks; never invent tasks or ids.
- To act on a task the user names by title, call list_tasks or search_tasks first and use the
  id it returns. If several tasks match, ask which one, showing a short numbered list.
- The user's identity is known to the tools; never ask for it and never pass user ids.
- Dates: pass "YYYY-MM-DD" (or "YYYY-MM-DDTHH:MM" with a time) in the user's time zone.
- If a tool answers {"ok": false, ...}, explain the problem plainly and do not retry blindly.
- When the user says "undo", "undo that" or "put it back" about a change, call
  undo_last_change.
- To change several tasks at once (complete, delete, reschedule, re-tag), call
  preview_bulk_change: it changes nothing, and the user confirms on the card it shows.
- Task ids appear in the conversation as marks: [id <id>] after a title the user
  @-mentioned (act on that id; do not look the task up again), and [id: <id>] in notes under
  earlier replies, numbered as that reply listed them ("the second one" is number 2 there).
- When you name or list tasks, number lists and end each task's line with [id: <id>]. The
  marks are taken out before the user reads the reply, so never talk about ids.
- Keep replies short.
"""


def _clock(context: AgentContext) -> str:
    now = context.now
    clock = (
        f"Current local time: {now.isoformat(timespec='minutes')} ({now.strftime('%A')}); "
        f"time zone: {context.time_zone.key}."
    )
    if context.locale:
        clock += f"\nThe user's preferred language (BCP 47): {context.locale}."
    return clock + instruction_line(context.intent)


def main_instructions(wrapper: RunContextWrapper[AgentContext], _agent: Agent[Any]) -> str:
    """Instructions of the main assistant."""
    return (
        "You are Todo Assistant, a helpful assistant for a to-do list app.\n"
        + _COMMON
        + "- If the user writes in Urdu, hand off to the Urdu Assistant.\n"
        + _clock(wrapper.context)
    )


def urdu_instructions(wrapper: RunContextWrapper[AgentContext], _agent: Agent[Any]) -> str:
    """Instructions of the Urdu specialist."""
    return (
        "You are Urdu Assistant. Always answer in Urdu (Arabic script), whatever tools return.\n"
        + _COMMON
        + _clock(wrapper.context)
    )


def build_agents() -> Agent[AgentContext]:
    """The main agent (the run starts there), with a handoff to the Urdu specialist."""
    urdu = Agent[AgentContext](
        name=URDU_AGENT_NAME,
        handoff_description="Speaks Urdu: handles users who write in Urdu.",
        instructions=urdu_instructions,
        tools=list(TASK_TOOLS),
    )
    return Agent[AgentContext](
        name=MAIN_AGENT_NAME,
        instructions=main_instructions,
        tools=list(TASK_TOOLS),
        handoffs=[handoff(urdu)],
    )
