"""Repeating-task phrases ("every monday", "on the 1st of every month", "daily at 7").

`extract_recurrence` finds the phrase, takes it off the text (so it never becomes a title:
"Every to water the plants") and returns the RFC 5545 RRULE it means (`FREQ=WEEKLY;BYDAY=MO`,
the form `add_task`'s `recurrence` takes) with the first occurrence (the first matching day on
or after today; today only while its time is still ahead) as the task's due date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from todo_agent.offline.dates import (
    MONTHS,
    WEEKDAY_ABBREVIATIONS,
    WEEKDAYS,
    Due,
    extract_due,
    next_month_day,
)
from todo_agent.offline.patterns import rx

_DAY_NAMES = {**WEEKDAYS, **WEEKDAY_ABBREVIATIONS}
_DAY = r"(?:" + "|".join(sorted(_DAY_NAMES, key=len, reverse=True)) + r")s?"
_DAY_LIST = _DAY + r"(?:\s*(?:,|and|&)\s*" + _DAY + r")*"
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")"

# Order matters: the most specific phrase is tried first.
_LAST_WEEKDAY = rx(
    r"\b(?:every\s+|each\s+)?(?:on\s+)?(?:the\s+)?(?P<nth>last|first|second|third|fourth|1st|2nd|3rd|4th)\s+(",
    _DAY,
    r")\s+(?:of|in)\s+(?:every|each|the)\s+month\b",
)
_NTH = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_MONTH_DAY = rx(
    r"\b(?:on\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\s+of\s+(?:every|each)\s+month\b"
    r"|\b(?:every|each)\s+month\s+on\s+the\s+(\d{1,2})(?:st|nd|rd|th)\b"
    r"|\bmonthly\s+on\s+the\s+(\d{1,2})(?:st|nd|rd|th)\b"
)
_YEARLY = rx(
    r"\b(?:every|each)\s+year\s+on\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(",
    _MONTH,
    r")\b|\b(?:yearly|annually)\b",
)
_WEEKDAYS = rx(
    r"\b(?:every|each)\s+(?:other\s+|second\s+|\d+\s+weeks?\s+on\s+)?(",
    _DAY_LIST,
    r")\b"
    r"|\b(?:weekly|every\s+week|each\s+week|every\s+\d+\s+weeks)\s+on\s+(",
    _DAY_LIST,
    r")\b",
)
_WORKDAYS = rx(
    r"\b(?:every|each)\s+(?:weekday|work\s*day|working\s+day)s?\b"
    r"|\b(?:on\s+)?(?:weekdays|work\s*days|working\s+days)\b|\bmonday\s+to\s+friday\b"
)
_WEEKENDS = rx(r"\b(?:every|each)\s+weekend\b|\b(?:on\s+)?weekends\b")
# "every other week", "fortnightly", "every 3 months": a count of weeks or months, no day named.
_EVERY_N = rx(
    r"\b(?:every|each)\s+(?P<n>other|second|\d+|two|three|four|six)\s+(?P<unit>weeks?|months?)\b"
    r"|\b(?P<fortnight>fortnightly|every\s+fortnight)\b"
)
_DAILY = rx(
    r"\b(?:every|each)\s+(?:single\s+)?(?:day|morning|evening|night|afternoon)\b|\bdaily\b"
    r"|\bevery\s+\d+\s+days\b"
)
_WEEKLY = rx(r"\b(?:weekly|every\s+week|each\s+week)\b")
_MONTHLY = rx(r"\b(?:monthly|every\s+month|each\s+month)\b")
_PART_AFTER = rx(r"\s+(morning|afternoon|evening|night)s?\b")
_ANY = rx(
    r"\b(?:every|each|daily|weekly|monthly|yearly|annually|fortnightly|weekdays|weekends|"
    r"work\s*days|working\s+days)\b|\bmonday\s+to\s+friday\b"
)
# RFC 5545 weekday codes, Monday first (as `date.weekday()` counts).
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_COUNT_WORDS = {"other": 2, "second": 2, "two": 2, "three": 3, "four": 4, "six": 6}


@dataclass(frozen=True)
class Recurrence:
    """A repeating phrase found: its first occurrence, the text without the phrase, and the
    RRULE (empty when the phrase says the task repeats but not how often: "every time")."""

    first: Due | None
    rest: str
    rule: str = ""


def _nth_weekday(today: date, weekday: int, nth: int) -> date:
    """The first day on or after today that is the nth (-1: last) such weekday of its month."""
    month = today.replace(day=1)
    for _ in range(3):
        following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        if nth == -1:
            end = following - timedelta(days=1)
            day = end - timedelta(days=(end.weekday() - weekday) % 7)
        else:
            day = month + timedelta(days=(weekday - month.weekday()) % 7 + 7 * (nth - 1))
        if day >= today and day.month == month.month:
            return day
        month = following
    return today


def _byday(weekdays: list[int]) -> str:
    return ",".join(RRULE_DAYS[d] for d in sorted(set(weekdays)))


def _rule(freq: str, interval: int = 1, **parts: str) -> str:
    """ "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR" (INTERVAL only when it is not 1)."""
    pieces = [f"FREQ={freq}"] + ([f"INTERVAL={interval}"] if interval > 1 else [])
    return ";".join(pieces + [f"{key}={value}" for key, value in parts.items() if value])


def _interval(match: re.Match[str]) -> int:
    """The N of "every N weeks" / "every other friday" (1 when none is said)."""
    found = re.search(
        r"\b(?:every|each)\s+(other|second|\d+|two|three|four|six)\b", match.group(0), re.I
    )
    if found is None:
        return 1
    word = found.group(1).lower()
    return int(word) if word.isdigit() else _COUNT_WORDS[word]


def first_weekday(now: datetime, weekday: int) -> date:
    """The first such weekday on or after today (a repeating task's first occurrence)."""
    return _first_weekday(now.date(), [weekday], None, now)


def _first_weekday(today: date, weekdays: list[int], at: time | None, now: datetime) -> date:
    best: date | None = None
    for weekday in weekdays:
        ahead = (weekday - today.weekday()) % 7
        if ahead == 0 and at is not None and at <= now.time():
            ahead = 7
        day = today + timedelta(days=ahead)
        best = day if best is None or day < best else best
    assert best is not None
    return best


def _names(text: str) -> list[int]:
    """The weekdays named in a phrase ("mon, wed and fri", "saturdays")."""
    days: list[int] = []
    for word in re.findall(r"[a-z]+", text.lower()):
        for form in (word, word.removesuffix("s")):
            if form in _DAY_NAMES:
                days.append(_DAY_NAMES[form])
                break
    return days


def extract_recurrence(text: str, now: datetime) -> Recurrence | None:
    """The repeating phrase in `text`, if any: None when the text does not repeat."""
    if not _ANY.search(text) and not _LAST_WEEKDAY.search(text):
        return None
    today = now.date()

    def rest_of(match: re.Match[str]) -> tuple[Due | None, str]:
        after = text[match.end() :]
        # "every tuesday night": the part of the day belongs to the repeating phrase (and
        # still makes a bare hour pm).
        part = _PART_AFTER.match(after)
        keep = " "
        if part is not None:
            keep, after = f" in the {part.group(1)} ", after[part.end() :]
        rest = f"{text[: match.start()]}{keep}{after}"
        due, rest = extract_due(rest, now)
        return due, rest

    match = _LAST_WEEKDAY.search(text)
    if match is not None:
        weekday = _names(match.group(2))[0]
        nth = _NTH.get(match.group("nth").lower(), -1)
        due, rest = rest_of(match)
        day = _nth_weekday(today, weekday, nth)
        return Recurrence(
            Due(day, due.at if due else None),
            rest,
            _rule("MONTHLY", BYDAY=f"{nth}{RRULE_DAYS[weekday]}"),
        )
    match = _MONTH_DAY.search(text)
    if match is not None:
        number = int(match.group(1) or match.group(2) or match.group(3))
        due, rest = rest_of(match)
        first = next_month_day(today, number)
        rule = _rule("MONTHLY", BYMONTHDAY=str(number)) if 1 <= number <= 31 else ""
        return Recurrence(Due(first, due.at if due else None) if first else None, rest, rule)
    match = _YEARLY.search(text)
    if match is not None and match.group(1):
        due, rest = rest_of(match)
        try:
            day = date(today.year, MONTHS[match.group(2).lower()], int(match.group(1)))
        except ValueError:
            return Recurrence(None, rest)
        if day < today:
            day = day.replace(year=today.year + 1)
        rule = _rule("YEARLY", BYMONTH=str(day.month), BYMONTHDAY=str(day.day))
        return Recurrence(Due(day, due.at if due else None), rest, rule)
    for pattern, weekdays in (
        (_WORKDAYS, [0, 1, 2, 3, 4]),
        (_WEEKENDS, [5, 6]),
        (_WEEKDAYS, None),
    ):
        match = pattern.search(text)
        if match is not None:
            names = weekdays or _names(match.group(0))
            due, rest = rest_of(match)
            at = due.at if due else None
            rule = _rule("WEEKLY", _interval(match), BYDAY=_byday(names))
            return Recurrence(Due(_first_weekday(today, names, at, now), at), rest, rule)
    for pattern in (_EVERY_N, _DAILY, _WEEKLY, _MONTHLY, _YEARLY, _ANY):
        match = pattern.search(text)
        if match is not None:
            part = re.search(r"morning|evening|night|afternoon", match.group(0), re.I)
            # "every evening at 10": the part of the day still makes the hour pm.
            keep = f" in the {part.group(0)} " if part else " "
            due, rest = extract_due(f"{text[: match.start()]}{keep}{text[match.end() :]}", now)
            if due is None:
                due, rest = Due(today), f"{text[: match.start()]} {text[match.end() :]}"
            return Recurrence(due, rest, _plain_rule(pattern, match, due.day))
    return None


def _plain_rule(pattern: re.Pattern[str], match: re.Match[str], first: date) -> str:
    """The RRULE of a phrase that names no day ("daily", "every 3 days", "every other week",
    "monthly"): a weekly or monthly rule repeats on the first occurrence's weekday or day."""
    weekday = RRULE_DAYS[first.weekday()]
    if pattern is _EVERY_N:
        if match.group("fortnight"):
            return _rule("WEEKLY", 2, BYDAY=weekday)
        n = match.group("n").lower()
        count = int(n) if n.isdigit() else _COUNT_WORDS[n]
        if match.group("unit").lower().startswith("week"):
            return _rule("WEEKLY", count, BYDAY=weekday)
        return _rule("MONTHLY", count, BYMONTHDAY=str(first.day))
    if pattern is _DAILY:
        found = re.search(r"(\d+)\s+days", match.group(0))
        return _rule("DAILY", int(found.group(1)) if found else 1)
    if pattern is _WEEKLY:
        return _rule("WEEKLY", BYDAY=weekday)
    if pattern is _MONTHLY:
        return _rule("MONTHLY", BYMONTHDAY=str(first.day))
    if pattern is _YEARLY:
        return _rule("YEARLY", BYMONTH=str(first.month), BYMONTHDAY=str(first.day))
    # "every time", "each of them": it repeats, but how often is not said.
    return ""
