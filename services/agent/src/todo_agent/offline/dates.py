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

from todo_agent.offline.patterns import rx, word

WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
# Short forms. Those that are also ordinary words in titles ("buy sun cream", "sat nav", "wed")
# are only read after a word like "on" or "next"; the others are no English word, so they are a
# weekday on their own too ("dentist tues 10am").
WEEKDAY_ABBREVIATIONS = {
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "weds": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
_ABBREVIATIONS_THAT_ARE_WORDS = frozenset(["sat", "sun", "wed"])
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
    "جمعے": 4,
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


_ISO = rx(_WORD, r"(?:on\s+|by\s+|due\s+)?(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2}))?", _END)
_DAY_AFTER_TOMORROW = rx(_WORD, r"(?:the\s+)?day\s+after\s+tomorrow", _END)
_TODAY = rx(
    _WORD,
    r"(?:by\s+|for\s+|due\s+|later\s+)?(today|tonight|this\s+(?:evening|afternoon|morning)|eod|",
    r"(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+)?day)",
    _END,
)
# A count as people say it: a digit run or a small number word ("3", "a", "three").
_COUNT = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)"
# "in 3 days", "3 days from now", "after 3 days", "a week from today", "in a fortnight".
_FROM_NOW = rx(
    _WORD,
    r"(?:(?:in|after)\s+)?",
    _COUNT,
    r"\s+",
    r"(days?|weeks?|months?|fortnights?)\s+(?:from\s+(?:now|today)|later|after\s+today)",
    r"|",
    _WORD,
    r"after\s+",
    _COUNT,
    r"\s+(days?|weeks?|months?)",
    r"|",
    _WORD,
    r"in\s+a\s+(fortnight)",
    _END,
)
_NEXT_DAY = rx(_WORD, r"(?:the\s+)?next\s+day", _END)
# Day/month, as a UK user writes it: "12/10" is 12 October.
_NUMERIC_DATE = re.compile(
    _WORD + r"(?:on\s+|by\s+|due\s+|for\s+)?(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?" + _END
)
_WEEKEND = rx(
    _WORD, r"(?:by\s+|for\s+|on\s+|over\s+|at\s+)?(?:sometime\s+)?(?:this|the)\s+weekend", _END
)
_EOM = rx(_WORD, r"(?:by\s+)?eom", _END)
_TOMORROW = rx(
    _WORD,
    r"(?:by\s+|for\s+|due\s+)?(tomorrow|tmrw|tmr)(\s+(?:morning|afternoon|evening|night))?",
    _END,
)
_DAY_OF_MONTH = rx(
    _WORD,
    r"(?:(?:on|by|due|for|before)\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)(?:\s+of\s+(?:the|this)\s+month)?",
    _END,
)
_WEEKDAY = rx(
    _WORD,
    r"(?:(on|next|this|coming|by|due|for|until|till)\s+(?:(?:next|this|coming)\s+)?)?(",
    "|".join(WEEKDAYS),
    "|",
    "|".join(WEEKDAY_ABBREVIATIONS),
    r")",
    r"(?![\w']|\u2019)",
)
_NEXT_WEEK = rx(_WORD, r"(?:by\s+|for\s+|due\s+)?(next|this)\s+(week|weekend|month)", _END)
_END_OF = rx(
    _WORD, r"(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(next\s+)?(day|week|month)", _END
)
_IN_N = rx(
    _WORD,
    r"in\s+(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a\s+couple\s+of|a\s+few)\s+",
    r"(minutes?|mins?|hours?|hrs?|days?|weeks?|months?)",
    _END,
)
_MONTH_DAY = rx(
    _WORD,
    r"(?:on\s+|by\s+|due\s+|for\s+)?(?:the\s+)?(?:(",
    "|".join(MONTHS),
    r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?|(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(",
    "|".join(MONTHS),
    r"))(?:,?\s+(\d{4}))?",
    _END,
)
_TIME = rx(
    _WORD,
    # "6.30pm" as well as "6:30pm": with am/pm a dot cannot be a decimal.
    r"(?:at\s+|@\s*|by\s+)?(?:(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)|(\d{1,2}):(\d{2})(?:\s*(?:h|hrs))?)",
    _END,
)
_SPOKEN_TIME = rx(
    _WORD, r"(?:at\s+|by\s+)?(half(?:\s+past)?|quarter\s+past|quarter\s+to)\s+(\d{1,2})(?![\w:/])"
)
_AT_HOUR = rx(_WORD, r"(?:at|by|before|@)\s+(\d{1,2})(?![\w:/])")
_PART = rx(
    _WORD,
    r"(?:(?:in\s+the|this|at|by)\s+)?(morning|afternoon|evening|night|noon|midday|midnight|",
    r"lunchtime|lunch\s+time|teatime)",
    _END,
)
# A part of the day that makes a bare hour pm ("every evening at 10" is 22:00).
_PM_HINT = rx(_WORD, r"(?:evening|night|tonight|afternoon)", _END)
URDU_MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "جنوری",
            "فروری",
            "مارچ",
            "اپریل",
            "مئی",
            "جون",
            "جولائی",
            "اگست",
            "ستمبر",
            "اکتوبر",
            "نومبر",
            "دسمبر",
        ),
        start=1,
    )
}
URDU_NUMBERS = {
    "ایک": 1,
    "دو": 2,
    "تین": 3,
    "چار": 4,
    "پانچ": 5,
    "چھ": 6,
    "سات": 7,
    "آٹھ": 8,
    "نو": 9,
    "دس": 10,
    "گیارہ": 11,
    "بارہ": 12,
}
_UR_NUMBER = r"(\d{1,2}|" + "|".join(URDU_NUMBERS) + r")"
# "5 بجے", "شام 5 بجے", "ساڑھے چھ بجے" (half past six).
_URDU_TIME = word(r"(?:(صبح|دوپہر|شام|رات)\s+)?(?:(ساڑھے)\s+)?", _UR_NUMBER, r"\s+بجے(?:\s+کو)?")
_URDU_PM = word(r"(?:دوپہر|شام|رات)")
_URDU_MONTH_DAY = word(r"(\d{1,2})\s+(", "|".join(URDU_MONTHS), r")(?:\s+کو)?")
_URDU_AFTER = word(_UR_NUMBER, r"\s+(دن|ہفتے|ہفتوں)\s+(?:میں|بعد)")
_URDU_END_OF_MONTH = word(r"مہینے\s+کے\s+آخر(?:\s+تک)?")
_URDU_NEXT_MONTH_DAY = word(r"اگلے\s+مہینے\s+کی\s+(\d{1,2})\s+تاریخ(?:\s+کو)?")
_URDU_NEXT_WEEKDAY = word(r"اگلے\s+(پیر|منگل|بدھ|جمعرات|جمعہ|جمعے|اتوار)(?:\s+کو)?")
_URDU_TODAY = word(r"آج")
_URDU_TOMORROW = word(r"کل")
_URDU_DAY_AFTER = word(r"پرسوں")
_URDU_NEXT_WEEK = word(r"اگلے\s+ہفتے")
_URDU_WEEKDAY = word(r"(", "|".join(URDU_WEEKDAYS), r")(?:\s+کو|\s+تک)?")
_URDU_PART = word(r"(صبح|دوپہر|شام|رات)(?:\s+کو)?")
_URDU_IN_DAYS = word(r"(\d+)\s+دن\s+(?:میں|بعد)")
_DANGLING = rx(r"(?:\s+(?:due|by|on|for|at|before|until|till|sometime|کو|تک))+\s*$")
# "sometime next week", "sometime on friday": "sometime" belongs to the date said after it.
_SOMETIME_LEAD = rx(r"^\s*sometime\s+")


