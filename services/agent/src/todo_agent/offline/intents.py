"""The offline model's reading of a composer tool the user picked (`todo_agent.intents`).

- `add_many` ("Brain dump"): every line, bullet or semicolon of the message is read as
  "add <item>", so its date, priority and tags are understood and "milk, eggs and bread"
  is three tasks as it is in an ordinary add;
- `plan_day`: the open tasks due today and those already overdue;
- `search`: the message is what to look for.

A message that starts "brain dump" is read as `add_many` without the tool too (the start
screen's "Brain dump" prompt sends just that, and is answered with how to do one). Anything
the intent cannot make sense of falls back to the ordinary reading of the message.
"""

from __future__ import annotations

import re
from datetime import datetime

from todo_agent.offline.commands import Add, Chat, Command, ListTasks, NewTask, Search
from todo_agent.offline.grammar import normalize, parse
from todo_agent.offline.patterns import rx

# Items of a brain dump: one per line, bullet or semicolon.
_ITEM_BREAK = re.compile(r"\s*(?:\r?\n|;|•)\s*")
# A list marker at the start of an item: "- ", "* ", "1. ", "2) ".
_MARKER = re.compile(r"^(?:[-*]+|\d{1,3}[.)])\s+")
_LEAD_IN = rx(r"^(?:brain\s*dump|add|todo|to do)\s*[:\-\u2013\u2014]?\s*")
_SEARCH_LEAD_IN = rx(r"^(?:find|search(?:\s+for)?|look\s+for)\s+")
_BRAIN_DUMP = rx(r"^\s*brain\s*dump\b")
BRAIN_DUMP_HOW = (
    "Go ahead: write everything on your mind, one item per line (or separated by commas), "
    'after "brain dump:" — or pick the Brain dump tool — and I\'ll add each one as a task.'
)
# More items than this in one message are not added (the reply says so).
MAX_ITEMS = 50


def implied_intent(text: str) -> str:
    """The intent a message names itself ("brain dump: …"), or ""."""
    return "add_many" if _BRAIN_DUMP.match(text) else ""


def intent_command(intent: str, text: str, now: datetime) -> Command | None:
    """The command the intent makes of the message, or None to read it as usual."""
    if intent == "add_many":
        return brain_dump(text, now) or Chat(BRAIN_DUMP_HOW)
    if intent == "plan_day":
        return ListTasks(state="open", due="today", overdue_too=True, label="due today or overdue")
    if intent == "search":
        query = _SEARCH_LEAD_IN.sub("", normalize(text)).strip(" ?.!")
        return Search(query=query) if query else None
    return None


def brain_dump(text: str, now: datetime) -> Add | None:
    """Every item of the message as a task (None when there is none)."""
    tasks: list[NewTask] = []
    notice = ""
    for raw in _ITEM_BREAK.split(_LEAD_IN.sub("", text.strip())):
        item = _MARKER.sub("", raw.strip()).strip(" .")
        if not item:
            continue
        read = _read_item(item, now)
        if len(read) == 1 and "," in read[0].title:
            # "eggs, bread": a list the grammar kept as one title; in a dump, commas separate.
            read = [t for part in item.split(",") if part.strip() for t in _read_item(part, now)]
        tasks.extend(read)
    if len(tasks) > MAX_ITEMS:
        notice = f"I added the first {MAX_ITEMS} items; send the rest in another message."
        tasks = tasks[:MAX_ITEMS]
    return Add(tasks, notice=notice) if tasks else None


def _read_item(item: str, now: datetime) -> list[NewTask]:
    """The tasks "add <item>" means; the item itself as a title when the grammar reads none."""
    item = item.strip()
    command = parse(f"add {item}", now)
    if isinstance(command, Add) and command.tasks and all(t.title for t in command.tasks):
        return command.tasks
    return [NewTask(title=item[:1].upper() + item[1:])]
