"""The chat's start-screen prompts and composer tools, in one place: the page's ChatKit
options are built from them (`client_options`, inlined in the page's configuration), and a
message's `inference_options.tool_choice` is checked against them and becomes the agent's
`Intent` (`composer_intent`), which steers the real model (`tool_choice`) and the offline
model (the matching command) alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatkit.types import InferenceOptions
from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo_common.errors import FieldViolation, InvalidArgument

UNKNOWN_TOOL_REASON = "UNKNOWN_COMPOSER_TOOL"
TOOL_CHOICE_FIELD = "params.input.inference_options.tool_choice.id"


@dataclass(frozen=True)
class ComposerTool:
    """A tool the person can pick in the composer before they write."""

    id: str
    label: str
    short_label: str
    icon: str
    placeholder: str
    intent: agent_pb.Intent.ValueType


@dataclass(frozen=True)
class StartPrompt:
    """A suggestion on a new thread's start screen; choosing it sends `prompt`."""

    label: str
    prompt: str
    icon: str


COMPOSER_TOOLS: tuple[ComposerTool, ...] = (
    ComposerTool(
        "brain_dump",
        "Brain dump",
        "Brain dump",
        "notebook-pencil",
        "Everything on your mind, one per line — each becomes a task",
        agent_pb.INTENT_ADD_MANY,
    ),
    ComposerTool(
        "plan_day",
        "Plan my day",
        "Plan",
        "calendar",
        "Anything to fit in today?",
        agent_pb.INTENT_PLAN_DAY,
    ),
    ComposerTool(
        "find_tasks",
        "Find tasks",
        "Find",
        "search",
        "Words to look for",
        agent_pb.INTENT_SEARCH,
    ),
)
START_PROMPTS: tuple[StartPrompt, ...] = (
    StartPrompt("Plan my day", "Plan my day", "calendar"),
    StartPrompt("What's overdue?", "What's overdue?", "clock"),
    StartPrompt("Brain dump", "Brain dump", "notebook-pencil"),
)
_BY_ID = {tool.id: tool for tool in COMPOSER_TOOLS}


def check_tool_choice(options: InferenceOptions | None) -> None:
    """InvalidArgument (→ 400, nothing stored or run) for a tool id the composer does not
    offer."""
    choice = options.tool_choice if options is not None else None
    if choice is not None and choice.id not in _BY_ID:
        known = ", ".join(_BY_ID)
        raise InvalidArgument(
            f"Unknown composer tool. Known tools: {known}.",
            field_violations=[FieldViolation(TOOL_CHOICE_FIELD, f"must be one of: {known}")],
            reason=UNKNOWN_TOOL_REASON,
        )


def composer_intent(options: InferenceOptions | None) -> agent_pb.Intent.ValueType:
    """The agent's intent for a message's inference options (unspecified without a tool)."""
    choice = options.tool_choice if options is not None else None
    tool = _BY_ID.get(choice.id) if choice is not None else None
    return tool.intent if tool is not None else agent_pb.INTENT_UNSPECIFIED


def client_options() -> dict[str, object]:
    """The ChatKit client's `startScreen.prompts` and `composer.tools`."""
    return {
        "startPrompts": [
            {"label": p.label, "prompt": p.prompt, "icon": p.icon} for p in START_PROMPTS
        ],
        "composerTools": [
            {
                "id": t.id,
                "label": t.label,
                "shortLabel": t.short_label,
                "icon": t.icon,
                "placeholderOverride": t.placeholder,
            }
            for t in COMPOSER_TOOLS
        ],
    }
