"""The conversation as the offline model reads it from one call's input items.

The runner passes what an LLM would get: the instructions and the input items (history, the
newest user message, then this turn's tool calls and their outputs). `read_turn` turns those
into plain data: the newest user text, the earlier messages, this turn's calls so far, and the
user's clock (from the "Current local time: …" line of the instructions, the same line a real
LLM reads, so dates are relative to the user's time zone and tests can fix the clock), and the
composer tool the user picked, if any (the instructions' intent line).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents.items import TResponseInputItem

from todo_agent.intents import INTENT_NAMES, INTENT_PREFIX

CLOCK_LINE = re.compile(r"Current local time:\s*(\S+)")
ZONE_LINE = re.compile(r"[Tt]ime zone:\s*([A-Za-z0-9_+\-/]+)")
INTENT_LINE = re.compile(re.escape(INTENT_PREFIX) + r"\s*(\w+)")
# Handoff tools are named `transfer_to_<agent>` by the SDK.
HANDOFF_PREFIX = "transfer_to_"


@dataclass
class ToolCall:
    """One tool call of this turn, with its output once the runner has added it."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    output: dict[str, Any] | None


@dataclass
class Turn:
    """What one model call knows: the message to answer and what happened so far."""

    user_text: str
    # Earlier (role, text) messages, oldest first: lists shown and tasks named live there.
    history: list[tuple[str, str]]
    # This turn's tool calls so far (handoffs excluded).
    calls: list[ToolCall]
    # True once this turn was handed off to another agent.
    handed_off: bool
    # Function calls in the whole input, so new call ids never repeat one.
    call_count: int
    # The user's local time.
    now: datetime
    # The composer tool the user picked (`todo_agent.intents` names), "" for none.
    intent: str = ""


def _get(item: Any, key: str) -> Any:
    if isinstance(item, dict):
        return item.get(key)
    return getattr(item, key, None)


def _text_of(item: Any) -> str:
    content = _get(item, "content")
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content or []:
        text = _get(part, "text")
        if isinstance(text, str):
            parts.append(text)
    return "".join(parts)


def clock_from_instructions(instructions: str | None) -> datetime:
    """The user's local time as written in the instructions, else the current UTC time."""
    zone: Any = UTC
    if instructions:
        zone_match = ZONE_LINE.search(instructions)
        if zone_match:
            try:
                zone = ZoneInfo(zone_match.group(1))
            except (ZoneInfoNotFoundError, ValueError):
                zone = UTC
        clock_match = CLOCK_LINE.search(instructions)
        if clock_match:
            try:
                moment = datetime.fromisoformat(clock_match.group(1))
            except ValueError:
                moment = None
            if moment is not None:
                return (
                    moment.replace(tzinfo=zone)
                    if moment.tzinfo is None
                    else moment.astimezone(zone)
                )
    return datetime.now(zone)


def intent_from_instructions(instructions: str | None) -> str:
    """The intent the instructions name (`todo_agent.intents.instruction_line`), or ""."""
    found = INTENT_LINE.search(instructions or "")
    name = found.group(1) if found else ""
    return name if name in INTENT_NAMES else ""


def _turn_calls(items: list[Any]) -> tuple[list[ToolCall], bool]:
    calls: dict[str, ToolCall] = {}
    handed_off = False
    for item in items:
        kind = _get(item, "type")
        if kind == "function_call":
            name = str(_get(item, "name") or "")
            if name.startswith(HANDOFF_PREFIX):
                handed_off = True
                continue
            try:
                arguments = json.loads(_get(item, "arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {}
            call_id = str(_get(item, "call_id"))
            calls[call_id] = ToolCall(call_id, name, arguments, None)
        elif kind == "function_call_output":
            call = calls.get(str(_get(item, "call_id")))
            if call is None:
                continue
            raw = _get(item, "output")
            try:
                parsed = json.loads(raw) if isinstance(raw, str) else None
            except json.JSONDecodeError:
                parsed = None
            # An output that is not our tools' JSON object counts as a failed call.
            call.output = parsed if isinstance(parsed, dict) else {"ok": False, "error": "internal"}
    return list(calls.values()), handed_off


def read_turn(instructions: str | None, input: str | list[TResponseInputItem]) -> Turn:
    """Reads one model call's instructions and input items."""
    items: list[Any] = (
        [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
    )
    last_user = max((i for i, item in enumerate(items) if _get(item, "role") == "user"), default=-1)
    user_text = _text_of(items[last_user]) if last_user >= 0 else ""
    history: list[tuple[str, str]] = []
    for item in items[: max(last_user, 0)]:
        role = _get(item, "role")
        if role in ("user", "assistant"):
            history.append((str(role), _text_of(item)))
    calls, handed_off = _turn_calls(items[last_user + 1 :])
    call_count = sum(1 for item in items if _get(item, "type") == "function_call")
    return Turn(
        user_text=user_text,
        history=history,
        calls=calls,
        handed_off=handed_off,
        call_count=call_count,
        now=clock_from_instructions(instructions),
        intent=intent_from_instructions(instructions),
    )