def _next_weekday(today: date, weekday: int) -> date:
    """The next such weekday after today (a week ahead when today is that weekday)."""
    days = (weekday - today.weekday()) % 7
    return today + timedelta(days=days or 7)


def next_week_day(today: date, weekday: int) -> date:
    """ "next thursday": that weekday in next calendar week (Monday to Sunday)."""
    return today - timedelta(days=today.weekday()) + timedelta(days=7 + weekday)


def next_month_day(today: date, number: int) -> date | None:
    """ "on the 5th": the next 5th of a month, today included (None for no such day)."""
    candidate = today.replace(day=1)
    for _ in range(13):
        try:
            day = candidate.replace(day=number)
        except ValueError:
            day = None
        if day is not None and day >= today:
            return day
        candidate = _add_months(candidate, 1)
    return None


def _day_month(today: date, day: int, month: int, year: str | None) -> date | None:
    """A day and month with no year: the next one on or after today."""
    try:
        if year is not None:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        found = date(today.year, month, day)
    except ValueError:
        return None
    return found if found >= today else found.replace(year=today.year + 1)


def _urdu_number(word: str) -> int:
    return int(word) if word.isdigit() else URDU_NUMBERS.get(word, 1)


def _urdu_time(match: re.Match[str]) -> time:
    """ "شام 5 بجے" → 17:00; "ساڑھے چھ" → 6:30 (pm by the 1-6 rule); "صبح" makes it am."""
    part, half, number = match.group(1), match.group(2), match.group(3)
    hour = _urdu_number(number)
    hour = hour % 12 if part == "صبح" else bare_hour(hour, part in ("دوپہر", "شام", "رات"))
    return time(hour % 24, 30 if half else 0)


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


