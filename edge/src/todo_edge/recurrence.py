"""How a task's RFC 5545 rule reads to a person: `repeats weekly on Mon`, `repeats every 2
days, 5 times`. One place for the REST `repeats` field, the web page and the chat's task cards.

The tasks service validated the rule; parts this does not know how to say are left out rather
than guessed, so the text never claims more than the rule does.
"""

from __future__ import annotations

_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_EVERY = {"DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly", "YEARLY": "yearly"}
_DAYS = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat", "SU": "Sun"}
_WEEKDAYS = ["MO", "TU", "WE", "TH", "FR"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}


def _parts(rule: str) -> dict[str, str]:
    return dict(part.partition("=")[::2] for part in rule.split(";") if "=" in part)


def _day(item: str) -> str:
    """`MO` → `Mon`; `-1FR` → `last Fri`; `2TU` → `second Tue`."""
    name = _DAYS.get(item[-2:], item[-2:])
    position = item[:-2]
    if not position:
        return name
    try:
        ordinal = _ORDINALS.get(int(position), f"#{int(position)}")
    except ValueError:
        return name
    return f"{ordinal} {name}"


def _until(value: str) -> str:
    """`20271231` or `20271231T235959Z` → `31 Dec 2027`."""
    if len(value) < 8 or not value[:8].isdigit():
        return value
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:8])
    if not 1 <= month <= 12:
        return value
    return f"{day} {_MONTHS[month - 1]} {year}"


def describe_recurrence(rule: str) -> str | None:
    """`repeats …` for a rule; None for a task that does not repeat."""
    if not rule:
        return None
    parts = _parts(rule)
    frequency = parts.get("FREQ", "")
    interval = int(parts["INTERVAL"]) if parts.get("INTERVAL", "").isdigit() else 1
    days = [item for item in parts.get("BYDAY", "").split(",") if item]
    if frequency in ("DAILY", "WEEKLY") and interval == 1 and days == _WEEKDAYS:
        text = "repeats on weekdays"
    elif interval > 1 and frequency in _UNITS:
        text = f"repeats every {interval} {_UNITS[frequency]}s"
    else:
        text = f"repeats {_EVERY.get(frequency, 'regularly')}"
    if days and text != "repeats on weekdays":
        text += " on " + ", ".join(_day(item) for item in days)
    month_days = parts.get("BYMONTHDAY")
    if month_days:
        labels = ["the last day" if d == "-1" else f"day {d}" for d in month_days.split(",")]
        text += " on " + ", ".join(labels)
    months = parts.get("BYMONTH")
    if months:
        names = [
            _MONTHS[int(m) - 1] for m in months.split(",") if m.isdigit() and 1 <= int(m) <= 12
        ]
        if names:
            text += " in " + ", ".join(names)
    if parts.get("COUNT", "").isdigit():
        count = int(parts["COUNT"])
        text += ", once" if count == 1 else f", {count} times"
    if "UNTIL" in parts:
        text += f", until {_until(parts['UNTIL'])}"
    return text
