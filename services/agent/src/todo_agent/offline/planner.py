"""The offline model's planner: a `Command` and this turn's tool calls so far → the next step.

A step is either tool calls to make or the reply that ends the turn. The planner runs once per
model call: first it asks for the tool calls a command needs; when their outputs are in, it
summarises them. A title reference ("the milk one") takes one extra step: list the tasks, match
the title (fuzzily, so "mlik" finds "Buy milk"), then act. Positions ("the second one") and "it"
are read back from the task lines of earlier replies in the history.
"""

# Urdu text legitimately uses the Arabic full stop and similar characters.
# ruff: noqa: RUF001

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from todo_agent.offline import contract, replies
from todo_agent.offline.commands import (
    Act,
    Add,
    Bulk,
    Chat,
    Command,
    Confirm,
    Decline,
    Greeting,
    Help,
    ListTasks,
    Search,
    TaskRef,
    Undo,
    Unknown,
    Update,
)
from todo_agent.offline.contract import Offered
from todo_agent.offline.conversation import ToolCall, Turn
from todo_agent.offline.grammar import parse
from todo_agent.offline.phrases import DATE_LEFT_IN_TITLE
from todo_agent.offline.recurrence import RRULE_DAYS

# The id a client writes after an @-mentioned title in a user message ("[id t1]").
_MENTION = re.compile(r"\s*\[id:?\s*[^\]\s]+\s*\]")
# A title reference is matched against this many of the user's tasks.
LOOKUP_LIMIT = 100
# How close (see `title_score`) a task's title must be to what the user said to count as a match.
MATCH_THRESHOLD = 0.74
# How like some word of the title every meaningful word the user said must be (typos pass).
WORD_FLOOR = 0.5


@dataclass
class Decision:
    """Either tool calls to make (name, arguments) or a reply to write."""

    calls: list[tuple[str, dict[str, Any]]]
    reply: str | None = None

    @classmethod
    def say(cls, text: str) -> Decision:
        """A decision to answer with `text` and call no tool."""
        return cls(calls=[], reply=text)


def title_score(query: str, title: str) -> float:
    """How well a task title matches what the user called it: 2 for the same words, above 1
    when the words appear in the title, else the mean best similarity of each word (so typos
    still match)."""
    q = re.sub(r"[^\w\s]", " ", query.lower()).split()
    t = re.sub(r"[^\w\s]", " ", title.lower()).split()
    # "hair cut" is "Haircut", "drycleaning" is "dry cleaning": one word written as two.
    q, t = _joined_as(q, t), _joined_as(t, q)
    if not q or not t:
        return 0.0
    if " ".join(q) == " ".join(t):
        return 2.0
    if f" {' '.join(q)} " in f" {' '.join(t)} ":
        # Whole words only: "car" is part of "Car service", not of "Birthday card".
        return 1.0 + len(" ".join(q)) / max(1, len(" ".join(t))) * 0.5
    # Each meaningful word must look like a word of the title: "call the plumber" is no match
    # for "Call the electrician", however well "call the" matches.
    words = [w for w in q if w not in _STOPWORDS] or q
    best = [max(difflib.SequenceMatcher(None, w, other).ratio() for other in t) for w in words]
    if min(best) < WORD_FLOOR:
        return 0.0
    return sum(best) / len(best)


def _joined_as(words: list[str], other: list[str]) -> list[str]:
    """`words`, with two neighbours written together where `other` writes them as one word."""
    joined: list[str] = []
    index = 0
    while index < len(words):
        pair = "".join(words[index : index + 2])
        if index + 1 < len(words) and pair in other:
            joined.append(pair)
            index += 2
        else:
            joined.append(words[index])
            index += 1
    return joined


_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "any",
        "anything",
        "something",
        "about",
        "with",
        "for",
        "of",
        "to",
        "on",
        "in",
        "and",
        "or",
        "tasks",
        "task",
        "stuff",
        "things",
        "thing",
    ]
)


