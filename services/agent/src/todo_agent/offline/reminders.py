"""Reminder phrases: "remind me an hour before", "ping me 30 minutes before the dentist".

A reminder is a lead time before the task's due time, written as the ISO 8601 duration the
tools take (`remind_before`: "PT30M", "PT1H", "P1D"). `find_reminder` reads the phrase and what
it is about: the task named after "before", or (said alone, or after an add) the task in hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from todo_agent.offline.contract import iso_duration
from todo_agent.offline.patterns import rx

_AMOUNT = (
    r"(?P<n>\d+|a|an|one|two|three|four|five|six|ten|fifteen|twenty|thirty|forty[\s-]five|"
    r"half\s+an|a\s+half|a\s+couple\s+of|a\s+quarter\s+of\s+an)"
)
_UNIT = r"(?P<unit>minutes?|mins?|m|hours?|hrs?|h|days?|weeks?)"
# "remind me 30 minutes before", "notify me an hour before the call", "a reminder 1 day before",
# "send me a notification an hour before …"; the task, if named, follows "before".
_REMINDER = rx(
    r"(?P<lead>[\s,;.]*(?:and\s+|then\s+|also\s+)?(?:please\s+)?"
    r"(?:(?:remind|notify|ping|alert|nudge|warn)\s+me|(?:set|add|give\s+me|send\s+me)\s+(?:a\s+|an\s+)?"
    r"(?:reminder|notification|alert|ping|nudge)|(?:with\s+)?(?:a\s+|an\s+)?(?:reminder|notification|alert))"
    r"(?:\s+for\s+it)?\s+)",
    _AMOUNT,
    r"\s*",
    _UNIT,
    r"\s+(?:before|ahead(?:\s+of)?|prior(?:\s+to)?|earlier(?:\s+than)?)(?:\s+(?:it|that|then))?"
    r"(?P<about>\s+(?:the\s+|my\s+)?\S.*?)?[\s.!?]*$",
)
_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10,
    "fifteen": 15, "twenty": 20, "thirty": 30, "forty five": 45,
}  # fmt: skip


@dataclass(frozen=True)
class Reminder:
    """A reminder phrase: the lead time, the text before the phrase, and the task it names
    after "before" (empty when it names none: "remind me an hour before")."""

    before: str
    head: str
    about: str


def _minutes(amount: str, unit: str) -> int:
    amount = " ".join(amount.lower().split())
    unit = unit.lower()
    per = 1
    if unit.startswith("h"):
        per = 60
    elif unit.startswith("d"):
        per = 24 * 60
    elif unit.startswith("w"):
        per = 7 * 24 * 60
    if amount in ("half an", "a half"):
        return per // 2
    if amount == "a quarter of an":
        return per // 4
    if amount == "a couple of":
        return 2 * per
    count = int(amount) if amount.isdigit() else _WORDS.get(amount.replace("-", " "), 0)
    return count * per


def find_reminder(text: str) -> Reminder | None:
    """The reminder phrase in `text`, if any."""
    match = _REMINDER.search(text)
    if match is None:
        return None
    minutes = _minutes(match.group("n"), match.group("unit"))
    if minutes <= 0:
        return None
    about = (match.group("about") or "").strip()
    return Reminder(iso_duration(minutes), text[: match.start()].strip(" ,;."), about)
