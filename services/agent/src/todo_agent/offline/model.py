"""`OfflineModel`: a deterministic Agents SDK `Model` that needs no network and no API key.

Each call reads the conversation the runner passes in (the same input items an LLM would get),
understands the newest user message with `grammar.parse`, and either returns tool calls, or —
once the tool outputs of this turn are in the input — a reply that summarises them. A title
reference ("the milk one") takes one extra step: list the tasks, match the title, then act.
Urdu messages are first handed off to the Urdu agent through the SDK handoff it is offered.

The clock comes from the agent's instructions ("Current local time: …"), the same line a real
LLM reads, so dates are relative to the user's time zone and tests can fix the clock.
"""

# Urdu text legitimately uses the Arabic full stop and similar characters.
# ruff: noqa: RUF001

from __future__ import annotations

import difflib
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents import Handoff, ModelResponse, ModelSettings, ModelTracing, Tool, Usage
from agents.agent_output import AgentOutputSchemaBase
from agents.items import TResponseInputItem, TResponseOutputItem, TResponseStreamEvent
from agents.models.interface import Model
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from todo_agent.offline import replies
from todo_agent.offline.commands import (
    Act,
    Add,
    Command,
    Greeting,
    Help,
    ListTasks,
    Search,
    TaskRef,
    Unknown,
    Update,
)
from todo_agent.offline.grammar import is_urdu, parse

CLOCK_LINE = re.compile(r"Current local time:\s*(\S+)")
ZONE_LINE = re.compile(r"[Tt]ime zone:\s*([A-Za-z0-9_+\-/]+)")
URDU_AGENT_MARKER = "transfer_to_urdu"
LOOKUP_LIMIT = 100
MATCH_THRESHOLD = 0.74


@dataclass
class _Call:
    call_id: str
    name: str
    arguments: dict[str, Any]
    output: dict[str, Any] | None


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


@dataclass
class _Decision:
    """Either tool calls to make (name, arguments) or a reply to write."""

    calls: list[tuple[str, dict[str, Any]]]
    reply: str | None = None


def _reply(text: str) -> _Decision:
    return _Decision(calls=[], reply=text)


def _score(query: str, title: str) -> float:
    q = re.sub(r"[^\w\s]", " ", query.lower()).split()
    t = re.sub(r"[^\w\s]", " ", title.lower()).split()
    if not q or not t:
        return 0.0
    if " ".join(q) == " ".join(t):
        return 2.0
    if " ".join(q) in " ".join(t):
        return 1.0 + len(" ".join(q)) / max(1, len(" ".join(t))) * 0.5
    total = 0.0
    for word in q:
        total += max(difflib.SequenceMatcher(None, word, other).ratio() for other in t)
    return total / len(q)


