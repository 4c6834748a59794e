"""The calls the offline model makes to tools built beside it (undo, bulk previews, reminders)
and to the recurrence argument, read at planner level: message → the exact call, and, when the
run does not offer the tool or argument, the honest answer instead of a call."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from todo_agent.offline import contract
from todo_agent.offline.contract import Offered, iso_duration
from todo_agent.offline.conversation import ToolCall, Turn
from todo_agent.offline.grammar import parse
from todo_agent.offline.planner import LOOKUP_LIMIT, Decision, Planner
from todo_agent.offline.replies import (
    BULK_FILTER_UNCLEAR,
    CANNOT_REMIND,
    CANNOT_REPEAT,
    CANNOT_UNDO,
    CONFIRM_ON_CARD,
    NOTHING_TO_UNDO_HERE,
    ONE_AT_A_TIME,
    numbered,
)

NOW = datetime(2031, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/London"))


def task(key: str, title: str, state: str = "open", **fields: Any) -> dict[str, Any]:
    """A task as the tools return it."""
    return {"id": f"t-{key}", "title": title, "state": state, **fields}


DENTIST = task("dentist", "Dentist appointment", due="2031-01-20T09:30", tags=[])
GYM = task("gym", "Gym session", due="2031-01-17T18:00", tags=[])
MILK = task("milk", "Buy milk", tags=[])
EGGS = task("eggs", "Buy eggs", tags=["shop"])
# What main offers today: the task tools, with recurrence but no reminders, no undo, no bulk.
MAIN = Offered(
    {
        contract.ADD_TASK: frozenset({"title", "due", "priority", "tags", "notes", "recurrence"}),
        contract.LIST_TASKS: frozenset({"state", "priority", "tag", "due", "limit"}),
        contract.UPDATE_TASK: frozenset(
            {"task_id", "title", "due", "clear_due", "priority", "tags", "notes", "recurrence"}
            | {"stop_repeating"}
        ),
        contract.COMPLETE_TASK: frozenset({"task_id"}),
        contract.DELETE_TASK: frozenset({"task_id"}),
    }
)
LOOKUP_OPEN = ("list_tasks", {"state": "open", "limit": LOOKUP_LIMIT})
LOOKUP_ALL = ("list_tasks", {"state": "all", "limit": LOOKUP_LIMIT})


def plan(
    text: str,
    done: list[tuple[str, dict[str, Any], dict[str, Any]]] | None = None,
    history: list[tuple[str, str]] | None = None,
    offered: Offered | None = None,
) -> Decision:
    calls = [ToolCall(f"c{i}", name, args, out) for i, (name, args, out) in enumerate(done or [])]
    turn = Turn(text, list(history or []), calls, handed_off=False, call_count=0, now=NOW)
    return Planner(parse(text, NOW), turn, "ur" if text[:1] > "\u0600" else "en", offered).decide()


def ok(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "tasks": list(tasks)}


@pytest.mark.parametrize(
    "text", ["undo that", "undo", "revert the last change", "oops, undo", "اسے واپس کر دو"]
)
def test_undo_calls_undo_last_change_with_no_arguments(text: str) -> None:
    after_a_change = [("user", "delete buy milk"), ("assistant", "Deleted Buy milk.")]
    assert plan(text, history=after_a_change).calls == [(contract.UNDO_LAST_CHANGE, {})]


def test_undo_at_the_start_of_a_conversation_changes_nothing() -> None:
    step = plan("undo")
    assert step.calls == [] and step.reply == NOTHING_TO_UNDO_HERE


def test_undo_without_the_tool_says_it_cannot() -> None:
    step = plan("undo that", history=[("assistant", "Added Buy milk.")], offered=MAIN)
    assert step.calls == [] and step.reply == CANNOT_UNDO


def test_undo_reports_what_the_tool_did_or_that_there_was_nothing() -> None:
    done = plan("undo", [(contract.UNDO_LAST_CHANGE, {}, ok(MILK))]).reply or ""
    assert done.startswith("Undone.") and "Buy milk" in done
    nothing = {"ok": False, "error": "failed_precondition", "message": "Nothing to undo."}
    assert plan("undo", [(contract.UNDO_LAST_CHANGE, {}, nothing)]).reply == (
        "There's nothing I can undo."
    )


BULK: list[tuple[str, dict[str, Any]]] = [
    (
        "push everything due today to tomorrow",
        {"action": "reschedule", "state": "open", "due": "today", "new_due": "2031-01-16"},
    ),
    ("complete all my work tasks", {"action": "complete", "state": "open", "tag": "work"}),
    ("delete everything tagged old", {"action": "delete", "state": "open", "tag": "old"}),
    (
        "tag all of today's tasks urgent",
        {"action": "tag", "state": "open", "due": "today", "add_tags": ["urgent"]},
    ),
    ("delete all my completed tasks", {"action": "delete", "state": "completed"}),
    (
        "mark everything that's overdue as done",
        {"action": "complete", "state": "open", "due": "overdue"},
    ),
    (
        "move all high priority tasks to next monday at 9am",
        {
            "action": "reschedule",
            "state": "open",
            "priority": "high",
            "new_due": "2031-01-20T09:00",
        },
    ),
    ("delete every task mentioning taxes", {"action": "delete", "state": "open", "query": "taxes"}),
    (
        "remove the urgent tag from everything due this week",
        {"action": "tag", "state": "open", "due": "this_week", "remove_tags": ["urgent"]},
    ),
    # Tagging the tasks already tagged so would change nothing: the word is in their titles.
    (
        "tag all the wedding tasks with wedding",
        {"action": "tag", "state": "open", "query": "wedding", "add_tags": ["wedding"]},
    ),
]


@pytest.mark.parametrize(("text", "arguments"), BULK, ids=[t for t, _ in BULK])
def test_bulk_requests_preview_with_the_contracted_arguments(
    text: str, arguments: dict[str, Any]
) -> None:
    assert plan(text).calls == [(contract.PREVIEW_BULK_CHANGE, arguments)]


def test_a_bulk_filter_it_cannot_state_exactly_is_answered_honestly() -> None:
    step = plan("move all of this weekend's tasks to next week")
    assert step.calls == [] and step.reply == BULK_FILTER_UNCLEAR
    assert (
        plan("move all of this weekend's tasks to next week", offered=MAIN).reply == ONE_AT_A_TIME
    )


def test_bulk_without_the_tool_says_one_at_a_time() -> None:
    step = plan("push everything due today to tomorrow", offered=MAIN)
    assert step.calls == [] and step.reply == ONE_AT_A_TIME
    assert plan("yes", offered=MAIN).reply == ONE_AT_A_TIME


def test_a_bulk_preview_names_every_task_and_changes_nothing_yet() -> None:
    text = "push everything due today to tomorrow"
    reply = plan(text, [(contract.PREVIEW_BULK_CHANGE, {}, ok(MILK, EGGS))]).reply or ""
    assert "Buy milk" in reply and "Buy eggs" in reply and "to tomorrow" in reply
    assert "Nothing has changed yet" in reply
    # It asks: the user answers the preview (a question mark the corpus' "ask" looks for).
    assert "Shall I go ahead?" in reply
    assert plan("yes").reply == CONFIRM_ON_CARD


def test_reminders_ride_on_add_and_update_as_iso_durations() -> None:
    assert plan("add call mom tomorrow 5pm, remind me 30 minutes before").calls == [
        (
            contract.ADD_TASK,
            {"title": "Call mom", "due": "2031-01-16T17:00", contract.REMIND_BEFORE: "PT30M"},
        )
    ]
    history = [
        ("user", "add dentist monday 9:30"),
        ("assistant", "Added " + numbered([DENTIST], NOW)),
    ]
    assert plan("remind me an hour before", history=history).calls == [
        (contract.UPDATE_TASK, {"task_id": "t-dentist", contract.REMIND_BEFORE: "PT1H"})
    ]
    first = plan("remind me 2 hours before the dentist")
    assert first.calls == [LOOKUP_ALL]
    then = plan("remind me 2 hours before the dentist", [(*LOOKUP_ALL, ok(DENTIST, GYM))])
    assert then.calls == [
        (contract.UPDATE_TASK, {"task_id": "t-dentist", contract.REMIND_BEFORE: "PT2H"})
    ]


def test_reminders_without_the_argument_are_said_so() -> None:
    step = plan("remind me 30 minutes before the dentist", offered=MAIN)
    assert step.calls == [] and step.reply == CANNOT_REMIND
    text = "add call mom tomorrow 5pm, remind me 30 minutes before"
    first = plan(text, offered=MAIN)
    assert first.calls == [(contract.ADD_TASK, {"title": "Call mom", "due": "2031-01-16T17:00"})]
    added = plan(text, [(contract.ADD_TASK, {}, ok(MILK))], offered=MAIN).reply or ""
    assert "can't set reminders yet" in added


def test_a_reminder_needs_a_due_time() -> None:
    step = plan("add water the plants, remind me an hour before")
    assert step.calls == [] and "due time" in (step.reply or "")


@pytest.mark.parametrize(
    ("minutes", "text"), [(30, "PT30M"), (60, "PT1H"), (90, "PT1H30M"), (1440, "P1D")]
)
def test_iso_durations(minutes: int, text: str) -> None:
    assert iso_duration(minutes) == text


RECURRING: list[tuple[str, dict[str, Any]]] = [
    (
        "add yoga every monday",
        {"title": "Yoga", "due": "2031-01-20", "recurrence": "FREQ=WEEKLY;BYDAY=MO"},
    ),
    (
        "team sync every other week",
        {
            "title": "Team sync",
            "due": "2031-01-15",
            "recurrence": "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
        },
    ),
    (
        "water the plants on weekdays",
        {
            "title": "Water the plants",
            "due": "2031-01-15",
            "recurrence": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        },
    ),
    (
        "pay rent every month on the 1st",
        {"title": "Pay rent", "due": "2031-02-01", "recurrence": "FREQ=MONTHLY;BYMONTHDAY=1"},
    ),
    (
        "ہر جمعہ کو مسجد جانا ہے",
        {"title": "مسجد جانا", "due": "2031-01-17", "recurrence": "FREQ=WEEKLY;BYDAY=FR"},
    ),
]


@pytest.mark.parametrize(("text", "arguments"), RECURRING, ids=[t for t, _ in RECURRING])
def test_recurrence_phrases_become_rrules(text: str, arguments: dict[str, Any]) -> None:
    assert plan(text).calls == [(contract.ADD_TASK, arguments)]


def test_recurrence_without_the_argument_adds_once_and_says_so() -> None:
    offered = Offered({**MAIN.tools, contract.ADD_TASK: frozenset({"title", "due"})})
    step = plan("add yoga every monday", offered=offered)
    assert step.calls == [(contract.ADD_TASK, {"title": "Yoga", "due": "2031-01-20"})]
    reply = plan("add yoga every monday", [(contract.ADD_TASK, {}, ok(MILK))], offered=offered)
    assert CANNOT_REPEAT in (reply.reply or "")


def test_an_existing_task_repeats_on_its_own_day() -> None:
    text = "make the gym session repeat every week"
    step = plan(text, [(*LOOKUP_ALL, ok(GYM, MILK))])
    assert step.calls == [
        (contract.UPDATE_TASK, {"task_id": "t-gym", "recurrence": "FREQ=WEEKLY;BYDAY=FR"})
    ]


def test_several_tasks_in_one_update_are_one_call_each() -> None:
    text = "add a shop tag to buy milk and buy eggs"
    step = plan(text, [(*LOOKUP_ALL, ok(MILK, EGGS))])
    assert step.calls == [
        (contract.UPDATE_TASK, {"task_id": "t-milk", "tags": ["shop"]}),
        (contract.UPDATE_TASK, {"task_id": "t-eggs", "tags": ["shop"]}),
    ]
    done = plan("mark the milk and the eggs done", [(*LOOKUP_OPEN, ok(MILK, EGGS))])
    assert done.calls == [
        (contract.COMPLETE_TASK, {"task_id": "t-milk"}),
        (contract.COMPLETE_TASK, {"task_id": "t-eggs"}),
    ]


WORK = task("deck", "Finish slide deck", due="2031-01-16T12:00", tags=["work"])
GYM_TODAY: dict[str, Any] = {**GYM, "due": "2031-01-15T18:00"}


def test_a_tag_and_a_window_list_only_that_tags_tasks_in_that_window() -> None:
    step = plan("work tasks due this week")
    assert step.calls == [("list_tasks", {"state": "open", "limit": LOOKUP_LIMIT})]
    listed = {"ok": True, "tasks": [GYM_TODAY, WORK]}
    reply = plan("work tasks due this week", [("list_tasks", {}, listed)]).reply or ""
    assert "Finish slide deck" in reply and "Gym session" not in reply
    assert reply.startswith("You have 1 open task due this week and tagged #work")


def test_a_word_no_task_has_as_a_tag_lists_by_title_words() -> None:
    listed = {"ok": True, "tasks": [GYM_TODAY, WORK]}
    reply = plan("gym tasks due this week", [("list_tasks", {}, listed)]).reply or ""
    assert "Gym session" in reply and "Finish slide deck" not in reply


def test_both_means_the_two_tasks_of_the_last_list() -> None:
    two = [("user", "what's due today?"), ("assistant", "2 tasks:\n" + numbered([MILK, EGGS], NOW))]
    assert plan("move both to next week", history=two).calls == [LOOKUP_ALL]
    step = plan("move both to next week", [(*LOOKUP_ALL, ok(MILK, EGGS))], history=two)
    assert step.calls == [
        (contract.UPDATE_TASK, {"task_id": "t-milk", "due": "2031-01-20"}),
        (contract.UPDATE_TASK, {"task_id": "t-eggs", "due": "2031-01-20"}),
    ]
    three = [("user", "list"), ("assistant", "3:\n" + numbered([MILK, EGGS, GYM], NOW))]
    asked = plan("complete both", history=three)
    assert asked.calls == [] and "Which ones?" in (asked.reply or "")
