"""Due dates and times in plain English and Urdu, resolved against the user's local clock.

`extract_due` finds one date/time expression in a phrase, returns what it means and the phrase
without it (what is left is the task's title). A date without a time is returned as a date
(`2026-11-22`): the add/update tools read that as the end of that day in the user's time zone,
so a task "due today" is not overdue until the day is over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
# Short forms are only read after a word like "on" or "next", because "sun", "sat" and "wed"
# are also ordinary words in titles ("buy sun cream").
WEEKDAY_ABBREVIATIONS = {
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "couple of": 2,
    "few": 3,
}
URDU_WEEKDAYS = {
    "پیر": 0,
    "سوموار": 0,
    "منگل": 1,
    "بدھ": 2,
    "جمعرات": 3,
    "جمعہ": 4,
    "ہفتے": 5,
    "اتوار": 6,
}
# Part-of-day words give a time when none is said explicitly.
PART_OF_DAY = {
    "morning": time(9, 0),
    "afternoon": time(15, 0),
    "evening": time(18, 0),
    "tonight": time(20, 0),
    "night": time(21, 0),
    "noon": time(12, 0),
    "midday": time(12, 0),
    "midnight": time(23, 59),
    "صبح": time(9, 0),
    "دوپہر": time(14, 0),
    "شام": time(18, 0),
    "رات": time(21, 0),
}


@dataclass(frozen=True)
class Due:
    """A due date, with a time of day when one was said."""

    day: date
    at: time | None = None

    def iso(self, tzinfo: object = None) -> str:
        """`YYYY-MM-DD` for a whole day, else `YYYY-MM-DDTHH:MM` (local wall time)."""
        if self.at is None:
            return self.day.isoformat()
        return datetime.combine(self.day, self.at).isoformat(timespec="minutes")


_WORD = r"(?<![\w#])"
_END = r"(?![\w])"


def _sub_once(pattern: re.Pattern[str], text: str) -> tuple[re.Match[str] | None, str]:
    match = pattern.search(text)
    if match is None:
        return None, text
    return match, f"{text[: match.start()]} {text[match.end() :]}"


_ISO = re.compile(
    _WORD + r"(?:on\s+|by\s+|due\s+)?(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2}))?" + _END,
    re.I,
)
_DAY_AFTER_TOMORROW = re.compile(_WORD + r"(?:the\s+)?day\s+after\s+tomorrow" + _END, re.I)
_TODAY = re.compile(_WORD + r"(?:by\s+|for\s+|due\s+)?(today|tonight|this\s+evening)" + _END, re.I)
_TOMORROW = re.compile(
    _WORD
    + r"(?:by\s+|for\s+|due\s+)?(tomorrow|tmrw|tmr)(\s+(?:morning|afternoon|evening|night))?"
    + _END,
    re.I,
)
_DAY_OF_MONTH = re.compile(
    _WORD
    + r"(?:on|by|due)\s+the\s+(\d{1,2})(?:st|nd|rd|th)(?:\s+of\s+(?:the|this)\s+month)?"
    + _END,
    re.I,
)
_WEEKDAY = re.compile(
    _WORD
    + r"(?:(on|next|this|coming|by|due|for|until|till)\s+(?:(?:next|this|coming)\s+)?)?("
    + "|".join(WEEKDAYS)
    + "|"
    + "|".join(WEEKDAY_ABBREVIATIONS)
    + r")"
    + _END,
    re.I,
)
_NEXT_WEEK = re.compile(
    _WORD + r"(?:by\s+|for\s+|due\s+)?(next|this)\s+(week|weekend|month)" + _END, re.I
)
_END_OF = re.compile(
    _WORD + r"(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+)?(day|week|month)" + _END, re.I
)
_IN_N = re.compile(
    _WORD
    + r"in\s+(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a\s+couple\s+of|a\s+few)\s+"
    + r"(minutes?|mins?|hours?|hrs?|days?|weeks?|months?)"
    + _END,
    re.I,
)
_MONTH_DAY = re.compile(
    _WORD
    + r"(?:on\s+|by\s+|due\s+)?(?:("
    + "|".join(MONTHS)
    + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?|(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?("
    + "|".join(MONTHS)
    + r"))(?:,?\s+(\d{4}))?"
    + _END,
    re.I,
)
_TIME = re.compile(
    _WORD
    + r"(?:at\s+|@\s*|by\s+)?(?:(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)|(\d{1,2}):(\d{2})(?:\s*(?:h|hrs))?)"
    + _END,
    re.I,
)
_AT_HOUR = re.compile(_WORD + r"at\s+(\d{1,2})" + _END, re.I)
_PART = re.compile(
    _WORD + r"(?:(?:in\s+the|this|at)\s+)?(morning|afternoon|evening|noon|midday|midnight)" + _END,
    re.I,
)
_URDU_TODAY = re.compile(r"(?<!\S)آج(?!\S)")
_URDU_TOMORROW = re.compile(r"(?<!\S)کل(?!\S)")
_URDU_DAY_AFTER = re.compile(r"(?<!\S)پرسوں(?!\S)")
_URDU_NEXT_WEEK = re.compile(r"(?<!\S)اگلے\s+ہفتے(?!\S)")
_URDU_WEEKDAY = re.compile(r"(?<!\S)(" + "|".join(URDU_WEEKDAYS) + r")(?:\s+کو)?(?!\S)")
_URDU_PART = re.compile(r"(?<!\S)(صبح|دوپہر|شام|رات)(?:\s+کو)?(?!\S)")
_URDU_IN_DAYS = re.compile(r"(?<!\S)(\d+)\s+دن\s+(?:میں|بعد)(?!\S)")
_DANGLING = re.compile(r"(?:\s+(?:due|by|on|for|at|before|until|till|کو|تک))+\s*$", re.I)


def _next_weekday(today: date, weekday: int) -> date:
    """The next such weekday after today (a week ahead when today is that weekday)."""
    days = (weekday - today.weekday()) % 7
    return today + timedelta(days=days or 7)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise ValueError("unreachable")


def _hour24(hour: int, meridiem: str) -> int:
    meridiem = meridiem.lower().replace(".", "")
    if meridiem == "pm" and hour < 12:
        return hour + 12
    if meridiem == "am" and hour == 12:
        return 0
    return hour


def _count(word: str) -> int:
    word = re.sub(r"\s+", " ", word.lower().strip())
    if word.isdigit():
        return int(word)
    word = word.removeprefix("a ") if word not in ("a", "an") else word
    return NUMBER_WORDS.get(word, 1)


def _extract_time(text: str) -> tuple[time | None, str]:
    match, rest = _sub_once(_TIME, text)
    if match is not None:
        if match.group(1) is not None:
            hour = _hour24(int(match.group(1)), match.group(3))
            minute = int(match.group(2) or 0)
        else:
            hour, minute = int(match.group(4)), int(match.group(5))
        if 0 <= hour < 24 and 0 <= minute < 60:
            return time(hour, minute), rest
    match, rest = _sub_once(_AT_HOUR, text)
    if match is not None:
        hour = int(match.group(1))
        # "at 5" means the next 5 o'clock a person would mean: afternoon for 1 to 7.
        if 1 <= hour <= 7:
            hour += 12
        if 0 <= hour < 24:
            return time(hour, 0), rest
    match, rest = _sub_once(_PART, text)
    if match is not None:
        return PART_OF_DAY[match.group(1).lower()], rest
    match, rest = _sub_once(_URDU_PART, text)
    if match is not None:
        return PART_OF_DAY[match.group(1)], rest
    return None, text


def _extract_day(text: str, now: datetime) -> tuple[date | None, time | None, datetime | None, str]:
    """Returns (day, implied time, exact moment, rest). An exact moment comes from "in 2 hours"."""
    today = now.date()
    match, rest = _sub_once(_ISO, text)
    if match is not None:
        try:
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            day = None
        if day is not None:
            at = None
            if match.group(4) is not None:
                hour, minute = int(match.group(4)), int(match.group(5))
                if hour < 24 and minute < 60:
                    at = time(hour, minute)
            return day, at, None, rest
    match, rest = _sub_once(_IN_N, text)
    if match is not None:
        amount = _count(match.group(1))
        unit = match.group(2).lower()
        if unit.startswith("min"):
            return None, None, now + timedelta(minutes=amount), rest
        if unit.startswith(("hour", "hr")):
            return None, None, now + timedelta(hours=amount), rest
        if unit.startswith("day"):
            return today + timedelta(days=amount), None, None, rest
        if unit.startswith("week"):
            return today + timedelta(weeks=amount), None, None, rest
        return _add_months(today, amount), None, None, rest
    match, rest = _sub_once(_DAY_AFTER_TOMORROW, text)
    if match is not None:
        return today + timedelta(days=2), None, None, rest
    match, rest = _sub_once(_TOMORROW, text)
    if match is not None:
        part = (match.group(2) or "").strip().lower()
        return today + timedelta(days=1), PART_OF_DAY.get(part), None, rest
    match, rest = _sub_once(_TODAY, text)
    if match is not None:
        word = match.group(1).lower()
        implied = PART_OF_DAY["tonight"] if word == "tonight" else None
        if word.startswith("this"):
            implied = PART_OF_DAY["evening"]
        return today, implied, None, rest
    match, rest = _sub_once(_END_OF, text)
    if match is not None:
        unit = match.group(1).lower()
        if unit == "day":
            return today, None, None, rest
        if unit == "week":
            return today + timedelta(days=(4 - today.weekday()) % 7), None, None, rest
        return _add_months(today.replace(day=1), 1) - timedelta(days=1), None, None, rest
    match, rest = _sub_once(_NEXT_WEEK, text)
    if match is not None:
        which, unit = match.group(1).lower(), match.group(2).lower()
        if unit == "week":
            monday = today - timedelta(days=today.weekday())
            return (monday + timedelta(days=7) if which == "next" else today), None, None, rest
        if unit == "weekend":
            saturday = _next_weekday(today, 5) if today.weekday() != 5 else today
            if which == "next" and saturday - today < timedelta(days=7):
                saturday += timedelta(days=7) if today.weekday() in (5, 6) else timedelta()
            return saturday, None, None, rest
        return _add_months(today.replace(day=1), 1), None, None, rest
    match, rest = _sub_once(_MONTH_DAY, text)
    if match is not None:
        month_name = match.group(1) or match.group(4)
        day_number = int(match.group(2) or match.group(3))
        year = int(match.group(5)) if match.group(5) else today.year
        try:
            day = date(year, MONTHS[month_name.lower()], day_number)
        except ValueError:
            day = None
        if day is not None:
            if match.group(5) is None and day < today:
                day = day.replace(year=day.year + 1)
            return day, None, None, rest
    match, rest = _sub_once(_DAY_OF_MONTH, text)
    if match is not None:
        # "on the 5th": the next 5th of a month, today included.
        number = int(match.group(1))
        candidate = today.replace(day=1)
        for _ in range(13):
            try:
                day = candidate.replace(day=number)
            except ValueError:
                day = None
            if day is not None and day >= today:
                return day, None, None, rest
            candidate = _add_months(candidate, 1)
    for match in _WEEKDAY.finditer(text):
        name = match.group(2).lower()
        if name in WEEKDAY_ABBREVIATIONS and match.group(1) is None:
            continue
        weekday = WEEKDAYS.get(name, WEEKDAY_ABBREVIATIONS.get(name))
        assert weekday is not None
        rest = f"{text[: match.start()]} {text[match.end() :]}"
        return _next_weekday(today, weekday), None, None, rest
    match, rest = _sub_once(_URDU_DAY_AFTER, text)
    if match is not None:
        return today + timedelta(days=2), None, None, rest
    match, rest = _sub_once(_URDU_NEXT_WEEK, text)
    if match is not None:
        return today - timedelta(days=today.weekday()) + timedelta(days=7), None, None, rest
    match, rest = _sub_once(_URDU_IN_DAYS, text)
    if match is not None:
        return today + timedelta(days=int(match.group(1))), None, None, rest
    match, rest = _sub_once(_URDU_TODAY, text)
    if match is not None:
        return today, None, None, rest
    match, rest = _sub_once(_URDU_TOMORROW, text)
    if match is not None:
        return today + timedelta(days=1), None, None, rest
    match, rest = _sub_once(_URDU_WEEKDAY, text)
    if match is not None:
        return _next_weekday(today, URDU_WEEKDAYS[match.group(1)]), None, None, rest
    return None, None, None, text


def extract_due(text: str, now: datetime) -> tuple[Due | None, str]:
    """Finds a due date/time in `text` (relative to `now`, the user's local time).

    Returns the due date (None when the text names none) and the text without the expression.
    """
    day, implied, moment, rest = _extract_day(text, now)
    if moment is not None:
        local = moment.replace(second=0, microsecond=0)
        return Due(local.date(), local.time()), _tidy(rest)
    at, rest = _extract_time(rest)
    at = at or implied
    if day is None and at is None:
        return None, text
    if day is None:
        assert at is not None
        # A bare time means its next occurrence: today if still ahead, else tomorrow.
        day = now.date() if at > now.time() else now.date() + timedelta(days=1)
    return Due(day, at), _tidy(rest)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,;")
    return _DANGLING.sub("", text).strip(" ,;")