class _Planner:
    """Decides the next step for one user message given this turn's tool calls so far."""

    def __init__(
        self,
        command: Command,
        calls: list[_Call],
        history: list[tuple[str, str]],
        now: datetime,
        lang: str,
    ) -> None:
        self.command = command
        self.calls = calls
        self.history = history
        self.now = now
        self.lang = lang

    # -- references ------------------------------------------------------------------------

    def _last_list_ids(self) -> list[str]:
        for role, text in reversed(self.history):
            if role != "assistant":
                continue
            found = replies.TASK_LINE.findall(text)
            if found:
                ordered = sorted((int(n), i) for n, i in found)
                return [task_id for _, task_id in ordered]
        return []

    def _last_mentioned_id(self) -> str | None:
        for role, text in reversed(self.history):
            if role == "assistant":
                ids = replies.ANY_ID.findall(text)
                if ids:
                    return cast(str, ids[-1]) if len(ids) == 1 else cast(str, ids[0])
        return None

    def _resolve_direct(self, ref: TaskRef) -> tuple[str | None, str | None]:
        """(id, None) when the reference resolves without a lookup; (None, reply) when it cannot;
        (None, None) when a title lookup is needed."""
        if ref.kind == "id":
            return ref.value, None
        if ref.kind == "position":
            ids = self._last_list_ids()
            if not ids:
                return None, (
                    'میرے پاس کوئی حالیہ فہرست نہیں۔ پہلے "میرے کام دکھائیں" لکھیں۔'
                    if self.lang == "ur"
                    else 'I don\'t have a recent numbered list to count from. Say "list my tasks" first.'
                )
            index = len(ids) - 1 if ref.position == -1 else ref.position - 1
            if not 0 <= index < len(ids):
                return None, (
                    f"فہرست میں صرف {len(ids)} کام ہیں۔"
                    if self.lang == "ur"
                    else f"The last list only had {len(ids)} task{'s' if len(ids) != 1 else ''}."
                )
            return ids[index], None
        if ref.kind == "last":
            found = self._last_mentioned_id()
            if found is None:
                return None, "I'm not sure which task you mean. Name it, or list your tasks first."
            return found, None
        return None, None

    def _lookup_state(self, action: str) -> str:
        return {"complete": "open", "reopen": "completed"}.get(action, "all")

    def _match_title(
        self, query: str, candidates: list[dict[str, Any]]
    ) -> tuple[str | None, str | None]:
        scored = sorted(
            ((_score(query, c.get("title", "")), i) for i, c in enumerate(candidates)), reverse=True
        )
        good = [(s, i) for s, i in scored if s >= MATCH_THRESHOLD]
        if not good:
            if self.lang == "ur":
                return None, f'مجھے "{query}" سے ملتا جلتا کوئی کام نہیں ملا۔'
            return None, f'I couldn\'t find a task matching "{query}".'
        best = good[0][0]
        tied = [i for s, i in good if best - s < 0.05]
        if len(tied) > 1:
            options = [candidates[i] for i in tied[:10]]
            if self.lang == "ur":
                return None, "کون سا کام؟\n" + replies.numbered(options, self.now, "ur")
            return None, (
                f'More than one task matches "{query}". Which one did you mean?\n'
                + replies.numbered(options, self.now)
            )
        return str(candidates[good[0][1]]["id"]), None

    def _resolve_all(
        self, refs: list[TaskRef], action: str
    ) -> tuple[list[str] | None, _Decision | None]:
        """Ids for all refs, or a decision (a lookup call or a reply) to make first."""
        ids: list[str] = []
        lookup = next((c for c in self.calls if c.name == "list_tasks"), None)
        for ref in refs:
            task_id, problem = self._resolve_direct(ref)
            if problem is not None:
                return None, _reply(problem)
            if task_id is not None:
                ids.append(task_id)
                continue
            if lookup is None:
                return None, _Decision(
                    calls=[
                        ("list_tasks", {"state": self._lookup_state(action), "limit": LOOKUP_LIMIT})
                    ]
                )
            if lookup.output is None or not lookup.output.get("ok"):
                return None, _reply(replies.error_text(lookup.output or {}, self.lang))
            task_id, problem = self._match_title(ref.value, list(lookup.output.get("tasks", [])))
            if problem is not None:
                return None, _reply(problem)
            assert task_id is not None
            ids.append(task_id)
        return ids, None

    # -- decisions -------------------------------------------------------------------------

    def decide(self) -> _Decision:
        command = self.command
        if isinstance(command, Help):
            return _reply(replies.HELP_UR if self.lang == "ur" else replies.HELP_EN)
        if isinstance(command, Greeting):
            if self.lang == "ur":
                return _reply(
                    "خوش آمدید! " + replies.HELP_UR if not command.thanks else "آپ کا شکریہ!"
                )
            if command.thanks:
                return _reply("You're welcome!")
            return _reply(
                'Hi! I can keep your task list. Try "add buy milk tomorrow" or say "help".'
            )
        if isinstance(command, Unknown):
            if command.missing_title:
                return _reply(replies.ADD_NEEDS_TITLE_EN)
            return _reply(replies.UNKNOWN_UR if self.lang == "ur" else replies.UNKNOWN_EN)
        if isinstance(command, Add):
            return self._add(command)
        if isinstance(command, ListTasks):
            return self._list(command)
        if isinstance(command, Search):
            return self._search(command)
        if isinstance(command, Act):
            return self._act(command)
        return self._update(command)

    def _add(self, command: Add) -> _Decision:
        done = [c for c in self.calls if c.name == "add_task"]
        if not done:
            calls: list[tuple[str, dict[str, Any]]] = []
            for task in command.tasks:
                args: dict[str, Any] = {"title": task.title}
                if task.due is not None:
                    args["due"] = task.due.iso()
                if task.priority is not None:
                    args["priority"] = task.priority
                if task.tags:
                    args["tags"] = task.tags
                calls.append(("add_task", args))
            return _Decision(calls=calls)
        added = [
            t for c in done if c.output and c.output.get("ok") for t in c.output.get("tasks", [])
        ]
        failed = [c for c in done if not (c.output and c.output.get("ok"))]
        lines: list[str] = []
        if self.lang == "ur":
            if len(added) == 1:
                lines.append(
                    "کام شامل کر دیا گیا:\n" + replies.task_line(None, added[0], self.now, "ur")
                )
            elif added:
                lines.append(
                    f"{len(added)} کام شامل کر دیے گئے:\n" + replies.numbered(added, self.now, "ur")
                )
        elif len(added) == 1:
            lines.append("Added " + replies.task_line(None, added[0], self.now))
        elif added:
            lines.append(f"Added {len(added)} tasks:\n" + replies.numbered(added, self.now))
        for call in failed:
            title = call.arguments.get("title", "")
            reason = replies.error_text(call.output or {}, self.lang)
            lines.append(
                f'"{title}": {reason}'
                if self.lang == "ur"
                else f'I couldn\'t add "{title}": {reason}'
            )
        return _reply("\n".join(lines))

    def _list(self, command: ListTasks) -> _Decision:
        done = [c for c in self.calls if c.name == "list_tasks"]
        if not done:
            args: dict[str, Any] = {"state": command.state}
            if command.priority:
                args["priority"] = command.priority
            if command.tag:
                args["tag"] = command.tag
            if command.due != "any":
                args["due"] = command.due
            return _Decision(calls=[("list_tasks", args)])
        output = done[0].output or {}
        if not output.get("ok"):
            return _reply(replies.error_text(output, self.lang))
        tasks = list(output.get("tasks", []))
        if self.lang == "ur":
            heading = replies.list_heading_ur(command, len(tasks))
            return _reply(
                heading + ("\n" + replies.numbered(tasks, self.now, "ur") if tasks else "")
            )
        heading = replies.list_heading(command, len(tasks))
        return _reply(heading + ("\n" + replies.numbered(tasks, self.now) if tasks else ""))

    def _search(self, command: Search) -> _Decision:
        done = [c for c in self.calls if c.name == "search_tasks"]
        if not done:
            return _Decision(calls=[("search_tasks", {"query": command.query})])
        output = done[0].output or {}
        if not output.get("ok"):
            return _reply(replies.error_text(output, self.lang))
        tasks = list(output.get("tasks", []))
        if not tasks:
            return _reply(f'No tasks match "{command.query}".')
        count = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
        return _reply(
            f'Found {count} matching "{command.query}":\n' + replies.numbered(tasks, self.now)
        )

    _ACTION_TOOLS = {
        "complete": "complete_task",
        "reopen": "reopen_task",
        "delete": "delete_task",
        "get": "get_task",
    }

    def _act(self, command: Act) -> _Decision:
        tool = self._ACTION_TOOLS[command.action]
        done = [c for c in self.calls if c.name == tool]
        if not done:
            ids, first = self._resolve_all(command.targets, command.action)
            if first is not None:
                return first
            assert ids is not None
            unique = list(dict.fromkeys(ids))
            return _Decision(calls=[(tool, {"task_id": task_id}) for task_id in unique])
        return _reply("\n".join(self._act_summary(command.action, call) for call in done))

    def _act_summary(self, action: str, call: _Call) -> str:
        output = call.output or {}
        if not output.get("ok"):
            return replies.error_text(output, self.lang)
        if action == "delete":
            deleted = output.get("deleted") or [{"title": call.arguments.get("task_id", "")}]
            return f'Deleted "{deleted[0].get("title", "")}".'
        task = (output.get("tasks") or [{}])[0]
        if self.lang == "ur":
            return "کام مکمل ہو گیا:\n" + replies.task_line(None, task, self.now, "ur")
        if action == "complete":
            return "Marked as done: " + replies.task_line(None, task, self.now)
        if action == "reopen":
            return "Reopened: " + replies.task_line(None, task, self.now)
        details = replies.task_line(None, task, self.now)
        if task.get("notes"):
            details += f"\nNotes: {task['notes']}"
        return details

    def _update(self, command: Update) -> _Decision:
        done = [c for c in self.calls if c.name == "update_task"]
        if not done:
            ids, first = self._resolve_all([command.target], "update")
            if first is not None:
                return first
            assert ids
            args: dict[str, Any] = {"task_id": ids[0]}
            if command.title is not None:
                args["title"] = command.title
            if command.due is not None:
                args["due"] = command.due.iso()
            if command.clear_due:
                args["clear_due"] = True
            if command.priority is not None:
                args["priority"] = command.priority
            if command.tags is not None:
                args["tags"] = command.tags
            if command.notes is not None:
                args["notes"] = command.notes
            return _Decision(calls=[("update_task", args)])
        output = done[0].output or {}
        if not output.get("ok"):
            return _reply(replies.error_text(output, self.lang))
        task = (output.get("tasks") or [{}])[0]
        return _reply("Updated " + replies.task_line(None, task, self.now))


