"""The offline model's words: replies that summarise tool results, in English or Urdu.

Lists are numbered and every task line ends with `[id: …]`, so a later message can say "the
second one" or "it": the model finds the ids again in the conversation history (the service is
stateless; the history the caller sends is the only memory).
"""

# Urdu text legitimately uses the Arabic full stop and similar characters.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from todo_agent.offline.commands import Bulk, ListTasks, NewTask

Lang = str  # "en" or "ur"

TASK_LINE = re.compile(r"^\s*(\d+)\.\s+.*\[id:\s*([^\]\s]+)\]\s*$", re.M)
ANY_ID = re.compile(r"\[id:\s*([^\]\s]+)\]")

_UR_DAYS = ["پیر", "منگل", "بدھ", "جمعرات", "جمعہ", "ہفتہ", "اتوار"]


def _due_text(due: str | None, now: datetime, lang: Lang) -> str:
    if not due:
        return ""
    try:
        moment = datetime.fromisoformat(due)
    except ValueError:
        return due
    day = moment.date()
    today = now.date()
    whole_day = (moment.hour, moment.minute) == (23, 59)
    clock = "" if whole_day else moment.strftime(" %H:%M")
    if lang == "ur":
        if day == today:
            name = "آج"
        elif day == today + timedelta(days=1):
            name = "کل"
        else:
            name = f"{_UR_DAYS[day.weekday()]} {day.isoformat()}"
        return f"{name}{clock}"
    if day == today:
        name = "today"
    elif day == today + timedelta(days=1):
        name = "tomorrow"
    elif today < day < today + timedelta(days=7):
        name = day.strftime("%A %-d %b")
    else:
        name = day.strftime("%a %-d %b %Y")
    return f"{name}{clock}"


def task_line(number: int | None, task: dict[str, Any], now: datetime, lang: Lang = "en") -> str:
    """`1. Buy milk — due tomorrow · high priority · #groceries [id: …]`."""
    parts: list[str] = []
    due = _due_text(task.get("due"), now, lang)
    if due:
        parts.append(f"آخری تاریخ {due}" if lang == "ur" else f"due {due}")
    priority = task.get("priority")
    if priority in ("high", "low"):
        if lang == "ur":
            parts.append("اہم" if priority == "high" else "کم اہم")
        else:
            parts.append(f"{priority} priority")
    if task.get("tags"):
        parts.append(" ".join(f"#{t}" for t in task["tags"]))
    done = task.get("state") == "completed"
    mark = "✓ " if done else ""
    meta = f" — {' · '.join(parts)}" if parts else ""
    prefix = f"{number}. " if number is not None else ""
    return f"{prefix}{mark}{task.get('title', '')}{meta} [id: {task.get('id', '')}]"


def numbered(tasks: list[dict[str, Any]], now: datetime, lang: Lang = "en") -> str:
    """A numbered list of tasks, one per line."""
    return "\n".join(task_line(i, t, now, lang) for i, t in enumerate(tasks, start=1))


def window_text(filters: ListTasks) -> str:
    """How a list names its window: "due today", "due at the weekend", "" for none."""
    return filters.label or {
        "overdue": "that are overdue",
        "today": "due today",
        "tomorrow": "due tomorrow",
        "this_week": "due this week",
        "next_week": "due next week",
        "undated": "with no due date",
    }.get(filters.due, "")


def list_heading(filters: ListTasks, count: int) -> str:
    """ "Your open tasks due today" / "You have no completed tasks tagged #work"."""
    state = {"open": "open ", "completed": "completed ", "all": ""}[filters.state]
    words = []
    if filters.priority:
        words.append(f"{filters.priority}-priority")
    noun = f"{state}{' '.join(words) + ' ' if words else ''}tasks"
    qualifiers = []
    window = window_text(filters)
    if window:
        qualifiers.append(window)
    if filters.tag:
        qualifiers.append(f"tagged #{filters.tag}")
    tail = f" {' and '.join(qualifiers)}" if qualifiers else ""
    if count == 0:
        return f"You have no {noun}{tail}."
    if count == 1:
        noun = noun.removesuffix("tasks") + "task"
        return f"You have 1 {noun}{tail}:"
    return f"You have {count} {noun}{tail}:"


