"""The offline planner read directly: message + this turn's tool outputs → next step, no server.

Each case states what the tools returned so far (none, or the outputs of the calls the planner
asked for) and checks the next step: the calls it asks for, or the words of its reply.
"""

# Urdu test messages legitimately use the Arabic full stop and similar characters.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from todo_agent.offline.conversation import ToolCall, Turn
from todo_agent.offline.grammar import parse
from todo_agent.offline.planner import LOOKUP_LIMIT, MATCH_THRESHOLD, Decision, Planner, title_score
from todo_agent.offline.replies import numbered

NOW = datetime(2031, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/London"))


def task(key: str, title: str, state: str = "open", **fields: Any) -> dict[str, Any]:
    """A task as the tools return it."""
    return {"id": f"t-{key}", "title": title, "state": state, **fields}


MILK = task("milk", "Buy milk", priority="high", tags=[])
OAT = task("oat", "Buy oat milk", tags=[])
GET = task("get", "Get milk", tags=[])
MOM = task("mom", "Call mom", due="2031-01-16T23:59")
REPORT = task("report", "Write report", "completed", notes="Q3 numbers")
LISTED = [MILK, MOM, REPORT]
# The history after "list my tasks": the numbered lines carry the ids.
AFTER_LIST = [
    ("user", "list my tasks"),
    ("assistant", "You have 3 tasks:\n" + numbered(LISTED, NOW)),
]


def plan(
    text: str,
    done: Sequence[tuple[str, dict[str, Any], dict[str, Any]]] = (),
    history: Sequence[tuple[str, str]] = (),
    lang: str = "en",
) -> Decision:
    """The planner's step for `text` after the calls in `done` returned their outputs."""
    calls = [ToolCall(f"c{i}", name, args, out) for i, (name, args, out) in enumerate(done)]
    turn = Turn(text, list(history), calls, handed_off=False, call_count=len(calls), now=NOW)
    return Planner(parse(text, NOW), turn, lang).decide()


def ok(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "tasks": list(tasks)}


LOOKUP_OPEN = ("list_tasks", {"state": "open", "limit": LOOKUP_LIMIT})
LOOKUP_DONE = ("list_tasks", {"state": "completed", "limit": LOOKUP_LIMIT})
LOOKUP_ALL = ("list_tasks", {"state": "all", "limit": LOOKUP_LIMIT})

FIRST_STEPS: list[tuple[str, list[tuple[str, dict[str, Any]]], list[tuple[str, str]]]] = [
    ("add buy milk", [("add_task", {"title": "Buy milk"})], []),
    (
        "add call mom on friday at 5pm #family, high priority",
        [
            (
                "add_task",
                {
                    "title": "Call mom",
                    "due": "2031-01-17T17:00",
                    "priority": "high",
                    "tags": ["family"],
                },
            )
        ],
        [],
    ),
    ("add milk and eggs", [("add_task", {"title": "Milk and eggs"})], []),
    (
        "add call mum and book the dentist",
        [("add_task", {"title": "Call mum"}), ("add_task", {"title": "Book the dentist"})],
        [],
    ),
    # Lists filter due dates on the run's clock, so the tool is asked for state and labels only.
    ("list my tasks", [LOOKUP_OPEN], []),
    (
        "show completed high priority tasks tagged #work due today",
        [("list_tasks", {"state": "completed", "limit": 100, "priority": "high", "tag": "work"})],
        [],
    ),
    # Search matches word forms itself ("taxes" finds "tax"), over tasks in every state.
    ("search for dentist", [LOOKUP_ALL], []),
    # Exact references need no lookup.
    ("complete task t-exact-id-12345", [("complete_task", {"task_id": "t-exact-id-12345"})], []),
    ("complete the second one", [("complete_task", {"task_id": "t-mom"})], AFTER_LIST),
    ("delete the last one", [("delete_task", {"task_id": "t-report"})], AFTER_LIST),
    (
        "complete 1 and 3",
        [("complete_task", {"task_id": "t-milk"}), ("complete_task", {"task_id": "t-report"})],
        AFTER_LIST,
    ),
    ("complete 1 and 1", [("complete_task", {"task_id": "t-milk"})], AFTER_LIST),
    ("show the first one", [("get_task", {"task_id": "t-milk"})], AFTER_LIST),
    ("reopen the third one", [("reopen_task", {"task_id": "t-report"})], AFTER_LIST),
    (
        "rename the second one to call dad",
        [("update_task", {"task_id": "t-mom", "title": "Call dad"})],
        AFTER_LIST,
    ),
    # A new day keeps a timed task's time, and a new tag keeps the others: both read the task.
    ("move the first one to friday", [LOOKUP_ALL], AFTER_LIST),
    (
        "clear the due date of the second one",
        [("update_task", {"task_id": "t-mom", "clear_due": True})],
        AFTER_LIST,
    ),
    ("tag the first one with #errands", [LOOKUP_ALL], AFTER_LIST),
    (
        "add a note to the first one: oat if none",
        [("update_task", {"task_id": "t-milk", "notes": "oat if none"})],
        AFTER_LIST,
    ),
    (
        "mark it as done",
        [("complete_task", {"task_id": "t-mom"})],
        [("user", "add call mom"), ("assistant", "Added Call mom [id: t-mom]")],
    ),
    # A title is looked up first, among the tasks the action can apply to.
    ("mark the milk one done", [LOOKUP_OPEN], []),
    ("reopen the report", [LOOKUP_DONE], []),
    ("delete the report", [LOOKUP_ALL], []),
    ("make the report high priority", [LOOKUP_ALL], []),
    # Nothing to call.
    ("help", [], []),
    ("hello", [], []),
    ("what is the meaning of life", [], []),
    ("add a task", [], []),
    ("complete the second one", [], []),
    ("complete the fifth one", [], AFTER_LIST),
    ("mark it done", [], []),
]


@pytest.mark.parametrize(("text", "calls", "history"), FIRST_STEPS, ids=[c[0] for c in FIRST_STEPS])
def test_first_step(
    text: str, calls: list[tuple[str, dict[str, Any]]], history: list[tuple[str, str]]
) -> None:
    decision = plan(text, history=history)
    assert decision.calls == calls
    assert (decision.reply is None) == bool(calls)


@pytest.mark.parametrize(
    ("text", "history", "reply"),
    [
        ("help", [], "offline assistant"),
        ("hello", [], 'say "help"'),
        ("thanks", [], "You're welcome!"),
        ("what is the meaning of life", [], "didn't understand"),
        ("add a task", [], "What should the task say?"),
        ("complete the second one", [], 'Say "list my tasks" first'),
        ("complete the fifth one", AFTER_LIST, "The last list only had 3 tasks."),
        ("mark it done", [], "Which task do you mean?"),
    ],
)
def test_replies_without_tools(text: str, history: list[tuple[str, str]], reply: str) -> None:
    decision = plan(text, history=history)
    assert decision.calls == []
    assert decision.reply is not None and reply in decision.reply


def test_a_title_is_matched_in_the_lookup_then_acted_on() -> None:
    found = plan("mark the mlik one done", [(*LOOKUP_OPEN, ok(MOM, MILK, REPORT))])
    assert found.calls == [("complete_task", {"task_id": "t-milk"})]
    deleted = plan("delete call mom", [(*LOOKUP_ALL, ok(MILK, MOM))])
    assert deleted.calls == [("delete_task", {"task_id": "t-mom"})]


def test_a_title_that_matches_two_tasks_asks_which() -> None:
    decision = plan("mark buy milk done", [(*LOOKUP_OPEN, ok(OAT, MILK))])
    # The exact title wins over one that merely contains it.
    assert decision.calls == [("complete_task", {"task_id": "t-milk"})]
    decision = plan("mark the milk one done", [(*LOOKUP_OPEN, ok(MILK, GET))])
    assert decision.calls == []
    assert decision.reply is not None
    assert decision.reply.startswith('More than one task matches "milk"')
    assert "[id: t-milk]" in decision.reply and "[id: t-get]" in decision.reply


def test_a_title_that_matches_nothing_says_so() -> None:
    decision = plan("mark the spaceship one done", [(*LOOKUP_OPEN, ok(MILK, MOM))])
    assert decision == Decision.say('I couldn\'t find a task matching "spaceship".')


def test_a_failed_lookup_is_explained_and_nothing_is_changed() -> None:
    decision = plan(
        "mark the milk one done", [(*LOOKUP_OPEN, {"ok": False, "error": "unavailable"})]
    )
    assert decision.calls == []
    assert decision.reply is not None and "nothing was changed" in decision.reply


@pytest.mark.parametrize(
    ("text", "done", "reply"),
    [
        ("add buy milk", [("add_task", {"title": "Buy milk"}, ok(MILK))], "Added Buy milk"),
        (
            "add milk and mom",
            [("add_task", {"title": "Milk"}, ok(MILK)), ("add_task", {"title": "Mom"}, ok(MOM))],
            "Added 2 tasks:\n1. Buy milk",
        ),
        (
            "add buy milk",
            [
                (
                    "add_task",
                    {"title": "Buy milk"},
                    {"ok": False, "error": "invalid_argument", "message": "title too long"},
                )
            ],
            "I couldn't add \"Buy milk\": That didn't work: title too long",
        ),
        (
            "list my tasks",
            [("list_tasks", {}, ok(MILK, MOM))],
            "You have 2 open tasks:\n1. Buy milk",
        ),
        ("what's due today", [("list_tasks", {}, ok())], "You have no open tasks due today."),
        ("search for milk", [("list_tasks", {}, ok(MILK, MOM))], 'Found 1 task matching "milk":'),
        ("search for rocket", [("list_tasks", {}, ok(MILK))], 'No tasks match "rocket".'),
        (
            "complete task t-milk-123456",
            [("complete_task", {}, ok(MILK))],
            "Marked as done: Buy milk",
        ),
        (
            "reopen task t-report-1234",
            [("reopen_task", {}, ok(REPORT))],
            "Reopened: ✓ Write report",
        ),
        (
            "delete task t-milk-123456",
            [("delete_task", {}, {"ok": True, "deleted": [MILK]})],
            'Deleted "Buy milk".',
        ),
        ("show task t-report-1234", [("get_task", {}, ok(REPORT))], "Notes: Q3 numbers"),
        (
            "rename task t-milk-123456 to buy bread",
            [("update_task", {}, ok({**MILK, "title": "Buy bread"}))],
            "Updated Buy bread",
        ),
        (
            "complete task t-milk-123456",
            [("complete_task", {}, {"ok": False, "error": "not_found"})],
            "I couldn't find that task in your list.",
        ),
    ],
)
def test_summary_once_the_outputs_are_in(
    text: str, done: list[tuple[str, dict[str, Any], dict[str, Any]]], reply: str
) -> None:
    decision = plan(text, done)
    assert decision.calls == []
    assert decision.reply is not None and reply in decision.reply


LATE = task("late", "Pay the fine", due="2031-01-10T23:59")
TODAY_TIMED = task("tt", "Dentist", due="2031-01-15T16:00")
TODAY_DAY = task("td", "Buy stamps", due="2031-01-15T23:59")
FRIDAY = task("fri", "Haircut", due="2031-01-17T11:00")
WINDOWED = [LATE, TODAY_TIMED, TODAY_DAY, FRIDAY, MILK]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # "Overdue" is late on the run's clock, not the tasks service's: a date-only task due
        # today is not overdue yet.
        ("what's overdue", ["Pay the fine"]),
        ("what's due today", ["Dentist", "Buy stamps"]),
        ("what's on friday", ["Haircut"]),
        # "by friday" still has to include what is late.
        (
            "what do I need to get done by friday",
            ["Pay the fine", "Dentist", "Buy stamps", "Haircut"],
        ),
        ("what's overdue or due today", ["Pay the fine", "Dentist", "Buy stamps"]),
        ("what have I got on this weekend", []),
    ],
)
def test_lists_filter_windows_on_the_run_clock(text: str, shown: list[str]) -> None:
    reply = plan(text, [("list_tasks", {}, ok(*WINDOWED))]).reply or ""
    assert [t["title"] for t in WINDOWED if t["title"] in reply] == shown


