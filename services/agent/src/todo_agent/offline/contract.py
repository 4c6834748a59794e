"""The tool contract of the offline model: every tool and argument name it calls, in one place.

The planner writes calls only with these names, so a tool renamed at merge time is one edit
here. Some tools are built in parallel with the offline model (undo, bulk previews, reminders):
the model calls them only when the agent offers them (`Offered`), and until then answers
honestly that it cannot do that yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

ADD_TASK = "add_task"
LIST_TASKS = "list_tasks"
GET_TASK = "get_task"
UPDATE_TASK = "update_task"
COMPLETE_TASK = "complete_task"
REOPEN_TASK = "reopen_task"
DELETE_TASK = "delete_task"
# Reverts the caller's last change; arguments `{}`.
UNDO_LAST_CHANGE = "undo_last_change"
# Previews a change to every task a filter chooses (the user confirms on a card); arguments
# `action`, `state`, `priority`, `tag`, `due` (a `list_tasks` window name), `query`, `new_due`
# (an `add_task` due string), `add_tags`, `remove_tags`, with nulls left out.
PREVIEW_BULK_CHANGE = "preview_bulk_change"

# `add_task` / `update_task` arguments that not every tasks service has had.
RECURRENCE = "recurrence"
STOP_REPEATING = "stop_repeating"
# How long before the due time to remind, as an ISO 8601 duration ("PT30M", "PT1H", "P1D").
REMIND_BEFORE = "remind_before"

BulkAction = Literal["complete", "delete", "reschedule", "tag"]


@dataclass(frozen=True)
class Offered:
    """The tools this run offers the model, each with the argument names its schema takes."""

    tools: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_tools(cls, tools: Iterable[Any]) -> Offered:
        """Reads SDK tools: a `FunctionTool`'s arguments are its JSON schema's properties."""
        found: dict[str, frozenset[str]] = {}
        for tool in tools:
            name = getattr(tool, "name", "")
            schema = getattr(tool, "params_json_schema", None) or {}
            properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
            found[str(name)] = frozenset(properties)
        return cls(found)

    def has(self, tool: str) -> bool:
        """True when the run offers `tool`."""
        return tool in self.tools

    def accepts(self, tool: str, argument: str) -> bool:
        """True when the run offers `tool` and its schema takes `argument`."""
        return argument in self.tools.get(tool, frozenset())


def iso_duration(minutes: int) -> str:
    """A reminder lead time as ISO 8601: 30 → "PT30M", 60 → "PT1H", 1440 → "P1D", 90 → "PT1H30M"."""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    if hours or mins:
        text += "T" + (f"{hours}H" if hours else "") + (f"{mins}M" if mins else "")
    return text if text != "P" else "PT0M"