def list_heading_ur(filters: ListTasks, count: int) -> str:
    """The Urdu heading of a list."""
    which = {"open": "باقی", "completed": "مکمل شدہ", "all": "تمام"}[filters.state]
    window = {
        "today": " (آج)",
        "tomorrow": " (کل)",
        "this_week": " (اس ہفتے)",
        "overdue": " (تاخیر شدہ)",
    }.get(filters.due, f" ({filters.label})" if filters.label else "")
    if count == 0:
        return f"آپ کی فہرست میں کوئی {which} کام نہیں{window}۔"
    return f"آپ کے {count} {which} کام{window}:"


HELP_EN = (
    "I'm the built-in offline assistant. I understand simple task commands, not free "
    "conversation. You can say:\n"
    "• add buy milk tomorrow, high priority #groceries — or several: add milk and eggs\n"
    "• list my tasks / what's due today / show overdue / show done tasks / show #work\n"
    "• complete the milk one / mark the second one done / complete 1 and 3\n"
    "• reopen, delete, rename the milk one to oat milk, move the report to friday, "
    "make the report high priority\n"
    "• search for dentist\n"
    "Dates: today, tomorrow, friday, next week, in 3 days, on the 5th, 2026-12-01, at 5pm. "
    'Put a title in quotes to keep "and" or commas in it: add "salt and pepper". '
    "You can also write in Urdu (add, list and complete)."
)
ADD_NEEDS_TITLE_EN = (
    'What should the task say? For example: "add buy milk tomorrow, high priority #errands".'
)
UNKNOWN_EN = (
    "Sorry, I didn't understand that. I'm the built-in offline assistant, so I only understand "
    'task commands such as "add buy milk tomorrow", "what\'s due this week?", "mark the '
    'milk one done" or "search for dentist". Say "help" for everything I can do.'
)
HELP_UR = (
    "میں سادہ اردو میں یہ کر سکتا ہوں:\n"
    '• کام شامل کرنا: "کل دودھ خریدنا شامل کریں"\n'
    '• کام دکھانا: "میرے کام دکھائیں" یا "آج کے کام دکھائیں"\n'
    '• کام مکمل کرنا: "پہلا کام مکمل کریں" یا "دودھ والا کام مکمل کریں"\n'
    "باقی کاموں کے لیے انگریزی میں لکھیں۔"
)
UNKNOWN_UR = "معاف کیجیے، میں یہ نہیں سمجھ سکا۔ " + HELP_UR

_ERRORS_EN = {
    "not_found": "I couldn't find that task in your list.",
    "unavailable": "I can't reach your task list right now, so nothing was changed. Please try again in a moment.",
    "timeout": "Your task list didn't answer in time; please check your list and try again.",
    "unauthenticated": "Your session has expired. Please sign in again.",
    "conflict": "That task changed at the same time; please try again.",
    "rate_limited": "That's a lot of changes at once; please wait a moment and try again.",
}
_ERRORS_UR = {
    "not_found": "مجھے یہ کام آپ کی فہرست میں نہیں ملا۔",
    "unavailable": "آپ کی فہرست اس وقت دستیاب نہیں، کچھ تبدیل نہیں ہوا۔ براہِ کرم تھوڑی دیر بعد دوبارہ کوشش کریں۔",
    "timeout": "فہرست نے وقت پر جواب نہیں دیا، براہِ کرم دوبارہ کوشش کریں۔",
    "unauthenticated": "آپ کا سیشن ختم ہو گیا ہے، دوبارہ سائن اِن کریں۔",
}


def error_text(output: dict[str, Any], lang: Lang) -> str:
    """A user-facing sentence for a failed tool call."""
    code = str(output.get("error", ""))
    table = _ERRORS_UR if lang == "ur" else _ERRORS_EN
    if code in table:
        return table[code]
    message = str(output.get("message", "")).strip()
    if lang == "ur":
        return "یہ کام نہیں ہو سکا۔"
    if code == "invalid_argument" and message:
        return f"That didn't work: {message}"
    return "Something went wrong with that request; nothing was changed."