def test_search_matches_word_forms_and_whole_words() -> None:
    tax = {"id": "t-tax", "title": "Pay council tax", "state": "completed", "tags": []}
    taxi = {"id": "t-taxi", "title": "Book a taxi", "state": "open", "tags": []}
    reply = plan("anything about taxes", [("list_tasks", {}, ok(tax, taxi))]).reply or ""
    assert "Pay council tax" in reply and "taxi" not in reply


def test_search_for_x_or_y_finds_either() -> None:
    trip = {"id": "t-trip", "title": "Plan trip", "notes": "book hotels", "tags": []}
    kettle = {"id": "t-kettle", "title": "Buy a new kettle", "state": "open", "tags": []}
    milk = {"id": "t-milk", "title": "Buy milk", "state": "open", "tags": []}
    text = "have i got anything on hotels or kettles"
    reply = plan(text, [("list_tasks", {}, ok(trip, kettle, milk))]).reply or ""
    assert "Plan trip" in reply and "Buy a new kettle" in reply and "Buy milk" not in reply


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        ("push the haircut to monday", {"due": "2031-01-20T11:00"}),
        ("change the haircut to 4pm", {"due": "2031-01-17T16:00"}),
        ("give me 3 more days on the haircut", {"due": "2031-01-20T11:00"}),
        ("tag the haircut with self-care", {"tags": ["beauty", "self-care"]}),
        ("remove the beauty tag from the haircut", {"tags": []}),
    ],
)
def test_changes_relative_to_the_task_read_it_first(text: str, arguments: dict[str, Any]) -> None:
    haircut = {**FRIDAY, "tags": ["beauty"]}
    assert plan(text).calls == [LOOKUP_ALL]
    decision = plan(text, [("list_tasks", LOOKUP_ALL[1], ok(haircut, MILK))])
    assert decision.calls == [("update_task", {"task_id": "t-fri", **arguments})]