class OfflineModel(Model):
    """The deterministic model behind `AGENT_MODEL=offline`."""

    def __init__(self, *, words_per_delta: int = 3) -> None:
        self._words_per_delta = max(1, words_per_delta)

    # -- the Model interface ---------------------------------------------------------------

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        output = self.respond(system_instructions, input, tools, handoffs)
        return ModelResponse(output=output, usage=Usage(requests=1), response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        output = self.respond(system_instructions, input, tools, handoffs)
        for event in self._stream_events(output):
            yield event

    # -- deciding --------------------------------------------------------------------------

    def respond(
        self,
        instructions: str | None,
        input: str | list[TResponseInputItem],
        tools: Sequence[Tool],
        handoffs: Sequence[Handoff],
    ) -> list[TResponseOutputItem]:
        """The output items for one model call: tool calls or one assistant message."""
        items: list[Any] = (
            [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        )
        now = clock_from_instructions(instructions)
        last_user = max(
            (i for i, item in enumerate(items) if _get(item, "role") == "user"), default=-1
        )
        user_text = _text_of(items[last_user]) if last_user >= 0 else ""
        history: list[tuple[str, str]] = []
        for item in items[: max(last_user, 0)]:
            role = _get(item, "role")
            if role in ("user", "assistant"):
                history.append((str(role), _text_of(item)))
        calls, handed_off = self._turn_calls(items[last_user + 1 :])
        call_count = sum(1 for item in items if _get(item, "type") == "function_call")
        urdu = is_urdu(user_text)
        if urdu and not handed_off:
            target = next((h for h in handoffs if URDU_AGENT_MARKER in h.tool_name), None)
            if target is not None:
                return [self._function_call(target.tool_name, {}, call_count + 1)]
        lang = "ur" if urdu else "en"
        decision = _Planner(parse(user_text, now), calls, history, now, lang).decide()
        available = {getattr(tool, "name", "") for tool in tools}
        if decision.calls and all(name in available for name, _ in decision.calls):
            return [
                self._function_call(name, arguments, call_count + index)
                for index, (name, arguments) in enumerate(decision.calls, start=1)
            ]
        if decision.calls:
            decision = _reply("I can't reach the task tools right now.")
        return [self._message(decision.reply or "", call_count)]

    @staticmethod
    def _turn_calls(items: list[Any]) -> tuple[list[_Call], bool]:
        calls: dict[str, _Call] = {}
        handed_off = False
        for item in items:
            kind = _get(item, "type")
            if kind == "function_call":
                name = str(_get(item, "name") or "")
                if name.startswith("transfer_to_"):
                    handed_off = True
                    continue
                try:
                    arguments = json.loads(_get(item, "arguments") or "{}")
                except json.JSONDecodeError:
                    arguments = {}
                call_id = str(_get(item, "call_id"))
                calls[call_id] = _Call(call_id, name, arguments, None)
            elif kind == "function_call_output":
                call = calls.get(str(_get(item, "call_id")))
                if call is None:
                    continue
                raw = _get(item, "output")
                try:
                    parsed = json.loads(raw) if isinstance(raw, str) else None
                except json.JSONDecodeError:
                    parsed = None
                call.output = (
                    parsed if isinstance(parsed, dict) else {"ok": False, "error": "internal"}
                )
        return list(calls.values()), handed_off

    # -- output items and their stream events ----------------------------------------------

    @staticmethod
    def _function_call(
        name: str, arguments: dict[str, Any], number: int
    ) -> ResponseFunctionToolCall:
        call_id = f"call_offline_{number}"
        return ResponseFunctionToolCall(
            id=f"fc_offline_{number}",
            call_id=call_id,
            type="function_call",
            name=name,
            arguments=json.dumps(arguments, ensure_ascii=False, separators=(",", ":")),
            status="completed",
        )

    @staticmethod
    def _message(text: str, number: int) -> ResponseOutputMessage:
        return ResponseOutputMessage(
            id=f"msg_offline_{number}",
            type="message",
            role="assistant",
            status="completed",
            content=[
                ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])
            ],
        )

    def _chunks(self, text: str) -> list[str]:
        words = re.findall(r"\S+\s*|\s+", text)
        step = self._words_per_delta
        return ["".join(words[i : i + step]) for i in range(0, len(words), step)] or [""]

    def _stream_events(self, output: list[TResponseOutputItem]) -> list[TResponseStreamEvent]:
        usage = ResponseUsage(
            input_tokens=0,
            output_tokens=0,
            total_tokens=0,
            input_tokens_details=InputTokensDetails.model_validate(
                {"cached_tokens": 0, "cache_write_tokens": 0}
            ),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        )
        response = Response(
            id="resp_offline",
            created_at=0,
            model="offline",
            object="response",
            output=list(output),
            tool_choice="auto",
            tools=[],
            top_p=None,
            parallel_tool_calls=True,
            status="completed",
            usage=usage,
        )
        events: list[Any] = []
        seq = 0

        def add(event: Any) -> None:
            nonlocal seq
            events.append(event)
            seq += 1

        add(
            ResponseCreatedEvent(
                type="response.created",
                response=response.model_copy(
                    update={"output": [], "status": "in_progress", "usage": None}
                ),
                sequence_number=seq,
            )
        )
        for index, item in enumerate(output):
            if isinstance(item, ResponseFunctionToolCall):
                add(
                    ResponseOutputItemAddedEvent(
                        type="response.output_item.added",
                        item=item.model_copy(update={"arguments": "", "status": "in_progress"}),
                        output_index=index,
                        sequence_number=seq,
                    )
                )
                add(
                    ResponseFunctionCallArgumentsDeltaEvent(
                        type="response.function_call_arguments.delta",
                        item_id=item.id or item.call_id,
                        output_index=index,
                        delta=item.arguments,
                        sequence_number=seq,
                    )
                )
                add(
                    ResponseFunctionCallArgumentsDoneEvent.model_validate(
                        {
                            "type": "response.function_call_arguments.done",
                            "item_id": item.id or item.call_id,
                            "output_index": index,
                            "arguments": item.arguments,
                            "name": item.name,
                            "sequence_number": seq,
                        }
                    )
                )
            elif isinstance(item, ResponseOutputMessage):
                part = item.content[0]
                assert isinstance(part, ResponseOutputText)
                add(
                    ResponseOutputItemAddedEvent(
                        type="response.output_item.added",
                        item=item.model_copy(update={"content": [], "status": "in_progress"}),
                        output_index=index,
                        sequence_number=seq,
                    )
                )
                add(
                    ResponseContentPartAddedEvent(
                        type="response.content_part.added",
                        item_id=item.id,
                        output_index=index,
                        content_index=0,
                        part=part.model_copy(update={"text": ""}),
                        sequence_number=seq,
                    )
                )
                for chunk in self._chunks(part.text):
                    add(
                        ResponseTextDeltaEvent(
                            type="response.output_text.delta",
                            item_id=item.id,
                            output_index=index,
                            content_index=0,
                            delta=chunk,
                            logprobs=[],
                            sequence_number=seq,
                        )
                    )
                add(
                    ResponseTextDoneEvent(
                        type="response.output_text.done",
                        item_id=item.id,
                        output_index=index,
                        content_index=0,
                        text=part.text,
                        logprobs=[],
                        sequence_number=seq,
                    )
                )
                add(
                    ResponseContentPartDoneEvent(
                        type="response.content_part.done",
                        item_id=item.id,
                        output_index=index,
                        content_index=0,
                        part=part,
                        sequence_number=seq,
                    )
                )
            add(
                ResponseOutputItemDoneEvent(
                    type="response.output_item.done",
                    item=item,
                    output_index=index,
                    sequence_number=seq,
                )
            )
        add(
            ResponseCompletedEvent(
                type="response.completed", response=response, sequence_number=seq
            )
        )
        return cast(list[TResponseStreamEvent], events)