def bare_hour(hour: int, pm: bool) -> int:
    """An hour said without am/pm, as a person means it: 1-6 is afternoon or evening, 7-11
    morning, 12 noon; an evening word ("tonight", "شام") makes any hour pm."""
    if pm and hour < 12:
        return hour + 12
    return hour + 12 if 1 <= hour <= 6 else hour


def _extract_time(text: str, pm: bool) -> tuple[time | None, str]:
    match, rest = _sub_once(_SPOKEN_TIME, text)
    if match is not None:
        # "half 6" and "half past 6" are 6:30, "quarter to 7" is 6:45 (the 1-6 rule applies).
        said, hour = match.group(1).lower(), int(match.group(2))
        minute = {"half": 30, "quarter past": 15, "quarter to": 45}[
            re.sub(r"\s+", " ", said).replace("half past", "half")
        ]
        hour = bare_hour(hour - 1 if said.startswith("quarter") and "to" in said else hour, pm)
        if 0 <= hour < 24:
            return time(hour, minute), _strip_part(rest)
    match, rest = _sub_once(_TIME, text)
    if match is not None:
        if match.group(1) is not None:
            hour = _hour24(int(match.group(1)), match.group(3))
            minute = int(match.group(2) or 0)
        else:
            hour, minute = bare_hour(int(match.group(4)), pm), int(match.group(5))
        if 0 <= hour < 24 and 0 <= minute < 60:
            return time(hour, minute), _strip_part(rest)
    match, rest = _sub_once(_AT_HOUR, text)
    if match is not None:
        hour = bare_hour(int(match.group(1)), pm)
        if 0 <= hour < 24:
            return time(hour, 0), _strip_part(rest)
    match, rest = _sub_once(_URDU_TIME, text)
    if match is not None:
        return _urdu_time(match), _strip_part(rest)
    match, rest = _sub_once(_PART, text)
    if match is not None:
        # A part of the day without a clock time gives the day only; noon is a time.
        return PART_OF_DAY.get(match.group(1).lower()) if match.group(1).lower() in (
            "noon",
            "midday",
        ) else None, rest
    match, rest = _sub_once(_URDU_PART, text)
    if match is not None:
        return None, rest
    return None, text


_PART_WITH_LEAD = rx(_WORD, r"(?:in\s+the|this|at|by)\s+(?:morning|afternoon|evening|night)", _END)