def word_stem(word: str) -> str:
    """One form for the forms of a word a search should treat as the same: "taxes" → "tax",
    "dentists" → "dentist", "birthdays" → "birthday" (whole words only, so "taxi" stays)."""
    word = word.casefold()
    if len(word) > 6 and word.endswith("ing"):
        return word[:-3]
    for suffix in ("ies", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            if suffix == "ies":
                return word[: -len(suffix)] + "y"
            if (suffix == "es" and word[-3] in "sxz") or word.endswith(("ches", "shes")):
                return word[:-2]
            if suffix == "s" and not word.endswith("ss"):
                return word[:-1]
    return word


def words_match(query: str, text: str) -> bool:
    """True when every meaningful word of `query` is a word of `text`, in any form."""
    wanted = [word_stem(w) for w in re.findall(r"\w+", query) if w.casefold() not in _STOPWORDS]
    have = {word_stem(w) for w in re.findall(r"\w+", text)}
    return bool(wanted) and all(w in have for w in wanted)


def window_days(command: ListTasks, today: date) -> tuple[date, date] | None:
    """The local due days a list asks for, both ends included (None: any day)."""
    if command.days is not None:
        return command.days
    monday = today - timedelta(days=today.weekday())
    return {
        "today": (today, today),
        "tomorrow": (today + timedelta(days=1), today + timedelta(days=1)),
        "this_week": (today, monday + timedelta(days=6)),
        "next_week": (monday + timedelta(days=7), monday + timedelta(days=13)),
    }.get(command.due)


def in_window(task: dict[str, Any], command: ListTasks, now: datetime) -> bool:
    """Whether a listed task belongs to the list's window, on the run's clock (the tasks
    service's "overdue" uses its own wall clock, which a fixed-clock run must not)."""
    due_text = task.get("due")
    if command.due == "undated":
        return not due_text
    if command.due == "any" and command.days is None:
        return True
    if not due_text:
        return False
    due = datetime.fromisoformat(due_text)
    late = task.get("state") != "completed" and due.replace(tzinfo=None) < now.replace(tzinfo=None)
    if command.due == "overdue":
        return late
    days = window_days(command, now.date())
    inside = days is not None and days[0] <= due.date() <= days[1]
    return inside or (command.overdue_too and late)


class Planner:
    """Decides the next step for one user message given this turn's tool calls so far."""

    def __init__(
        self, command: Command, turn: Turn, lang: str, offered: Offered | None = None
    ) -> None:
        self.command = command
        self.calls = turn.calls
        self.history = turn.history
        self.now = turn.now
        self.lang = lang
        # None: every tool of the contract, with every argument (what the grammar means).
        self.offered = offered
        self._prefer_open = isinstance(command, Update)

    def _has(self, tool: str) -> bool:
        return self.offered is None or self.offered.has(tool)

    def _accepts(self, tool: str, argument: str) -> bool:
        return self.offered is None or self.offered.accepts(tool, argument)

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

    def _last_mentioned(self) -> tuple[list[str], str]:
        """The ids the newest assistant message with ids named, and that message."""
        for role, text in reversed(self.history):
            if role == "assistant":
                ids = replies.ANY_ID.findall(text)
                if ids:
                    return [cast(str, i) for i in dict.fromkeys(ids)], text
        return [], ""

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
            if ref.value == "both" and len(ids) != 2:
                return None, (
                    f"The last list had {len(ids)} tasks, so I'm not sure which two you mean. "
                    "Which ones?"
                )
            index = len(ids) - 1 if ref.position == -1 else ref.position - 1
            if not 0 <= index < len(ids):
                return None, (
                    f"فہرست میں صرف {len(ids)} کام ہیں۔"
                    if self.lang == "ur"
                    else f"The last list only had {len(ids)} task{'s' if len(ids) != 1 else ''}. Which one did you mean?"
                )
            return ids[index], None
        if ref.kind == "last":
            found, text = self._last_mentioned()
            if not found:
                return None, "Which task do you mean? Name it, or list your tasks first."
            if len(found) > 1:
                # "delete that one" after a list of several: ask, naming them.
                lines = [line for line in text.splitlines() if replies.ANY_ID.search(line)]
                return None, "Which one do you mean?\n" + "\n".join(lines)
            return found[0], None
        return None, None

    def _lookup_state(self, action: str) -> str:
        return {"complete": "open", "reopen": "completed"}.get(action, "all")

    def _match_title(
        self, query: str, candidates: list[dict[str, Any]]
    ) -> tuple[str | None, str | None]:
        scored = sorted(
            ((title_score(query, c.get("title", "")), i) for i, c in enumerate(candidates)),
            reverse=True,
        )
        good = [(s, i) for s, i in scored if s >= MATCH_THRESHOLD]
        if not good:
            if self.lang == "ur":
                return None, f'مجھے "{query}" سے ملتا جلتا کوئی کام نہیں ملا۔'
            return None, f'I couldn\'t find a task matching "{query}".'
        best = good[0][0]
        tied = [i for s, i in good if best - s < 0.05]
        if best < 2.0:
            # What the user said is part of several titles ("the call task" with "Call mum" and
            # "Call the plumber"): a shorter title is no better answer, so ask.
            tied = [i for s, i in good if s > 1.0] if best > 1.0 else tied
        if len(tied) > 1 and self._prefer_open:
            # Rescheduling or renaming means an open task: a finished one with the same words
            # is no second candidate.
            open_ones = [i for i in tied if candidates[i].get("state") != "completed"]
            tied = open_ones if len(open_ones) == 1 else tied
        if len(tied) > 1:
            options = [candidates[i] for i in tied[:10]]
            if self.lang == "ur":
                return None, "کون سا کام؟\n" + replies.numbered(options, self.now, "ur")
            return None, (
                f'More than one task matches "{query}". Which one did you mean?\n'
                + replies.numbered(options, self.now)
            )
        return str(candidates[good[0][1]]["id"]), None

    def _match_each(self, query: str, candidates: list[dict[str, Any]]) -> list[str] | None:
        """ "milk and bins", "buy milk and call mum": several tasks, when each part names
        exactly one task by its words (None when any part does not)."""
        parts = [p for p in re.split(r"\s*(?:,|\band\b|&)\s*", query, flags=re.I) if p.strip()]
        if len(parts) < 2:
            return None
        ids: list[str] = []
        for part in parts:
            part = re.sub(r"^(?:the|my|a)\s+", "", part.strip(), flags=re.I)
            scored = [(title_score(part, c.get("title", "")), c) for c in candidates]
            hits = [c for s, c in scored if s > 1.0]
            if len(hits) != 1 or str(hits[0]["id"]) in ids:
                return None
            ids.append(str(hits[0]["id"]))
        return ids

    def _resolve_all(
        self, refs: list[TaskRef], action: str
    ) -> tuple[list[str] | None, Decision | None]:
        """Ids for all refs, or a decision (a lookup call or a reply) to make first."""
        ids: list[str] = []
        lookup = next((c for c in self.calls if c.name == "list_tasks"), None)
        for ref in refs:
            task_id, problem = self._resolve_direct(ref)
            if problem is not None:
                return None, Decision.say(problem)
            if task_id is not None:
                ids.append(task_id)
                continue
            if lookup is None:
                return None, Decision(
                    calls=[
                        ("list_tasks", {"state": self._lookup_state(action), "limit": LOOKUP_LIMIT})
                    ]
                )
            if lookup.output is None or not lookup.output.get("ok"):
                return None, Decision.say(replies.error_text(lookup.output or {}, self.lang))
            tasks = list(lookup.output.get("tasks", []))
            several = self._match_each(ref.value, tasks)
            if several is not None:
                ids.extend(several)
                continue
            task_id, problem = self._match_title(ref.value, tasks)
            if problem is not None:
                return None, Decision.say(problem)
            assert task_id is not None
            ids.append(task_id)
        return ids, None

    # -- decisions -------------------------------------------------------------------------

    def decide(self) -> Decision:
        """The next step: the tool calls still needed, or the reply once their outputs are in."""
        command = self.command
        if isinstance(command, Decline):
            if command.with_bulk and self._has(contract.PREVIEW_BULK_CHANGE):
                return Decision.say(command.with_bulk)
            return Decision.say(command.reason)
        if isinstance(command, Chat):
            return Decision.say(command.reply)
        if isinstance(command, Help):
            return Decision.say(replies.HELP_UR if self.lang == "ur" else replies.HELP_EN)
        if isinstance(command, Greeting):
            if self.lang == "ur":
                return Decision.say(
                    "خوش آمدید! " + replies.HELP_UR if not command.thanks else "آپ کا شکریہ!"
                )
            if command.thanks:
                return Decision.say("You're welcome!")
            return Decision.say(
                'Hi! I can keep your task list. Try "add buy milk tomorrow" or say "help".'
            )
        if isinstance(command, Unknown):
            if command.missing_title:
                return Decision.say(replies.ADD_NEEDS_TITLE_EN)
            return Decision.say(replies.UNKNOWN_UR if self.lang == "ur" else replies.UNKNOWN_EN)
        if isinstance(command, Undo):
            return self._undo()
        if isinstance(command, Bulk):
            return self._bulk(command)
        if isinstance(command, Confirm):
            return self._confirm()
        if isinstance(command, Add):
            return self._add(command)
        if isinstance(command, ListTasks):
            return self._list(command)
        if isinstance(command, Search):
            return self._search(command)
        if isinstance(command, Act):
            return self._act(command)
        return self._update(command)

    def _undo(self) -> Decision:
        if not self._has(contract.UNDO_LAST_CHANGE):
            return Decision.say(
                replies.CANNOT_UNDO_UR if self.lang == "ur" else replies.CANNOT_UNDO
            )
        done = [c for c in self.calls if c.name == contract.UNDO_LAST_CHANGE]
        if not done and not any(role == "assistant" for role, _ in self.history):
            # "Undo" reverts the user's latest change from anywhere; at the start of a
            # conversation nothing the user can see says what that is, so none is undone.
            return Decision.say(
                replies.NOTHING_TO_UNDO_HERE_UR
                if self.lang == "ur"
                else replies.NOTHING_TO_UNDO_HERE
            )
        if not done:
            return Decision(calls=[(contract.UNDO_LAST_CHANGE, {})])
        return Decision.say(replies.undo_summary(done[0].output or {}, self.now, self.lang))

    def _confirm(self) -> Decision:
        """A typed yes. When the newest assistant message put a change to many tasks to the
        user in words and asked ("That would move 3 tasks to Thu 16 Jan: A, B and C. Shall I
        go ahead?"), it is carried out on exactly the tasks that message named, one call per
        task. A preview card waits for its own Confirm button instead."""
        asked = self._asked_bulk()
        if asked is not None:
            return self._carry_out(*asked)
        if self._has(contract.PREVIEW_BULK_CHANGE):
            return Decision.say(
                replies.CONFIRM_ON_CARD_UR if self.lang == "ur" else replies.CONFIRM_ON_CARD
            )
        return Decision.say(
            replies.ONE_AT_A_TIME_UR if self.lang == "ur" else replies.ONE_AT_A_TIME
        )

    def _asked_bulk(self) -> tuple[Bulk, list[str]] | None:
        """The bulk change the newest assistant message asked about, and the ids of the tasks
        it named: None unless that message asks (a "?"), names tasks by id, shows no preview
        card, and answers a user message that reads as a bulk change."""
        last = max(
            (i for i, (role, _) in enumerate(self.history) if role == "assistant"), default=0
        )
        if last == 0 or self.history[last - 1][0] != "user":
            return None
        text = self.history[last][1]
        # The words people read: the lines that carry no task id.
        words = "\n".join(line for line in text.splitlines() if not replies.ANY_ID.search(line))
        if replies.CARD_WAITING in words.casefold() or not any(q in words for q in "?؟"):
            return None
        ids = list(dict.fromkeys(cast(list[str], replies.ANY_ID.findall(text))))
        request = parse(_MENTION.sub("", self.history[last - 1][1]), self.now)
        if not ids or not isinstance(request, Bulk):
            return None
        if request.action == "reschedule" and request.new_due is None:
            return None
        return request, ids

    def _carry_out(self, bulk: Bulk, ids: list[str]) -> Decision:
        refs = [TaskRef("id", task_id) for task_id in ids]
        if bulk.action in ("complete", "delete"):
            return self._act(Act(bulk.action, refs))
        return self._update(
            Update(
                refs[0],
                due=bulk.new_due,
                keep_time=bulk.new_due is not None,
                add_tags=bulk.add_tags,
                remove_tags=bulk.remove_tags,
                also=refs[1:],
            )
        )

    def _bulk(self, command: Bulk) -> Decision:
        if not self._has(contract.PREVIEW_BULK_CHANGE):
            return Decision.say(
                replies.ONE_AT_A_TIME_UR if self.lang == "ur" else replies.ONE_AT_A_TIME
            )
        done = [c for c in self.calls if c.name == contract.PREVIEW_BULK_CHANGE]
        if not done:
            args: dict[str, Any] = {"action": command.action, "state": command.state}
            optional: dict[str, Any] = {
                "priority": command.priority,
                "tag": command.tag,
                "due": None if command.due == "any" else command.due,
                "query": command.query,
                "new_due": command.new_due.iso() if command.new_due else None,
                "add_tags": command.add_tags or None,
                "remove_tags": command.remove_tags or None,
            }
            args.update({key: value for key, value in optional.items() if value is not None})
            return Decision(calls=[(contract.PREVIEW_BULK_CHANGE, args)])
        return Decision.say(replies.bulk_preview(command, done[0].output or {}, self.now))

    def _add(self, command: Add) -> Decision:
        done = [c for c in self.calls if c.name == contract.ADD_TASK]
        doubtful = [t for t in command.tasks if DATE_LEFT_IN_TITLE.search(t.title)]
        if not done and doubtful:
            return Decision.say(replies.doubtful_add(doubtful[0], self.lang))
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
                if task.recurrence and self._accepts(contract.ADD_TASK, contract.RECURRENCE):
                    args[contract.RECURRENCE] = task.recurrence
                if task.remind_before and self._accepts(contract.ADD_TASK, contract.REMIND_BEFORE):
                    args[contract.REMIND_BEFORE] = task.remind_before
                calls.append((contract.ADD_TASK, args))
            return Decision(calls=calls)
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
        notices = [command.notice] if command.notice else []
        if any(t.recurrence for t in command.tasks) and not self._accepts(
            contract.ADD_TASK, contract.RECURRENCE
        ):
            notices.append(replies.CANNOT_REPEAT_UR if self.lang == "ur" else replies.CANNOT_REPEAT)
        if any(t.remind_before for t in command.tasks) and not self._accepts(
            contract.ADD_TASK, contract.REMIND_BEFORE
        ):
            notices.append(replies.REMIND_NOT_SET)
        if added:
            lines.extend(notices)
        for call in failed:
            title = call.arguments.get("title", "")
            reason = replies.error_text(call.output or {}, self.lang)
            lines.append(
                f'"{title}": {reason}'
                if self.lang == "ur"
                else f'I couldn\'t add "{title}": {reason}'
            )
        return Decision.say("\n".join(lines))

    def _list(self, command: ListTasks) -> Decision:
        done = [c for c in self.calls if c.name == "list_tasks"]
        if not done:
            args: dict[str, Any] = {"state": command.state, "limit": LOOKUP_LIMIT}
            if command.priority:
                args["priority"] = command.priority
            if command.tag:
                args["tag"] = command.tag
            return Decision(calls=[("list_tasks", args)])
        output = done[0].output or {}
        if not output.get("ok"):
            return Decision.say(replies.error_text(output, self.lang))
        tasks = [t for t in output.get("tasks", []) if in_window(t, command, self.now)]
        if command.tag_hint:
            hint = command.tag_hint
            tagged = [t for t in output.get("tasks", []) if hint in t.get("tags", [])]
            if tagged:
                command.tag = hint
                tasks = [t for t in tasks if hint in t.get("tags", [])]
            else:
                tasks = [t for t in tasks if words_match(hint, str(t.get("title", "")))]
                window = replies.window_text(command)
                command.label = (window + " " if window else "") + f'about "{hint}"'
        if self.lang == "ur":
            heading = replies.list_heading_ur(command, len(tasks))
            return Decision.say(
                heading + ("\n" + replies.numbered(tasks, self.now, "ur") if tasks else "")
            )
        heading = replies.list_heading(command, len(tasks))
        return Decision.say(heading + ("\n" + replies.numbered(tasks, self.now) if tasks else ""))

    def _search(self, command: Search) -> Decision:
        done = [c for c in self.calls if c.name == "list_tasks"]
        if not done:
            return Decision(calls=[("list_tasks", {"state": command.state, "limit": LOOKUP_LIMIT})])
        output = done[0].output or {}
        if not output.get("ok"):
            return Decision.say(replies.error_text(output, self.lang))
        # "hotels or kettles": a task that matches either.
        either = [q for q in re.split(r"\s+or\s+", command.query, flags=re.I) if q.strip()]
        tasks = [
            t
            for t in output.get("tasks", [])
            if any(words_match(q, f"{t.get('title', '')} {t.get('notes', '')}") for q in either)
        ]
        if not tasks:
            return Decision.say(f'No tasks match "{command.query}".')
        count = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
        return Decision.say(
            f'Found {count} matching "{command.query}":\n' + replies.numbered(tasks, self.now)
        )

    _ACTION_TOOLS = {
        "complete": "complete_task",
        "reopen": "reopen_task",
        "delete": "delete_task",
        "get": "get_task",
    }

    def _act(self, command: Act) -> Decision:
        tool = self._ACTION_TOOLS[command.action]
        done = [c for c in self.calls if c.name == tool]
        if not done:
            ids, first = self._resolve_all(command.targets, command.action)
            if first is not None:
                return first
            assert ids is not None
            unique = list(dict.fromkeys(ids))
            return Decision(calls=[(tool, {"task_id": task_id}) for task_id in unique])
        return Decision.say("\n".join(self._act_summary(command.action, call) for call in done))

    def _act_summary(self, action: str, call: ToolCall) -> str:
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

    def _current(self, task_id: str) -> dict[str, Any] | None:
        lookup = next((c for c in self.calls if c.name == "list_tasks"), None)
        if lookup is None or not (lookup.output or {}).get("ok"):
            return None
        tasks = (lookup.output or {}).get("tasks", [])
        return next((t for t in tasks if t.get("id") == task_id), None)

    def _update(self, command: Update) -> Decision:
        missing = self._update_unsupported(command)
        if missing is not None:
            return Decision.say(missing)
        done = [c for c in self.calls if c.name == contract.UPDATE_TASK]
        if not done:
            ids, first = self._resolve_all([command.target, *command.also], "update")
            if first is not None:
                return first
            assert ids
            ids = list(dict.fromkeys(ids))
            calls: list[tuple[str, dict[str, Any]]] = []
            for task_id in ids:
                step = self._update_args(command, task_id)
                if isinstance(step, Decision):
                    return step
                calls.append((contract.UPDATE_TASK, step))
            return Decision(calls=calls)
        lines: list[str] = []
        for call in done:
            output = call.output or {}
            if not output.get("ok"):
                lines.append(replies.error_text(output, self.lang))
                continue
            task = (output.get("tasks") or [{}])[0]
            lines.append("Updated " + replies.task_line(None, task, self.now))
        return Decision.say("\n".join(lines))

    def _update_unsupported(self, command: Update) -> str | None:
        """The honest answer when this run's update tool cannot make the change asked for."""
        if command.remind_before and not self._accepts(
            contract.UPDATE_TASK, contract.REMIND_BEFORE
        ):
            return replies.CANNOT_REMIND
        repeating = command.recurrence is not None or command.stop_repeating
        if repeating and not self._accepts(contract.UPDATE_TASK, contract.RECURRENCE):
            return replies.CANNOT_REPEAT_EXISTING
        return None

    def _update_args(self, command: Update, task_id: str) -> dict[str, Any] | Decision:
        """The `update_task` arguments for one task, or the step to take first (a lookup of the
        task's current values, or a reply when they cannot be had)."""
        current: dict[str, Any] | None = None
        if command.needs_current():
            current = self._current(task_id)
            if current is None:
                if not any(c.name == contract.LIST_TASKS for c in self.calls):
                    return Decision(
                        calls=[(contract.LIST_TASKS, {"state": "all", "limit": LOOKUP_LIMIT})]
                    )
                return Decision.say(replies.error_text({"error": "not_found"}, self.lang))
        args: dict[str, Any] = {"task_id": task_id}
        if command.title is not None:
            args["title"] = command.title
        old_due = (current or {}).get("due")
        old = datetime.fromisoformat(old_due) if old_due else None
        timed = old is not None and (old.hour, old.minute) != (23, 59)
        if command.due is not None:
            args["due"] = command.due.iso()
            if old is not None and command.keep_day and command.due.at is not None:
                args["due"] = f"{old.date().isoformat()}T{command.due.at:%H:%M}"
            elif old is not None and timed and command.keep_time and command.due.at is None:
                args["due"] = f"{command.due.day.isoformat()}T{old:%H:%M}"
        if command.shift_days:
            if old is None:
                return Decision.say("That task has no due date to move; tell me the new date.")
            moved = old + timedelta(days=command.shift_days)
            args["due"] = moved.strftime("%Y-%m-%dT%H:%M") if timed else moved.date().isoformat()
        if command.clear_due:
            args["clear_due"] = True
        if command.priority is not None:
            args["priority"] = command.priority
        tags = command.tags
        if command.add_tags or command.remove_tags:
            have = [t for t in (current or {}).get("tags", []) if t not in command.remove_tags]
            tags = have + [t for t in command.add_tags if t not in have]
        if tags is not None:
            args["tags"] = tags
        if command.notes is not None:
            args["notes"] = command.notes
        if command.recurrence is not None:
            args[contract.RECURRENCE] = (
                repeat_on(command.recurrence, old.date())
                if command.repeat_from_due and old
                else command.recurrence
            )
        if command.stop_repeating:
            args[contract.STOP_REPEATING] = True
        if command.remind_before is not None:
            args[contract.REMIND_BEFORE] = command.remind_before
        return args


def repeat_on(rule: str, first: date) -> str:
    """A rule whose day was taken from today, moved to the day of the task's due date ("make
    the gym session repeat every week" repeats on the gym session's weekday)."""
    rule = re.sub(r"BYDAY=[A-Z,]+", f"BYDAY={RRULE_DAYS[first.weekday()]}", rule)
    rule = re.sub(r"BYMONTHDAY=\d+", f"BYMONTHDAY={first.day}", rule)
    return re.sub(r"BYMONTH=\d+", f"BYMONTH={first.month}", rule)
