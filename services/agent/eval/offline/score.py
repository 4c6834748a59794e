"""Scores the offline model on the evaluation corpus (`dev.jsonl`, `holdout.jsonl`).

Each case runs through the real path: a real auth server, a real tasks server on a fresh SQLite
database (PostgreSQL when TEST_DATABASE_URL is set) and a real agent server with the offline
model on the corpus clock (Wed 15 Jan 2031 09:00 Europe/London). A fresh user is seeded with the
case's tasks, one Respond call is made, and the tasks before and after are compared as
`README.md` prescribes ("Scoring"). Why a whole stack: the score must measure what a user gets,
tool calls and tasks service included, not what the grammar alone returns.

    .venv/bin/python services/agent/eval/offline/score.py dev            # failures listed
    .venv/bin/python services/agent/eval/offline/score.py holdout        # totals only
    .venv/bin/python services/agent/eval/offline/score.py dev --only urdu --verbose
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import todo_tasks.service
from google.protobuf import timestamp_pb2
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_agent.offline.conversation import ToolCall, Turn
from todo_agent.offline.grammar import is_urdu, parse
from todo_agent.offline.planner import Planner
from todo_testkit.agent import FIXED_NOW, fixed_clock, respond, running_agent_service
from todo_testkit.auth import running_auth_service, sign_up_user
from todo_testkit.tasks import TaskCaller, running_tasks_service

HERE = Path(__file__).resolve().parent
ZONE = ZoneInfo("Europe/London")
PRIORITY_PB = {
    "low": tasks_pb.TASK_PRIORITY_LOW,
    "medium": tasks_pb.TASK_PRIORITY_MEDIUM,
    "high": tasks_pb.TASK_PRIORITY_HIGH,
}
PRIORITY_NAME = {value: key for key, value in PRIORITY_PB.items()}
NOT_UNDERSTOOD = (
    "didn't understand",
    "did not understand",
    "don't understand",
    "do not understand",
    "couldn't understand",
    "could not understand",
    "not understood",
    "سمجھ نہیں",
    "نہیں سمجھ",
)
INABILITY = (
    "can't",
    "cannot",
    "can not",
    "unable",
    "not able to",
    "don't support",
    "doesn't support",
    "do not support",
    "does not support",
    "not supported",
    "isn't supported",
    "not possible",
    "no way to",
    "one at a time",
    "نہیں کر سکت",
    "نہیں سکت",
    "نہیں ہو سکت",
    "ممکن نہیں",
    "سہولت نہیں",
)
FIELDS = ("title", "due", "priority", "tags", "notes", "recurrence")
# Features the tasks service and the tools on main have; the others are scored at planner level.
SUPPORTED_ON_MAIN = "recurrence,undo"


def norm_rule(rule: str | None) -> frozenset[str]:
    """An RRULE as the README compares it: a set of KEY=VALUE parts, BYDAY as a set, no
    INTERVAL=1 (empty for no rule)."""
    if not rule:
        return frozenset()
    parts: set[str] = set()
    for part in rule.upper().removeprefix("RRULE:").split(";"):
        key, _, value = part.partition("=")
        if key == "INTERVAL" and value == "1":
            continue
        if key == "BYDAY":
            parts |= {f"BYDAY={day}" for day in value.split(",")}
        else:
            parts.add(f"{key}={value}")
    return frozenset(parts)


def norm_title(text: str) -> str:
    """The README's title normalisation."""
    text = " ".join(text.replace("\u2019", "'").split())
    return text.rstrip(".!?\u061f\u06d4").strip().casefold()


def norm_reply(text: str) -> str:
    """The README's reply normalisation."""
    return text.replace("\u2019", "'").casefold()


