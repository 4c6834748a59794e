"""Recurring tasks: RFC 5545 RRULE values checked and expanded with python-dateutil.

A rule is read in the task's IANA time zone from the first due time of its series (the rule's
DTSTART), so "every Monday at 09:00" stays at 09:00 local time when daylight saving begins or
ends: dateutil steps wall-clock times, and each occurrence is converted to UTC on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

from todo_tasks.models import RECURRENCE_MAX, TIME_ZONE_MAX

# FREQ values a task may repeat at: a task every minute or second is a mistake, not a plan.
ALLOWED_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
# The rule parts a task may use. The time of day comes from the due time (no BYHOUR...), and
# the parts that can select nothing in every period (BYSETPOS, BYWEEKNO, BYYEARDAY) are left
# out: dateutil walks period after period until it finds an occurrence, so a rule that never
# occurs (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) would walk to the year 9999, ~14 s of CPU.
# With these parts the remaining never-occurring combinations are refused below.
ALLOWED_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST")
MAX_INTERVAL = 1000
# The longest each month can be (February in a leap year).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Any valid start: only the rule itself is checked against it.
_PROBE_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def normalise_rule(raw: str) -> str:
    """The rule as stored: surrounding space and an `RRULE:` prefix removed, upper-cased."""
    rule = raw.strip()
    if rule[:6].upper() == "RRULE:":
        rule = rule[6:]
    return rule.strip().upper()


def rule_problem(rule: str) -> str | None:
    """Why a normalised rule is not acceptable, or None when it is (or is empty)."""
    if not rule:
        return None
    if len(rule) > RECURRENCE_MAX:
        return f"must be at most {RECURRENCE_MAX} characters."
    if any(ch in rule for ch in "\r\n\x00"):
        return "must be one RRULE value on one line, e.g. FREQ=WEEKLY;BYDAY=MO."
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not name or not value:
            return f"'{part}' is not NAME=VALUE; write e.g. FREQ=WEEKLY;BYDAY=MO."
        if name not in ALLOWED_PARTS:
            return f"{name} is not supported; use {', '.join(ALLOWED_PARTS)}."
        if name in parts:
            return f"{name} appears twice."
        parts[name] = value
    frequency = parts.get("FREQ")
    if frequency is None:
        return "FREQ is required, e.g. FREQ=WEEKLY."
    if frequency not in ALLOWED_FREQUENCIES:
        return "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY."
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or not 1 <= int(interval) <= MAX_INTERVAL:
        return f"INTERVAL must be a whole number from 1 to {MAX_INTERVAL}."
    if "COUNT" in parts and "UNTIL" in parts:
        return "COUNT and UNTIL cannot both be set."
    until = parts.get("UNTIL")
    if until is not None and "T" in until and not until.endswith("Z"):
        return "UNTIL with a time must be in UTC (end it with Z), e.g. UNTIL=20271231T235959Z."
    try:
        _rule(rule, _PROBE_START)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as error:
        return f"is not a valid RFC 5545 RRULE: {error}."
    return _never_occurs(parts)


def _numbers(value: str | None) -> list[int]:
    """A comma-separated list of (signed) integers; syntax was checked by dateutil."""
    return [int(item) for item in value.split(",")] if value else []


def _never_occurs(parts: dict[str, str]) -> str | None:
    """Why a rule that parsed can never produce an occurrence, or None."""
    months = _numbers(parts.get("BYMONTH")) or list(range(1, 13))
    if not all(1 <= month <= 12 for month in months):
        return "BYMONTH values must be 1 to 12."
    if "COUNT" in parts and int(parts["COUNT"]) < 1:
        return "COUNT must be at least 1."
    if any(day == 0 for day in _numbers(parts.get("BYMONTHDAY"))):
        return "BYMONTHDAY values must be 1 to 31 or -31 to -1."
    longest = max(_MONTH_DAYS[month - 1] for month in months)
    for day in _numbers(parts.get("BYMONTHDAY")):
        if abs(day) > longest:
            return f"BYMONTHDAY={day} never occurs in the months it allows."
    ordinals = [item[:-2] for item in parts.get("BYDAY", "").split(",") if item[:-2]]
    if ordinals and "BYMONTHDAY" in parts:
        return "BYDAY with a position (e.g. 1MO) cannot be combined with BYMONTHDAY."
    in_month = parts["FREQ"] == "MONTHLY" or "BYMONTH" in parts
    for ordinal in ordinals:
        if in_month and abs(int(ordinal)) > 5:
            return f"BYDAY={ordinal}.. never occurs: a month has at most five of a weekday."
    return None


def time_zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone (None when it is, or is empty for UTC)."""
    if not name:
        return None
    if len(name) > TIME_ZONE_MAX or "\x00" in name:
        return f"must be an IANA time zone name of at most {TIME_ZONE_MAX} characters."
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"'{name}' is not an IANA time zone, e.g. Europe/London or America/New_York."
    return None


def zone_of(name: str) -> tzinfo:
    """The time zone a task's rule is read in (UTC when unset). `name` was validated."""
    return ZoneInfo(name) if name else UTC


def _rule(rule: str, start: datetime) -> rrule.rrule:
    # UNTIL dates without a time (20271231) are compared as naive datetimes by dateutil; a
    # zoned start needs an aware UNTIL, so a bare date means the end of that day in UTC.
    parts = [
        f"UNTIL={part[6:]}T235959Z"
        if part.startswith("UNTIL=") and len(part) == 14 and part[6:].isdigit()
        else part
        for part in rule.split(";")
    ]
    parsed = rrule.rrulestr(";".join(parts), dtstart=start)
    assert isinstance(parsed, rrule.rrule)  # one RRULE line, never an rruleset
    return parsed


def next_occurrence(
    rule: str, zone_name: str, series_start: datetime, after: datetime
) -> datetime | None:
    """The first occurrence of the series strictly after `after`, as aware UTC; None when the
    rule has ended (COUNT or UNTIL)."""
    zone = zone_of(zone_name)
    found = _rule(rule, series_start.astimezone(zone)).after(after.astimezone(zone), inc=False)
    return None if found is None else found.astimezone(UTC)


def first_occurrence(rule: str, zone_name: str, now: datetime) -> datetime:
    """Where a repeating task without a due time starts: the rule's first occurrence at or
    after `now` (to the minute), in the task's time zone; `now` itself when the rule has no
    occurrence (a rule that ended before it began)."""
    zone = zone_of(zone_name)
    start = now.astimezone(zone).replace(second=0, microsecond=0)
    found = _rule(rule, start).after(start, inc=True)
    return (found or start).astimezone(UTC)