def _strip_part(text: str) -> str:
    """Takes a part-of-day phrase that came with a clock time ("in the evening") off the rest;
    a bare word stays, since it may be the title's ("parents evening")."""
    return _sub_once(_URDU_PART, _sub_once(_PART_WITH_LEAD, text)[1])[1]


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
    match, rest = _sub_once(_NUMERIC_DATE, text)
    if match is not None:
        day = _day_month(today, int(match.group(1)), int(match.group(2)), match.group(3))
        if day is not None:
            return day, None, None, rest
    match, rest = _sub_once(_FROM_NOW, text)
    if match is not None:
        amount = _count(match.group(1) or match.group(3) or "1")
        unit = (match.group(2) or match.group(4) or match.group(5)).lower()
        if unit.startswith("fortnight"):
            return today + timedelta(weeks=2 * amount), None, None, rest
        if unit.startswith("week"):
            return today + timedelta(weeks=amount), None, None, rest
        if unit.startswith("month"):
            return _add_months(today, amount), None, None, rest
        return today + timedelta(days=amount), None, None, rest
    match, rest = _sub_once(_NEXT_DAY, text)
    if match is not None:
        return today + timedelta(days=1), None, None, rest
    match, rest = _sub_once(_WEEKEND, text)
    if match is not None:
        return _next_weekday(today, 5) if today.weekday() != 5 else today, None, None, rest
    match, rest = _sub_once(_EOM, text)
    if match is not None:
        return _add_months(today.replace(day=1), 1) - timedelta(days=1), None, None, rest
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
        # "tomorrow morning": the day only (the part of the day is no clock time).
        return today + timedelta(days=1), None, None, rest
    match, rest = _sub_once(_TODAY, text)
    if match is not None:
        # "tonight", "this evening", "end of day": the day only.
        return today, None, None, rest
    match, rest = _sub_once(_END_OF, text)
    if match is not None:
        later = 1 if match.group(1) else 0
        unit = match.group(2).lower()
        if unit == "day":
            return today + timedelta(days=later), None, None, rest
        if unit == "week":
            friday = today + timedelta(days=(4 - today.weekday()) % 7)
            return friday + timedelta(weeks=later), None, None, rest
        first = _add_months(today.replace(day=1), 1 + later)
        return first - timedelta(days=1), None, None, rest
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
        found = next_month_day(today, int(match.group(1)))
        if found is not None:
            return found, None, None, rest
    for match in _WEEKDAY.finditer(text):
        name = match.group(2).lower()
        if name in _ABBREVIATIONS_THAT_ARE_WORDS and match.group(1) is None:
            continue
        weekday = WEEKDAYS.get(name, WEEKDAY_ABBREVIATIONS.get(name))
        assert weekday is not None
        rest = f"{text[: match.start()]} {text[match.end() :]}"
        if "next" in match.group(0).lower():
            return next_week_day(today, weekday), None, None, rest
        return _next_weekday(today, weekday), None, None, rest
    match, rest = _sub_once(_URDU_NEXT_MONTH_DAY, text)
    if match is not None:
        try:
            return (
                _add_months(today.replace(day=1), 1).replace(day=int(match.group(1))),
                None,
                None,
                rest,
            )
        except ValueError:
            pass
    match, rest = _sub_once(_URDU_END_OF_MONTH, text)
    if match is not None:
        return _add_months(today.replace(day=1), 1) - timedelta(days=1), None, None, rest
    match, rest = _sub_once(_URDU_MONTH_DAY, text)
    if match is not None:
        day = _day_month(today, int(match.group(1)), URDU_MONTHS[match.group(2)], None)
        if day is not None:
            return day, None, None, rest
    match, rest = _sub_once(_URDU_AFTER, text)
    if match is not None:
        amount = _urdu_number(match.group(1))
        weeks = match.group(2) != "دن"
        return today + timedelta(days=amount * (7 if weeks else 1)), None, None, rest
    match, rest = _sub_once(_URDU_NEXT_WEEKDAY, text)
    if match is not None:
        name = "جمعہ" if match.group(1) == "جمعے" else match.group(1)
        return next_week_day(today, URDU_WEEKDAYS[name]), None, None, rest
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
    pm = _PM_HINT.search(text) is not None or _URDU_PM.search(text) is not None
    at, rest = _extract_time(rest, pm)
    at = at or implied
    if day is None and at is None:
        if _PART_WITH_LEAD.search(text) is None:
            return None, text
        # "in the afternoon": today, the day only.
        day, rest = now.date(), _sub_once(_PART_WITH_LEAD, rest)[1]
    if day is None:
        assert at is not None
        # A bare time means its next occurrence: today if still ahead, else tomorrow.
        day = now.date() if at > now.time() else now.date() + timedelta(days=1)
    return Due(day, at), _tidy(rest)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,;")
    return _SOMETIME_LEAD.sub("", _DANGLING.sub("", text)).strip(" ,;")