def due_stamp(value: str) -> timestamp_pb2.Timestamp:
    """A corpus date (23:59 local) or date-time (that local minute) as a timestamp."""
    if "T" in value:
        moment = datetime.fromisoformat(value).replace(tzinfo=ZONE)
    else:
        moment = datetime.combine(datetime.fromisoformat(value).date(), time(23, 59), ZONE)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def due_text(task: tasks_pb.Task) -> str | None:
    """A stored due time in the corpus's form."""
    if not task.HasField("due_time"):
        return None
    local = task.due_time.ToDatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(ZONE)
    if (local.hour, local.minute) == (23, 59):
        return local.date().isoformat()
    return local.strftime("%Y-%m-%dT%H:%M")


def fields_of(task: tasks_pb.Task) -> dict[str, Any]:
    return {
        "title": task.title,
        "due": due_text(task),
        "priority": PRIORITY_NAME.get(task.priority, "medium"),
        "tags": frozenset(t.lower() for t in task.tags),
        "notes": task.notes.strip().casefold(),
        "recurrence": norm_rule(task.recurrence),
        "state": "completed" if task.state == tasks_pb.TASK_STATE_COMPLETED else "open",
    }


@dataclass
class Observed:
    """What one turn did to the user's tasks, by seeded title (created tasks by their fields)."""

    created: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    updated: dict[str, dict[str, Any]] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.created or self.deleted or self.completed or self.reopened or self.updated)

    def describe(self) -> str:
        parts = []
        for task in self.created:
            shown = {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in task.items()}
            parts.append(f"created {shown}")
        parts += [f"deleted {t!r}" for t in self.deleted]
        parts += [f"completed {t!r}" for t in self.completed]
        parts += [f"reopened {t!r}" for t in self.reopened]
        for title, changes in self.updated.items():
            shown = {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in changes.items()}
            parts.append(f"updated {title!r} {shown}")
        return "; ".join(parts) or "no change"


