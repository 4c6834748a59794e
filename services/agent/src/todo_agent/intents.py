"""What a composer tool the user picked (`RespondRequest.intent`) asks of the model.

One mechanism for every model: the intent becomes a line of the agents' instructions
(`instruction_line`, read by an LLM as an instruction and by the offline model as the command
to carry out, `offline.intents`), and for a model that honours it, the tool it must call first
(`model_settings`: `tool_choice`, parallel calls for "add many"). The SDK resets `tool_choice`
after the first tool call (`Agent.reset_tool_choice`), so the model still writes its reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents import ModelSettings
from todo.agent.v1 import agent_service_pb2 as pb

# How the instructions announce the intent; the offline model reads the name after it.
INTENT_PREFIX = "Composer tool chosen by the user:"


@dataclass(frozen=True)
class Steer:
    """How one intent steers the model: its name, the tool to call first, the instruction."""

    name: str
    tool: str
    instruction: str
    parallel: bool = False


STEERS: dict[int, Steer] = {
    pb.INTENT_ADD_MANY: Steer(
        "add_many",
        "add_task",
        "add every item of the message as its own task, one add_task call per item (lines, "
        "commas and bullets separate items), then confirm what you added in one short list.",
        parallel=True,
    ),
    pb.INTENT_PLAN_DAY: Steer(
        "plan_day",
        "list_tasks",
        "help the user plan today: list what is due today and what is overdue (list_tasks), "
        "then suggest an order to do them in, most urgent first.",
    ),
    pb.INTENT_SEARCH: Steer(
        "search",
        "search_tasks",
        "find the user's tasks matching the words of the message with search_tasks.",
    ),
}
INTENT_NAMES: frozenset[str] = frozenset(steer.name for steer in STEERS.values())


def is_known(intent: int) -> bool:
    """True for INTENT_UNSPECIFIED and every intent this service can carry out."""
    return intent == pb.INTENT_UNSPECIFIED or intent in STEERS


def instruction_line(intent: int) -> str:
    """The instructions' line for the intent ("" for none)."""
    steer = STEERS.get(intent)
    if steer is None:
        return ""
    return f"\n{INTENT_PREFIX} {steer.name} — {steer.instruction}"


def model_settings(intent: int, base: ModelSettings | None) -> ModelSettings | None:
    """The run's model settings for the intent: `base` with the tool to call first, or `base`
    unchanged when there is no intent."""
    steer = STEERS.get(intent)
    if steer is None:
        return base
    forced = ModelSettings(tool_choice=steer.tool, parallel_tool_calls=steer.parallel or None)
    return (base or ModelSettings()).resolve(forced)
