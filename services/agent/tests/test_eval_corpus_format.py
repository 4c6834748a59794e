"""Format check of the offline assistant's evaluation corpus (`services/agent/eval/offline/`).

The corpus is data only: this validates its shape against the rules in that folder's README
(every line parses, ids unique, categories known, dates well-formed, expectations name seeded
tasks) without importing the offline model, so the test set stays independent of it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

CORPUS_DIR = Path(__file__).resolve().parents[1] / "eval" / "offline"
# `fresh.jsonl` is a second working set, written later for phrasings the first did not have.
FILES = ("dev.jsonl", "fresh.jsonl", "holdout.jsonl")

# The fixed clock every case runs at (Europe/London local time).
NOW = datetime(2031, 1, 15, 9, 0)

CATEGORIES = {
    "add_verb", "add_noun", "add_multi", "list_state", "list_window", "complete", "delete",
    "reschedule", "priority", "rename", "tags", "search", "typo", "recurrence", "bulk", "undo",
    "refuse", "smalltalk", "reference", "urdu",
}  # fmt: skip
BIG_CATEGORIES = {"add_verb", "add_noun", "list_window", "complete", "urdu"}
MIN_DEV, MIN_HOLDOUT = 330, 110
MIN_DEV_PER_CATEGORY, MIN_DEV_PER_BIG_CATEGORY = 12, 25

OUTCOMES = {"change", "show", "ask", "decline", "chat"}
FEATURES = {"recurrence", "bulk", "undo", "reminders"}
PRIORITIES = {"low", "medium", "high"}
STATES = {"open", "completed"}

# `plan` (fresh.jsonl only): the calls the model must make to tools not on main yet, scored at
# planner level: a list of {"tool": name, "arguments": {...}}, "@Title" standing for an id.
CASE_KEYS = {"id", "category", "lang", "text", "tasks", "history", "expect", "plan"}
REQUIRED_CASE_KEYS = CASE_KEYS - {"history", "plan"}
TASK_KEYS = {"title", "due", "priority", "tags", "state", "notes"}
CREATED_KEYS = {"title", "title_alts", "due", "priority", "tags", "notes", "recurrence", "reminder"}
SET_KEYS = {"title", "due", "priority", "tags", "notes", "recurrence", "reminder"}
CHANGE_LISTS = ("created", "completed", "reopened", "deleted", "updated")
EXPECT_KEYS = {
    "change": {"outcome", "until_supported", *CHANGE_LISTS},
    "show": {"outcome", "until_supported", "shown"},
    "ask": {"outcome", "until_supported", "mentions"},
    "decline": {"outcome", "until_supported", "mentions"},
    "chat": {"outcome", "until_supported", "mentions"},
}
# Fields the tasks service does not have yet: only allowed where a fallback says what to do
# until the feature exists.
FUTURE_FIELDS = {"recurrence": "recurrence", "reminder": "reminders"}

ID_RE = re.compile(r"^[a-z]+(?:-[a-z]+)*-\d{3}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
RRULE_PART_RE = re.compile(
    r"^(?:INTERVAL=[1-9]\d*|BYMONTHDAY=(?:[1-9]|[12]\d|3[01])|BYMONTH=(?:[1-9]|1[0-2])"
    r"|BYDAY=(?:-?[1-5])?(?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:-?[1-5])?(?:MO|TU|WE|TH|FR|SA|SU))*)$"
)
RRULE_FREQS = {"FREQ=DAILY", "FREQ=WEEKLY", "FREQ=MONTHLY", "FREQ=YEARLY"}


def parse_moment(value: str) -> datetime | None:
    """A corpus date (`YYYY-MM-DD`, meaning the end of that day) or local date-time
    (`YYYY-MM-DDTHH:MM`) as a naive local datetime; None when malformed."""
    try:
        if DATE_RE.match(value):
            return datetime.combine(date.fromisoformat(value), datetime.max.time())
        if DATETIME_RE.match(value):
            return datetime.fromisoformat(value)
    except ValueError:
        return None
    return None


def rrule_errors(rule: object) -> list[str]:
    if not isinstance(rule, str):
        return [f"recurrence {rule!r} is not an RRULE string"]
    parts = rule.split(";")
    if parts[0] not in RRULE_FREQS:
        return [f"recurrence {rule!r} must start with FREQ=DAILY|WEEKLY|MONTHLY|YEARLY"]
    return [f"recurrence {rule!r}: bad part {p!r}" for p in parts[1:] if not RRULE_PART_RE.match(p)]


def tags_errors(tags: object, where: str) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return [f"{where}: tags must be a list of strings"]
    errors = [
        f"{where}: tag {t!r} must be lower-case, without '#' or spaces"
        for t in tags
        if not t or t != t.strip().lower() or t.startswith("#") or " " in t
    ]
    if len(set(tags)) != len(tags):
        errors.append(f"{where}: duplicate tags {tags}")
    return errors


def future_due_errors(value: object, where: str) -> list[str]:
    """A due date a change sets: well-formed and not already past at the fixed clock."""
    if not isinstance(value, str):
        return [f"{where}: due must be a string"]
    moment = parse_moment(value)
    if moment is None:
        return [f"{where}: due {value!r} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM"]
    if moment < NOW:
        return [f"{where}: due {value!r} is before the clock (2031-01-15T09:00)"]
    return []


def label_errors(fields: dict[str, Any], where: str) -> list[str]:
    """Priority, tags and notes: the same rules for a seeded task, a created one and an
    update."""
    errors: list[str] = []
    if "priority" in fields and fields["priority"] not in PRIORITIES:
        errors.append(f"{where}: priority {fields['priority']!r}")
    if "tags" in fields:
        errors += tags_errors(fields["tags"], where)
    if "notes" in fields and not isinstance(fields["notes"], str):
        errors.append(f"{where}: notes must be a string")
    return errors


def task_errors(task: object, where: str) -> list[str]:
    if not isinstance(task, dict):
        return [f"{where}: not an object"]
    errors = [f"{where}: unknown key {k!r}" for k in task if k not in TASK_KEYS]
    title = task.get("title")
    if not isinstance(title, str) or not title.strip() or title != title.strip():
        errors.append(f"{where}: title must be a non-empty trimmed string")
    if "due" in task and (not isinstance(task["due"], str) or parse_moment(task["due"]) is None):
        errors.append(f"{where}: due {task['due']!r} is not a date or local date-time")
    if "state" in task and task["state"] not in STATES:
        errors.append(f"{where}: state {task['state']!r}")
    return errors + label_errors(task, where)


def value_errors(fields: dict[str, Any], where: str) -> list[str]:
    """The fields a created task and an update share: due, priority, tags, notes and the
    future fields. In an update, `null` clears a due date or a recurrence."""
    errors = label_errors(fields, where)
    if fields.get("due") is not None:
        errors += future_due_errors(fields["due"], where)
    if fields.get("recurrence") is not None:
        errors += rrule_errors(fields["recurrence"])
    if "reminder" in fields:
        errors += future_due_errors(fields["reminder"], f"{where} reminder")
    return errors


def created_errors(item: object, where: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where}: not an object"]
    errors = [f"{where}: unknown key {k!r}" for k in item if k not in CREATED_KEYS]
    titles = [item.get("title"), *item.get("title_alts", [])]
    for title in titles:
        if not isinstance(title, str) or not title.strip() or title != title.strip():
            errors.append(f"{where}: title {title!r} must be a non-empty trimmed string")
        elif title[0] != title[0].upper():
            errors.append(f"{where}: title {title!r} must start with a capital letter")
    if "due" in item and item["due"] is None:
        errors.append(f"{where}: leave due out instead of null")
    if "recurrence" in item and item["recurrence"] is None:
        errors.append(f"{where}: leave recurrence out instead of null")
    return errors + value_errors(item, where)


def set_errors(fields: object, where: str) -> list[str]:
    if not isinstance(fields, dict) or not fields:
        return [f"{where}: set must be a non-empty object"]
    errors = [f"{where}: unknown field {k!r}" for k in fields if k not in SET_KEYS]
    if "title" in fields and (not isinstance(fields["title"], str) or not fields["title"].strip()):
        errors.append(f"{where}: new title must be a non-empty string")
    return errors + value_errors(fields, where)


def future_fields_used(expect: dict[str, Any]) -> set[str]:
    """The features whose not-yet-existing fields an expectation relies on."""
    used: set[str] = set()
    entries = [*expect.get("created", []), *(u.get("set", {}) for u in expect.get("updated", []))]
    for entry in entries:
        if isinstance(entry, dict):
            used |= {feature for field, feature in FUTURE_FIELDS.items() if field in entry}
    return used


def expect_errors(
    expect: object, seeded: dict[str, dict[str, Any]], where: str, nested: bool = False
) -> list[str]:
    """Checks one expectation (or an `until_supported` fallback) against the seeded tasks,
    which are keyed by case-folded title."""
    if not isinstance(expect, dict):
        return [f"{where}: not an object"]
    outcome = expect.get("outcome")
    if outcome not in OUTCOMES:
        return [f"{where}: outcome {outcome!r} is not one of {sorted(OUTCOMES)}"]
    errors = [
        f"{where}: key {k!r} not allowed for {outcome}"
        for k in expect
        if k not in EXPECT_KEYS[outcome]
    ]
    if outcome == "change":
        if not any(expect.get(k) for k in CHANGE_LISTS):
            errors.append(f"{where}: a change must list at least one change")
        for i, item in enumerate(expect.get("created", [])):
            errors += created_errors(item, f"{where} created[{i}]")
        touched: list[str] = []
        for kind in ("completed", "reopened", "deleted"):
            for title in expect.get(kind, []):
                key = title.casefold() if isinstance(title, str) else ""
                touched.append(key)
                if key not in seeded:
                    errors.append(f"{where}: {kind} {title!r} is not a seeded task")
                elif kind == "completed" and seeded[key].get("state", "open") != "open":
                    errors.append(f"{where}: completed {title!r} is not open")
                elif kind == "reopened" and seeded[key].get("state") != "completed":
                    errors.append(f"{where}: reopened {title!r} is not completed")
        for i, update in enumerate(expect.get("updated", [])):
            title = update.get("title") if isinstance(update, dict) else None
            key = title.casefold() if isinstance(title, str) else ""
            touched.append(key)
            if key not in seeded:
                errors.append(f"{where}: updated {title!r} is not a seeded task")
            if isinstance(update, dict):
                errors += [
                    f"{where} updated[{i}]: unknown key {k!r}"
                    for k in update
                    if k not in {"title", "set"}
                ]
                errors += set_errors(update.get("set"), f"{where} updated[{i}]")
        duplicates = [t for t, n in Counter(touched).items() if n > 1]
        if duplicates:
            errors.append(f"{where}: tasks changed twice: {duplicates}")
    if outcome == "show":
        shown = expect.get("shown")
        if not isinstance(shown, list):
            errors.append(f"{where}: show needs a 'shown' list")
        else:
            keys = [t.casefold() for t in shown if isinstance(t, str)]
            errors += [
                f"{where}: shown {t!r} is not a seeded task"
                for t in shown
                if not isinstance(t, str) or t.casefold() not in seeded
            ]
            if len(set(keys)) != len(keys):
                errors.append(f"{where}: shown lists a task twice")
    if "mentions" in expect:
        mentions = expect["mentions"]
        if not isinstance(mentions, list) or not all(
            isinstance(m, str) and m.strip() for m in mentions
        ):
            errors.append(f"{where}: mentions must be a list of non-empty strings")
    if "until_supported" in expect:
        fallback = expect["until_supported"]
        if nested:
            errors.append(f"{where}: until_supported cannot nest")
        elif not isinstance(fallback, dict) or fallback.get("feature") not in FEATURES:
            errors.append(f"{where}: until_supported needs a feature in {sorted(FEATURES)}")
        else:
            body = {k: v for k, v in fallback.items() if k != "feature"}
            errors += expect_errors(body, seeded, f"{where} until_supported", nested=True)
            if future_fields_used(body):
                errors.append(f"{where}: the until_supported fallback uses a future field")
    if not nested:
        needs = future_fields_used(expect)
        fallback_feature = (expect.get("until_supported") or {}).get("feature")
        for feature in needs:
            if feature != fallback_feature:
                errors.append(
                    f"{where}: uses a {feature} field without an until_supported {feature} fallback"
                )
    return errors


def history_errors(history: object, where: str) -> list[str]:
    if not isinstance(history, list) or not history:
        return [f"{where}: history must be a non-empty list when present"]
    errors: list[str] = []
    for i, turn in enumerate(history):
        want = "user" if i % 2 == 0 else "assistant"
        if not isinstance(turn, dict) or set(turn) != {"role", "text"}:
            errors.append(f"{where}: history[{i}] must be {{role, text}}")
        elif turn["role"] != want or not isinstance(turn["text"], str) or not turn["text"].strip():
            errors.append(f"{where}: history[{i}] must be a non-empty {want} turn")
    if len(history) % 2:
        errors.append(f"{where}: history must end with an assistant turn")
    return errors


def plan_errors(plan: object, where: str) -> list[str]:
    """A planner-level expectation: a list of {"tool": name, "arguments": object}."""
    if not isinstance(plan, list):
        return [f"{where}: plan must be a list of calls"]
    return [
        f"{where}: plan[{i}] must be {{'tool': str, 'arguments': object}}"
        for i, step in enumerate(plan)
        if not isinstance(step, dict)
        or set(step) != {"tool", "arguments"}
        or not isinstance(step["tool"], str)
        or not isinstance(step["arguments"], dict)
    ]


def case_errors(case: object) -> list[str]:
    """Every rule one case breaks, as readable messages (empty when the case is well-formed)."""
    if not isinstance(case, dict):
        return ["case is not a JSON object"]
    where = str(case.get("id", "<no id>"))
    errors = [f"{where}: missing {k!r}" for k in sorted(REQUIRED_CASE_KEYS - set(case))]
    errors += [f"{where}: unknown key {k!r}" for k in case if k not in CASE_KEYS]
    if errors:
        return errors
    category = case["category"]
    if category not in CATEGORIES:
        errors.append(f"{where}: unknown category {category!r}")
    elif not ID_RE.match(case["id"]) or not case["id"].startswith(category.replace("_", "-") + "-"):
        errors.append(f"{where}: id must be '<category with dashes>-NNN'")
    if case["lang"] not in {"en", "ur"} or (case["lang"] == "ur") != (category == "urdu"):
        errors.append(f"{where}: lang must be 'ur' exactly for the urdu category, else 'en'")
    if "plan" in case:
        errors += plan_errors(case["plan"], where)
    text = case["text"]
    if not isinstance(text, str) or not text.strip() or len(text) > 2000:
        errors.append(f"{where}: text must be a non-empty string of at most 2000 characters")
    tasks = case["tasks"]
    if not isinstance(tasks, list):
        return [*errors, f"{where}: tasks must be a list"]
    seeded: dict[str, dict[str, Any]] = {}
    for i, task in enumerate(tasks):
        task_where = f"{where} tasks[{i}]"
        errors += task_errors(task, task_where)
        if isinstance(task, dict) and isinstance(task.get("title"), str):
            key = task["title"].casefold()
            if key in seeded:
                errors.append(f"{task_where}: title {task['title']!r} seeded twice")
            seeded[key] = task
    # A reply shows a task when the task's title appears in it, so no seeded title may
    # contain another.
    for a in seeded:
        for b in seeded:
            if a != b and a in b:
                errors.append(f"{where}: seeded title {a!r} is inside {b!r}")
    if "history" in case:
        errors += history_errors(case["history"], where)
    errors += expect_errors(case["expect"], seeded, f"{where} expect")
    return errors


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for number, line in enumerate((CORPUS_DIR / name).read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{name}:{number}: blank line"
        case = json.loads(line)
        assert isinstance(case, dict), f"{name}:{number}: not a JSON object"
        cases.append(case)
    return cases


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[dict[str, Any]]]:
    return {name: load(name) for name in FILES}


def test_every_case_is_well_formed(corpus: dict[str, list[dict[str, Any]]]) -> None:
    errors = [e for cases in corpus.values() for case in cases for e in case_errors(case)]
    assert errors == [], "\n".join(errors[:50])


def test_ids_are_unique_across_the_files(corpus: dict[str, list[dict[str, Any]]]) -> None:
    ids = Counter(case["id"] for cases in corpus.values() for case in cases)
    assert [i for i, n in ids.items() if n > 1] == []


def test_no_case_is_repeated(corpus: dict[str, list[dict[str, Any]]]) -> None:
    def key(case: dict[str, Any]) -> str:
        return json.dumps(
            [case["text"].strip().casefold(), case.get("history")], ensure_ascii=False
        )

    keys = Counter(key(case) for cases in corpus.values() for case in cases)
    assert [k for k, n in keys.items() if n > 1] == []


def test_sizes_and_category_spread(corpus: dict[str, list[dict[str, Any]]]) -> None:
    dev, holdout = corpus["dev.jsonl"], corpus["holdout.jsonl"]
    assert len(dev) >= MIN_DEV
    assert len(holdout) >= MIN_HOLDOUT
    dev_counts = Counter(case["category"] for case in dev)
    holdout_counts = Counter(case["category"] for case in holdout)
    for category in CATEGORIES:
        floor = MIN_DEV_PER_BIG_CATEGORY if category in BIG_CATEGORIES else MIN_DEV_PER_CATEGORY
        assert dev_counts[category] >= floor, category
        # The holdout set mirrors dev's spread: between a fifth and a half of dev's count.
        assert dev_counts[category] / 5 <= holdout_counts[category] <= dev_counts[category] / 2, (
            category
        )


def test_the_check_catches_broken_cases() -> None:
    good: dict[str, Any] = {
        "id": "complete-999",
        "category": "complete",
        "lang": "en",
        "text": "got the bread",
        "tasks": [{"title": "Buy bread", "due": "2031-01-15"}, {"title": "Call mum"}],
        "expect": {"outcome": "change", "completed": ["Buy bread"]},
    }
    assert case_errors(good) == []
    broken: list[tuple[str, Any, str]] = [
        ("category", "completing", "unknown category"),
        ("lang", "ur", "lang must be"),
        ("expect", {"outcome": "change", "completed": ["Buy milk"]}, "not a seeded task"),
        ("expect", {"outcome": "change", "reopened": ["Buy bread"]}, "is not completed"),
        ("expect", {"outcome": "change"}, "at least one change"),
        ("expect", {"outcome": "maybe"}, "outcome"),
        ("expect", {"outcome": "show", "shown": ["Bread"]}, "not a seeded task"),
        (
            "expect",
            {"outcome": "change", "created": [{"title": "Buy eggs", "due": "2031-02-30"}]},
            "not YYYY-MM-DD",
        ),
        (
            "expect",
            {"outcome": "change", "created": [{"title": "Buy eggs", "due": "2031-01-14"}]},
            "before the clock",
        ),
        ("expect", {"outcome": "change", "created": [{"title": "buy eggs"}]}, "capital letter"),
        (
            "expect",
            {
                "outcome": "change",
                "updated": [{"title": "Call mum", "set": {"priority": "urgent"}}],
            },
            "priority",
        ),
        (
            "expect",
            {"outcome": "change", "created": [{"title": "Gym", "recurrence": "FREQ=DAILY"}]},
            "fallback",
        ),
        (
            "expect",
            {"outcome": "ask", "until_supported": {"feature": "teleport", "outcome": "decline"}},
            "feature",
        ),
        ("tasks", [{"title": "Buy bread"}, {"title": "Buy bread rolls"}], "is inside"),
        ("tasks", [{"title": "Buy bread", "tags": ["#Home"]}], "lower-case"),
        ("history", [{"role": "user", "text": "add it"}], "end with an assistant"),
    ]
    for field, value, message in broken:
        case = {**good, field: value}
        errors = case_errors(case)
        assert any(message in e for e in errors), (field, value, errors)