def test_that_one_among_several_asks_which() -> None:
    history = [("user", "find essay"), ("assistant", "Found 2:\n" + numbered([MILK, MOM], NOW))]
    reply = plan("delete that one", history=history).reply or ""
    assert "Which one" in reply and "Buy milk" in reply and "Call mom" in reply


def test_a_repeating_task_is_added_with_its_rule() -> None:
    step = plan("every monday water the plants")
    assert step.calls == [
        (
            "add_task",
            {
                "title": "Water the plants",
                "due": "2031-01-20",
                "recurrence": "FREQ=WEEKLY;BYDAY=MO",
            },
        )
    ]


def test_urdu_replies_are_in_urdu() -> None:
    assert "شامل" in (plan("مدد", lang="ur").reply or "")
    added = plan("دودھ خریدنا شامل کریں", [("add_task", {}, ok(MILK))], lang="ur")
    assert (added.reply or "").startswith("کام شامل کر دیا گیا")
    listed = plan("میرے کام دکھائیں", [("list_tasks", {}, ok(MILK, MOM))], lang="ur")
    assert (listed.reply or "").startswith("آپ کے 2 باقی کام")
    assert plan("پہلا کام مکمل کریں", lang="ur").reply == (
        'میرے پاس کوئی حالیہ فہرست نہیں۔ پہلے "میرے کام دکھائیں" لکھیں۔'
    )