def diff(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> Observed:
    observed = Observed()
    for task_id, fields in after.items():
        if task_id not in before:
            observed.created.append({k: fields[k] for k in FIELDS})
    for task_id, old in before.items():
        title = old["title"]
        new = after.get(task_id)
        if new is None:
            observed.deleted.append(title)
            continue
        if old["state"] != new["state"]:
            (observed.completed if new["state"] == "completed" else observed.reopened).append(title)
        changes = {k: new[k] for k in FIELDS if new[k] != old[k]}
        if changes:
            observed.updated[title] = changes
    return observed


def created_matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    titles = {norm_title(expected["title"])} | {
        norm_title(t) for t in expected.get("title_alts", [])
    }
    return (
        norm_title(actual["title"]) in titles
        and actual["due"] == expected.get("due")
        and actual["priority"] == expected.get("priority", "medium")
        and actual["tags"] == frozenset(t.lower() for t in expected.get("tags", []))
        and actual["notes"] == expected.get("notes", "").strip().casefold()
        and actual["recurrence"] == norm_rule(expected.get("recurrence"))
    )


def set_matches(key: str, wanted: Any, actual: Any) -> bool:
    if key == "title":
        return norm_title(str(actual)) == norm_title(str(wanted))
    if key == "tags":
        return frozenset(actual) == frozenset(t.lower() for t in wanted)
    if key == "notes":
        return str(actual) == str(wanted).strip().casefold()
    if key == "recurrence":
        return bool(actual == norm_rule(wanted))
    return bool(actual == wanted)


def judge_changes(expect: dict[str, Any], observed: Observed) -> tuple[bool, bool]:
    """(every expected change happened, some observed change is damage)."""
    missing = False
    damage = False
    unmatched = list(observed.created)
    for wanted in expect.get("created", []):
        hit = next((a for a in unmatched if created_matches(wanted, a)), None)
        if hit is None:
            missing = True
        else:
            unmatched.remove(hit)
    damage |= bool(unmatched)
    for kind in ("completed", "reopened", "deleted"):
        wanted = {norm_title(t) for t in expect.get(kind, [])}
        got = {norm_title(t) for t in getattr(observed, kind)}
        missing |= bool(wanted - got)
        damage |= bool(got - wanted)
    wanted_updates = {norm_title(u["title"]): u["set"] for u in expect.get("updated", [])}
    got_updates = {norm_title(t): c for t, c in observed.updated.items()}
    for title, changes in got_updates.items():
        wanted_set = wanted_updates.get(title)
        damage |= (
            wanted_set is None
            or bool(set(changes) - set(wanted_set))
            or any(not set_matches(k, wanted_set[k], v) for k, v in changes.items())
        )
    for title, wanted_set in wanted_updates.items():
        changes = got_updates.get(title, {})
        if any(
            k not in changes or not set_matches(k, v, changes[k]) for k, v in wanted_set.items()
        ):
            missing = True
    return not missing, damage


def judge_reply(expect: dict[str, Any], reply: str, seeded: list[str], fallback: bool) -> bool:
    text = norm_reply(reply)
    outcome = expect["outcome"]
    if outcome == "change":
        return not fallback or any(marker in text for marker in INABILITY)
    if any(marker in text for marker in NOT_UNDERSTOOD):
        return False
    mentions = all(norm_reply(m) in text for m in expect.get("mentions", []))
    if outcome == "show":
        shown = {norm_title(t) for t in seeded if norm_title(t) in text}
        return shown == {norm_title(t) for t in expect.get("shown", [])}
    if outcome == "ask":
        if expect.get("mentions"):
            return mentions
        return "?" in text or "\u061f" in text
    if outcome == "decline":
        return mentions and any(marker in text for marker in INABILITY)
    return mentions  # chat


def right_intent(expect: dict[str, Any], observed: Observed, reply: str) -> bool:
    if expect["outcome"] != "change":
        text = norm_reply(reply)
        return observed.empty() and not any(m in text for m in NOT_UNDERSTOOD)
    same = len(observed.created) == len(expect.get("created", []))
    for kind in ("completed", "reopened", "deleted"):
        same &= {norm_title(t) for t in getattr(observed, kind)} == {
            norm_title(t) for t in expect.get(kind, [])
        }
    same &= {norm_title(t) for t in observed.updated} == {
        norm_title(u["title"]) for u in expect.get("updated", [])
    }
    return same


@dataclass
class Result:
    case: dict[str, Any]
    result: str  # right, miss, damage
    intent: bool
    observed: Observed
    reply: str


FUTURE_FIELDS = {"recurrence": "recurrence", "reminder": "reminders"}


def future_features(expect: dict[str, Any]) -> set[str]:
    """The features whose fields an expectation relies on."""
    entries = list(expect.get("created", [])) + [u["set"] for u in expect.get("updated", [])]
    return {feature for f, feature in FUTURE_FIELDS.items() for e in entries if f in e}


def grade(case: dict[str, Any], observed: Observed, reply: str, supports: set[str]) -> Result:
    seeded = [t["title"] for t in case["tasks"]]
    expectations: list[tuple[dict[str, Any], bool]] = [(case["expect"], False)]
    fallback = case["expect"].get("until_supported")
    if fallback and fallback["feature"] not in supports:
        expectations.append((fallback, True))
    right = False
    damaged = []
    for expect, is_fallback in expectations:
        complete, damage = judge_changes(expect, observed)
        damaged.append(damage)
        # A reminder the tasks service cannot store yet is never observed, so an expectation
        # that needs one cannot be met end to end (its fallback still can).
        unmet = not is_fallback and any(
            feature not in supports for feature in future_features(expect)
        )
        if (
            complete
            and not damage
            and not unmet
            and judge_reply(expect, reply, seeded, is_fallback)
        ):
            right = True
    intent = any(right_intent(e, observed, reply) for e, _ in expectations)
    result = "right" if right else ("damage" if all(damaged) else "miss")
    return Result(case, result, intent or right, observed, reply)


def task_fields(task: dict[str, Any]) -> dict[str, Any]:
    """The Task fields (other than the title) of a corpus task."""
    fields: dict[str, Any] = {
        "notes": task.get("notes", ""),
        "priority": PRIORITY_PB[task.get("priority", "medium")],
        "tags": task.get("tags", []),
    }
    if task.get("due"):
        fields["due_time"] = due_stamp(task["due"])
    return fields


async def seed(caller: TaskCaller, tasks: list[dict[str, Any]]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for task in tasks:
        created = await caller.create(task["title"], **task_fields(task))
        ids[task["title"]] = created.id
        if task.get("state") == "completed":
            await caller.complete(created.id)
    return ids


async def seed_for_undo(
    caller: TaskCaller, tasks: list[dict[str, Any]], expect: dict[str, Any]
) -> dict[str, str]:
    """Seeds an undo case so that the change its history describes is the tasks service's most
    recent one, made for real last ("undo that" reverts the latest change, whatever the
    history's text says). The change is read back from what undoing it must do: `deleted` X
    (undo of an add: X is created last), `reopened` X (of a completion: X completed last),
    `completed` X (of a reopening), `created` X (of a deletion: X created and deleted last),
    `updated` T with `set` (of an edit: T created as `set` says, then edited to how it is)."""
    last = {
        norm_title(t) for key in ("deleted", "reopened", "completed") for t in expect.get(key, [])
    }
    edited = {norm_title(u["title"]): u["set"] for u in expect.get("updated", [])}
    first = [t for t in tasks if norm_title(t["title"]) not in last | set(edited)]
    ids = await seed(caller, first)
    for task in tasks:
        key = norm_title(task["title"])
        if key in edited:
            before = {**task, **edited[key]}
            created = await caller.create(before["title"], **task_fields(before))
            await caller.update(
                tasks_pb.Task(id=created.id, title=task["title"], **task_fields(task)),
                "title",
                "notes",
                "priority",
                "tags",
                "due_time",
            )
        elif key in last:
            if norm_title(task["title"]) in {norm_title(t) for t in expect.get("reopened", [])}:
                created = await caller.create(task["title"], **task_fields(task))
                await caller.complete(created.id)
            elif norm_title(task["title"]) in {norm_title(t) for t in expect.get("completed", [])}:
                created = await caller.create(task["title"], **task_fields(task))
                await caller.complete(created.id)
                await caller.reopen(created.id)
            else:
                created = await caller.create(task["title"], **task_fields(task))
                if task.get("state") == "completed":
                    await caller.complete(created.id)
        else:
            continue
        ids[task["title"]] = created.id
    for gone in expect.get("created", []):
        created = await caller.create(gone["title"], **task_fields(gone))
        await caller.delete(created.id)
    return ids


def history_of(case: dict[str, Any], ids: dict[str, str]) -> list[tuple[str, str]]:
    """The case's history as a client sends it: each assistant message carries the seeded tasks
    whose titles it names, numbered in order of first appearance, with their ids."""
    history: list[tuple[str, str]] = []
    for turn in case.get("history", []):
        text = turn["text"]
        if turn["role"] == "assistant":
            lowered = norm_reply(text)
            found = sorted(
                (lowered.find(norm_title(title)), title)
                for title in ids
                if norm_title(title) in lowered
            )
            if found:
                lines = [
                    f"{n}. {title} [id: {ids[title]}]" for n, (_, title) in enumerate(found, 1)
                ]
                text = text + "\n" + "\n".join(lines)
        history.append((turn["role"], text))
    return history


@contextmanager
def corpus_clock_in_tasks_service() -> Iterator[None]:
    """The tasks service (in this process) reads the corpus clock too, as "The fixed world"
    asks: its `overdue` filter (what a bulk preview of "everything overdue" selects) compares
    due times with it. Each reading is a microsecond after the last, so creation times still
    come in order."""
    ticks = itertools.count()
    real = todo_tasks.service.utc_now
    todo_tasks.service.utc_now = lambda: (
        FIXED_NOW.astimezone(UTC) + timedelta(microseconds=next(ticks))
    )
    try:
        yield
    finally:
        todo_tasks.service.utc_now = real


async def run_cases(cases: list[dict[str, Any]], supports: set[str]) -> list[Result]:
    results: list[Result] = []
    with (
        tempfile.TemporaryDirectory(prefix="eval-offline-") as folder,
        corpus_clock_in_tasks_service(),
    ):
        async with (
            running_auth_service(Path(folder)) as auth,
            running_tasks_service(Path(folder), auth) as tasks,
            running_agent_service(auth, tasks.address, clock=fixed_clock) as agent,
        ):
            for case in cases:
                user = await sign_up_user(auth.stub)
                caller = TaskCaller(user=user, stub=tasks.stub)
                if case["category"] == "undo" and "undo" in supports:
                    ids = await seed_for_undo(caller, case["tasks"], case["expect"])
                else:
                    ids = await seed(caller, case["tasks"])
                before = {t.id: fields_of(t) for t in await caller.list_all()}
                run = await respond(agent.stub, user.metadata, case["text"], history_of(case, ids))
                after = {t.id: fields_of(t) for t in await caller.list_all()}
                results.append(grade(case, diff(before, after), run.reply, supports))
    return results


# -- planner level ------------------------------------------------------------------------------
# Cases with a `plan` (fresh.jsonl) name the calls the model must make to tools that are not on
# main yet (undo, bulk previews, reminders): they are scored here without servers, by running
# the planner with every tool of the contract offered and list outputs made from the seeded
# tasks. `"@Title"` in an argument stands for that seeded task's id.
PLAN_CLOCK = datetime(2031, 1, 15, 9, 0, tzinfo=ZONE)


def seeded_json(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The case's tasks as `list_tasks` returns them (ids `t1`, `t2`, …)."""
    tasks = []
    for n, task in enumerate(case["tasks"], 1):
        due = task.get("due")
        tasks.append(
            {
                "id": f"t{n}",
                "title": task["title"],
                "state": task.get("state", "open"),
                "priority": task.get("priority", "medium"),
                "due": (due if "T" in due else f"{due}T23:59") if due else None,
                "tags": task.get("tags", []),
                "notes": task.get("notes", ""),
            }
        )
    return tasks


def planned_calls(case: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The calls (other than lookups) the planner makes for the case's message."""
    tasks = seeded_json(case)
    ids = {t["title"]: t["id"] for t in tasks}
    history = history_of(case, ids)
    lang = "ur" if is_urdu(case["text"]) else "en"
    calls: list[ToolCall] = []
    for _ in range(4):
        turn = Turn(case["text"], history, calls, False, len(calls), PLAN_CLOCK)
        decision = Planner(parse(case["text"], PLAN_CLOCK), turn, lang).decide()
        if not decision.calls:
            return []
        if any(name != "list_tasks" for name, _ in decision.calls):
            return decision.calls
        for name, arguments in decision.calls:
            state = arguments.get("state", "open")
            shown = [t for t in tasks if state == "all" or t["state"] == state]
            calls.append(ToolCall(f"p{len(calls)}", name, arguments, {"ok": True, "tasks": shown}))
    return []


def plan_right(case: dict[str, Any]) -> bool:
    ids = {t["title"]: f"t{n}" for n, t in enumerate(case["tasks"], 1)}

    def resolved(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("@"):
            return ids.get(value[1:], value)
        return value

    wanted = [
        (step["tool"], {k: resolved(v) for k, v in step["arguments"].items()})
        for step in case["plan"]
    ]
    return planned_calls(case) == wanted


def report_plans(name: str, cases: list[dict[str, Any]], show_failures: bool) -> None:
    planned = [c for c in cases if "plan" in c]
    if not planned:
        return
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    failures = []
    for case in planned:
        right = plan_right(case)
        by_category[case["category"]]["cases"] += 1
        by_category[case["category"]]["right"] += right
        if not right:
            failures.append(case)
    print(f"\n{name}: planner level (calls to tools not on main yet), right by category")
    total: Counter[str] = Counter()
    for category, counts in sorted(by_category.items()):
        total.update(counts)
        print(f"{category:<13} {counts['cases']:>5} {counts['right']:>5}")
    print(f"{'overall':<13} {total['cases']:>5} {total['right']:>5}")
    for case in failures if show_failures else []:
        print(f"  PLAN MISS {case['id']}: {case['text']!r}")
        print(f"    want {json.dumps(case['plan'], ensure_ascii=False)}")
        print(f"    got  {json.dumps(planned_calls(case), ensure_ascii=False)}")


def report(name: str, results: list[Result], show_failures: bool, verbose: bool) -> None:
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        counts = by_category[r.case["category"]]
        counts["cases"] += 1
        counts[r.result] += 1
        counts["intent"] += r.intent
    total: Counter[str] = Counter()
    print(f"\n{name}: offline model, fully right by category")
    print(
        f"{'category':<13} {'cases':>5} {'right':>5} {'miss':>5} {'damage':>6} {'right%':>7} {'intent%':>8}"
    )
    for category, counts in sorted(by_category.items()):
        total.update(counts)
        print(
            f"{category:<13} {counts['cases']:>5} {counts['right']:>5} {counts['miss']:>5} "
            f"{counts['damage']:>6} {100 * counts['right'] / counts['cases']:>6.1f}% "
            f"{100 * counts['intent'] / counts['cases']:>7.1f}%"
        )
    n = max(1, total["cases"])
    print(
        f"{'overall':<13} {total['cases']:>5} {total['right']:>5} {total['miss']:>5} "
        f"{total['damage']:>6} {100 * total['right'] / n:>6.1f}% {100 * total['intent'] / n:>7.1f}%"
    )
    print(f"silent damage: {total['damage']}")
    for r in results:
        if r.result == "damage":
            label = r.case["id"] if show_failures else r.case["category"]
            print(
                f"  DAMAGE {label}: {r.observed.describe()}"
                if show_failures
                else f"  DAMAGE in {label}"
            )
    if show_failures:
        for r in results:
            if r.result == "miss" or (verbose and r.result == "damage"):
                expect = json.dumps(r.case["expect"], ensure_ascii=False)
                print(f"\n  MISS {r.case['id']}: {r.case['text']!r}\n    expect {expect}")
                print(f"    observed {r.observed.describe()}")
                print("    reply " + r.reply.replace("\n", " | ")[:400])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", choices=["dev", "fresh", "holdout"], nargs="?", default="dev")
    parser.add_argument(
        "--supports",
        default=SUPPORTED_ON_MAIN,
        help=f"features that exist end to end (default {SUPPORTED_ON_MAIN}), e.g. recurrence,undo",
    )
    parser.add_argument("--only", default="", help="score only these categories (comma list)")
    parser.add_argument("--id", default="", help="score only the cases whose id starts so")
    parser.add_argument("--verbose", action="store_true", help="also print damage details")
    args = parser.parse_args()
    cases = [
        json.loads(line)
        for line in (HERE / f"{args.set}.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    if args.only:
        cases = [c for c in cases if c["category"] in args.only.split(",")]
    if args.id:
        cases = [c for c in cases if c["id"].startswith(args.id)]
    supports = {s for s in args.supports.split(",") if s}
    results = asyncio.run(run_cases(cases, supports))
    # Holdout cases are never printed, only their counts (README: "Report").
    report(args.set, results, show_failures=args.set != "holdout", verbose=args.verbose)
    report_plans(args.set, cases, show_failures=args.set != "holdout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