_BY_DAY = rx(_WORD, r"(by|before|until|till)\s+(.+)$")
# "in february", "anything planned for feb" (a month with no day after it).
_IN_MONTH = rx(_WORD, r"(?:in|during|for)\s+(", "|".join(MONTHS), r")\.?(?!\s*\d)", _END)
# "in the next 3 days": today and the three days after it.
_NEXT_DAYS = rx(
    _WORD, r"(?:(?:in|within|over|for)\s+)?(?:the\s+)?next\s+", _COUNT, r"\s+days?", _END
)
# "in the next week": the seven days from today, not next calendar week.
_ROLLING_WEEK = rx(
    _WORD, r"(?:in|within|over|during)\s+the\s+(?:next|coming)\s+(?:week|seven\s+days)", _END
)
_TODAY_OR_TOMORROW = rx(_WORD, r"today\s+(?:or|and|&)\s+tomorrow", _END)
_LIST_WEEKEND = rx(_WORD, r"(next\s+)?(?:this\s+|the\s+)?weekend", _END)


def extract_window(text: str, now: datetime) -> tuple[tuple[date, date] | None, bool, str]:
    """The days a request to see tasks names, beyond the fixed windows: (first day, last day)
    both included, whether open tasks already late belong too ("by friday" still has to
    include what is overdue), and a label for the reply ("due by Fri 17 Jan")."""
    today = now.date()
    saturday = _next_weekday(today, 5) if today.weekday() != 5 else today
    by = _BY_DAY.search(text)
    if by is not None:
        if re.match(r"(?:the\s+)?weekend", by.group(2), re.I):
            last = saturday - timedelta(days=1)
        else:
            due, _ = extract_due(by.group(2), now)
            if due is None:
                return None, False, ""
            last = due.day - timedelta(days=1 if by.group(1).lower() == "before" else 0)
        return (today, last), True, f"due by {last.strftime('%a %-d %b')}"
    ahead = _NEXT_DAYS.search(text)
    if ahead is not None:
        last = today + timedelta(days=_count(ahead.group(1)))
        return (today, last), False, f"due by {last.strftime('%a %-d %b')}"
    if _ROLLING_WEEK.search(text):
        last = today + timedelta(days=7)
        return (today, last), False, f"due by {last.strftime('%a %-d %b')}"
    if _TODAY_OR_TOMORROW.search(text):
        last = today + timedelta(days=1)
        return (today, last), False, "due today or tomorrow"
    weekend = _LIST_WEEKEND.search(text)
    if weekend is not None:
        first = saturday + timedelta(days=7 if weekend.group(1) else 0)
        return (first, first + timedelta(days=1)), False, "due at the weekend"
    month = _IN_MONTH.search(text)
    if month is not None:
        number = MONTHS[month.group(1).lower()]
        year = today.year + (1 if number < today.month else 0)
        first = date(year, number, 1)
        return (first, _add_months(first, 1) - timedelta(days=1)), False, f"due in {first:%B}"
    due, _ = extract_due(text, now)
    if due is None or (due.at is not None and due.day == today + timedelta(days=1)):
        # A bare time alone is no day to list ("what's at 5?").
        return None, False, ""
    return (due.day, due.day), False, f"due {due.day.strftime('%a %-d %b')}"