# What this run cannot do, said honestly: the tool it needs is not offered (yet).
ONE_AT_A_TIME = (
    "I can't change several tasks at once yet: I change one task at a time. Name one task "
    '(for example "move buy milk to tomorrow") and I\'ll do that one.'
)
ONE_AT_A_TIME_UR = "میں ابھی ایک ساتھ کئی کام تبدیل نہیں کر سکتا، ایک وقت میں ایک کام بتائیں۔"
BULK_FILTER_UNCLEAR = (
    "I can't pick those tasks out in one go. I can change every task due today, tomorrow, "
    "this week, next week or overdue, or with a tag, a priority or some words, for example "
    '"push everything due today to tomorrow".'
)
CANNOT_UNDO = (
    "I can't undo changes yet. Tell me the change to make instead, for example "
    '"reopen buy milk" or "move the report back to friday".'
)
CANNOT_UNDO_UR = "میں ابھی تبدیلی واپس نہیں کر سکتا۔ بتائیں کیا تبدیل کرنا ہے۔"
NOTHING_TO_UNDO_HERE = (
    "Nothing has changed in this conversation yet, so there is nothing here to undo. (A "
    "change made in the task panel has its own Undo there.)"
)
NOTHING_TO_UNDO_HERE_UR = "اس گفتگو میں ابھی کچھ تبدیل نہیں ہوا، اس لیے واپس کرنے کو کچھ نہیں۔"
CANNOT_REPEAT = "I can't repeat tasks yet, so I added it once, for its first date."
CANNOT_REPEAT_UR = "میں ابھی کام دہرا نہیں سکتا، اس لیے پہلی تاریخ کے لیے ایک بار شامل کر دیا۔"
REPEAT_UNCLEAR = (
    "I can't tell how often it repeats, so I added it once, for its first date. Say "
    '"every monday", "every other week" or "on the 1st of every month" to make it repeat.'
)
CANNOT_REMIND = (
    "I can't send reminders or notifications yet; I can give the task a due date and time."
)
REMIND_NOT_SET = "I can't set reminders yet, so it has no reminder."
CONFIRM_ON_CARD = (
    "Nothing has changed yet: press Confirm on the preview card to make the change, or Cancel "
    "to leave your tasks as they are."
)
CONFIRM_ON_CARD_UR = "ابھی کچھ نہیں بدلا: تبدیلی کے لیے کارڈ پر Confirm دبائیں، یا Cancel۔"
# In a reply that shows a preview card (casefolded): the card's own button confirms it.
CARD_WAITING = "press confirm"
CANNOT_REPEAT_EXISTING = (
    "I can't make tasks repeat yet. I can give the task its next due date, for example "
    '"move the gym session to next wednesday".'
)


def undo_summary(output: dict[str, Any], now: datetime, lang: Lang) -> str:
    """What `undo_last_change` did, in the words of its output."""
    message = str(output.get("message", "")).strip()
    if not output.get("ok"):
        if output.get("error") in ("not_found", "failed_precondition") or not message:
            return (
                "کوئی تبدیلی واپس کرنے کو نہیں۔" if lang == "ur" else "There's nothing I can undo."
            )
        return message if lang != "ur" else "یہ تبدیلی واپس نہیں ہو سکی۔"
    tasks = list(output.get("tasks") or [])
    head = "تبدیلی واپس کر دی گئی۔" if lang == "ur" else (message or "Undone.")
    return head + ("\n" + numbered(tasks, now, lang) if tasks else "")


_BULK_VERBS = {
    "complete": "mark as done",
    "delete": "delete",
    "reschedule": "move",
    "tag": "re-tag",
}


def bulk_preview(command: Bulk, output: dict[str, Any], now: datetime) -> str:
    """The reply to a bulk preview: every task it would change, and that nothing has yet."""
    if not output.get("ok"):
        return error_text(output, "en")
    tasks = list(output.get("tasks") or [])
    if not tasks:
        return "No tasks match that, so there is nothing to change."
    verb = _BULK_VERBS[command.action]
    change = ""
    if command.action == "reschedule" and command.new_due is not None:
        change = f" to {_due_text(command.new_due.iso(), now, 'en')}"
    elif command.action == "tag":
        added = " ".join(f"#{t}" for t in command.add_tags)
        removed = " ".join(f"#{t}" for t in command.remove_tags)
        change = (f" (add {added})" if added else "") + (f" (remove {removed})" if removed else "")
    count = f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"
    return (
        f"This would {verb} {count}{change}:\n{numbered(tasks, now)}\n"
        "Nothing has changed yet. Shall I go ahead? Press Confirm on the card to do it, or Cancel "
        "to leave them."
    )


def doubtful_add(task: NewTask, lang: Lang) -> str:
    """An add whose title still holds date words: say what was read and ask, add nothing."""
    due = f" due {task.due.iso()}" if task.due is not None else ""
    if lang == "ur":
        return f'کیا آپ کا مطلب ہے "{task.title}"{due}؟ تاریخ الگ سے لکھیں، میں نے ابھی کچھ شامل نہیں کیا۔'
    return (
        f'I read that as "{task.title}"{due}, but part of the title looks like a date I couldn\'t '
        "place, so I haven't added anything. Could you say it again with the date on its own, "
        'for example "add call the council on thursday at 12pm"?'
    )