@pytest.mark.parametrize(
    ("query", "title", "matches"),
    [
        ("buy milk", "Buy milk", True),
        ("milk", "Buy milk", True),
        ("mlik", "Buy milk", True),
        ("call dad", "Call mom", False),
        ("report", "Write report", True),
        ("spaceship", "Buy milk", False),
        ("", "Buy milk", False),
        # One word written as two, or two as one.
        ("hair cut", "Haircut", True),
        ("my hair cut", "Book a haircut", True),
        ("drycleaning", "Pick up dry cleaning", True),
        ("hair dye", "Haircut", False),
    ],
)
def test_title_score(query: str, title: str, matches: bool) -> None:
    assert (title_score(query, title) >= MATCH_THRESHOLD) is matches


def test_a_title_matches_only_when_every_meaningful_word_does() -> None:
    """A wrong task is never chosen because the small words match: "call the plumber" is not
    "Call the electrician". Typos still match."""
    assert title_score("call the plumber", "Call the electrician") < MATCH_THRESHOLD
    assert title_score("the landlord back", "Email the landlord") < MATCH_THRESHOLD
    assert title_score("mlik", "Buy milk") >= MATCH_THRESHOLD
    assert title_score("the plumbr", "Call the plumber") >= MATCH_THRESHOLD
