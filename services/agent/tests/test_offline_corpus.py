"""The offline model's corpus: each utterance, the tool calls (with arguments) it must make,
run end to end through Respond against the real tasks and auth services.

The clock is fixed at Wednesday 15 January 2031, 09:00 Europe/London, so due dates are exact.
In expected arguments `@Title` stands for the id of the set-up task with that title and `@#2`
for the id on line 2 of the list shown in the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from todo.agent.v1 import agent_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_agent.offline.grammar import is_urdu
from todo_testkit.agent import AgentServiceHandle, respond
from todo_testkit.tasks import TaskCaller, TasksServiceHandle

Call = tuple[str, dict[str, Any]]

# The planner's look-ups (and lists): a complete looks among open tasks, a reopen among
# completed ones, any other change among all.
LIST_OPEN: Call = ("list_tasks", {"state": "open", "limit": 100})
LIST_DONE: Call = ("list_tasks", {"state": "completed", "limit": 100})
LIST_ALL: Call = ("list_tasks", {"state": "all", "limit": 100})
_LOOKUP = {"complete_task": LIST_OPEN, "reopen_task": LIST_DONE}
TASKS = ["Buy milk", "Call mom", "Write report"]


@dataclass
class Case:
    """One utterance and what it must do."""

    text: str
    calls: list[Call]
    tasks: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    # Show the user a list first ("list my tasks") and send that exchange as history.
    list_first: bool = False
    reply_contains: str = ""
    urdu: bool = False


def add(title: str, **args: Any) -> Call:
    return ("add_task", {"title": title, **args})


def by_title(tool: str, task: str, /, **args: Any) -> list[Call]:
    """The look-up, then `tool` on the set-up task titled `task`."""
    return [_LOOKUP.get(tool, LIST_ALL), (tool, {"task_id": f"@{task}", **args})]


def complete(title: str) -> list[Call]:
    return by_title("complete_task", title)


def reopen(title: str) -> list[Call]:
    return by_title("reopen_task", title)


def delete(title: str) -> list[Call]:
    return by_title("delete_task", title)


def update(task: str, /, **fields: Any) -> list[Call]:
    return by_title("update_task", task, **fields)


def at_line(tool: str, line: int, **args: Any) -> Call:
    """`tool` on the task on `line` of the list shown in the history."""
    return (tool, {"task_id": f"@#{line}", **args})


CASES = [
    # Adding, with due dates, times, priorities, tags and several tasks at once.
    Case("add buy milk", [add("Buy milk")], reply_contains="Buy milk"),
    Case("add buy milk tomorrow", [add("Buy milk", due="2031-01-16")], reply_contains="tomorrow"),
    Case(
        "add buy milk tomorrow, high priority",
        [add("Buy milk", due="2031-01-16", priority="high")],
        reply_contains="high priority",
    ),
    Case("add call mom on friday at 5pm", [add("Call mom", due="2031-01-17T17:00")]),
    Case("remind me to pay rent next week", [add("Pay rent", due="2031-01-20")]),
    Case(
        "add submit report in 3 days #work",
        [add("Submit report", due="2031-01-18", tags=["work"])],
        reply_contains="#work",
    ),
    Case("add renew passport on 2031-03-01", [add("Renew passport", due="2031-03-01")]),
    Case("add dentist appointment at 5pm", [add("Dentist appointment", due="2031-01-15T17:00")]),
    Case("add stretch at 8am", [add("Stretch", due="2031-01-16T08:00")]),
    Case("add water the plants tonight", [add("Water the plants", due="2031-01-15")]),
    # One action over several things is one task; several actions are one task each.
    Case("add milk and eggs", [add("Milk and eggs")], reply_contains="Milk and eggs"),
    Case(
        "add call mom and book the dentist",
        [add("Call mom"), add("Book the dentist")],
        reply_contains="Added 2 tasks",
    ),
    Case("add milk, eggs and bread #groceries", [add("Milk, eggs and bread", tags=["groceries"])]),
    Case("add book flights, low priority", [add("Book flights", priority="low")]),
    Case("add urgent: fix the leak", [add("Fix the leak", priority="high")]),
    Case(
        "i need to email the landlord tomorrow morning",
        [add("Email the landlord", due="2031-01-16")],
    ),
    Case('add "salt and pepper" to my list', [add("salt and pepper")]),
    Case("please add get a haircut in 2 weeks", [add("Get a haircut", due="2031-01-29")]),
    Case("add buy a gift for anna by dec 5", [add("Buy a gift for anna", due="2031-12-05")]),
    Case("new task: clean the garage on saturday", [add("Clean the garage", due="2031-01-18")]),
    Case(
        "add call the bank tomorrow at 9:30 p1",
        [add("Call the bank", due="2031-01-16T09:30", priority="high")],
    ),
    Case("add review budget in 2 hours", [add("Review budget", due="2031-01-15T11:00")]),
    Case("add plan the party the day after tomorrow", [add("Plan the party", due="2031-01-17")]),
    Case(
        "add pay the electricity bill on the 5th",
        [add("Pay the electricity bill", due="2031-02-05")],
    ),
    Case(
        "add 'quoted title, with comma' tomorrow",
        [add("quoted title, with comma", due="2031-01-16")],
    ),
    # Listing with filters.
    Case("list my tasks", [LIST_OPEN], tasks=TASKS, reply_contains="3 open tasks"),
    Case("what's due today?", [LIST_OPEN]),
    Case("show overdue tasks", [LIST_OPEN]),
    Case("what do I have this week", [LIST_OPEN]),
    Case("what is due this week?", [LIST_OPEN]),
    # The wish to add with nothing to add: ask, do not list or add "a task".
    Case("add a task", []),
    Case("Create a new todo", []),
    Case("What's due this week?", [LIST_OPEN]),
    Case("what's due tomorrow", [LIST_OPEN]),
    Case("anything due next week?", [LIST_OPEN]),
    Case("show my completed tasks", [LIST_DONE]),
    Case("list all tasks", [LIST_ALL]),
    Case("what's next?", [LIST_OPEN]),
    Case(
        "show high priority tasks",
        [("list_tasks", {"state": "open", "priority": "high", "limit": 100})],
    ),
    Case(
        "show tasks tagged #work", [("list_tasks", {"state": "open", "tag": "work", "limit": 100})]
    ),
    # Search.
    Case("search for dentist", [LIST_ALL], reply_contains="dentist"),
    Case("find milk", [LIST_ALL], tasks=TASKS, reply_contains="Buy milk"),
    # By (fuzzy) title: look the tasks up first, then act on the match.
    Case(
        "mark the milk one done", complete("Buy milk"), tasks=TASKS, reply_contains="Marked as done"
    ),
    Case("I finished the report", complete("Write report"), tasks=TASKS),
    Case("complete call mom", complete("Call mom"), tasks=TASKS),
    Case("mark the mlik one done", complete("Buy milk"), tasks=TASKS),
    Case(
        "delete the report",
        delete("Write report"),
        tasks=TASKS,
        reply_contains='Deleted "Write report"',
    ),
    Case("remove call mom from my list", delete("Call mom"), tasks=TASKS),
    Case(
        "reopen the milk task",
        reopen("Buy milk"),
        tasks=TASKS,
        completed=["Buy milk"],
        reply_contains="Reopened",
    ),
    Case(
        "rename the milk one to buy oat milk",
        update("Buy milk", title="Buy oat milk"),
        tasks=TASKS,
        reply_contains="Buy oat milk",
    ),
    Case("move the report to friday", update("Write report", due="2031-01-17"), tasks=TASKS),
    Case("make the report high priority", update("Write report", priority="high"), tasks=TASKS),
    Case(
        "change the priority of the report to low",
        update("Write report", priority="low"),
        tasks=TASKS,
    ),
    Case("I'm done with the report", complete("Write report"), tasks=TASKS),
    Case("tag call mom with #family", update("Call mom", tags=["family"]), tasks=TASKS),
    Case("the report is due next monday", update("Write report", due="2031-01-20"), tasks=TASKS),
    Case("clear the due date of the report", update("Write report", clear_due=True), tasks=TASKS),
    Case(
        "add a note to the report: include Q3 numbers",
        update("Write report", notes="include Q3 numbers"),
        tasks=TASKS,
    ),
    # By position in the last list shown (read back from the history).
    Case("complete the second one", [at_line("complete_task", 2)], tasks=TASKS, list_first=True),
    Case("mark the first one as done", [at_line("complete_task", 1)], tasks=TASKS, list_first=True),
    Case(
        "complete 1 and 3",
        [at_line("complete_task", 1), at_line("complete_task", 3)],
        tasks=TASKS,
        list_first=True,
    ),
    Case("delete the last one", [at_line("delete_task", 3)], tasks=TASKS, list_first=True),
    Case("show the second one", [at_line("get_task", 2)], tasks=TASKS, list_first=True),
    Case(
        "rename the second one to call dad",
        [at_line("update_task", 2, title="Call dad")],
        tasks=TASKS,
        list_first=True,
    ),
    # By id.
    Case("complete task @Call mom", [("complete_task", {"task_id": "@Call mom"})], tasks=TASKS),
    Case("show task @Write report", [("get_task", {"task_id": "@Write report"})], tasks=TASKS),
    # Honest replies without tools.
    Case("help", [], reply_contains="offline assistant"),
    Case("what can you do?", [], reply_contains="add buy milk tomorrow"),
    Case("hello", [], reply_contains="help"),
    Case("what is the meaning of life", [], reply_contains="didn't understand"),
    Case("complete the second one", [], tasks=TASKS, reply_contains="list my tasks"),
    Case("mark the spaceship one done", [LIST_OPEN], tasks=TASKS, reply_contains="couldn't find"),
    # Urdu: handed off to the Urdu agent, which answers in Urdu.
    Case("دودھ خریدنا شامل کریں", [add("دودھ خریدنا")], urdu=True, reply_contains="شامل"),
    Case(
        "کل دودھ اور انڈے خریدنا شامل کریں",
        [add("دودھ اور انڈے خریدنا", due="2031-01-16")],
        urdu=True,
    ),
    Case("اہم بل ادا کرنا شامل کریں", [add("بل ادا کرنا", priority="high")], urdu=True),
    Case(
        "پرسوں ڈاکٹر کے پاس جانا شامل کریں", [add("ڈاکٹر کے پاس جانا", due="2031-01-17")], urdu=True
    ),
    Case("دودھ خریدنا، انڈے خریدنا شامل کریں", [add("دودھ خریدنا"), add("انڈے خریدنا")], urdu=True),
    Case("میرے کام دکھائیں", [LIST_OPEN], tasks=TASKS, urdu=True, reply_contains="آپ کے 3"),
    Case("آج کے کام دکھائیں", [LIST_OPEN], urdu=True),
    Case("مکمل شدہ کام دکھائیں", [LIST_DONE], urdu=True),
    Case(
        "پہلا کام مکمل کریں",
        [at_line("complete_task", 1)],
        tasks=TASKS,
        list_first=True,
        urdu=True,
        reply_contains="مکمل",
    ),
    Case(
        "دودھ والا کام مکمل کریں",
        complete("دودھ خریدنا"),
        tasks=["دودھ خریدنا", "Call mom"],
        urdu=True,
    ),
    Case("مدد", [], urdu=True, reply_contains="شامل کریں"),
    Case("جمعہ کو بل ادا کرنا شامل کریں", [add("بل ادا کرنا", due="2031-01-17")], urdu=True),
    # Repeating tasks carry their RRULE; undo, bulk previews and reminders call their tools.
    Case(
        "add yoga every monday",
        [add("Yoga", due="2031-01-20", recurrence="FREQ=WEEKLY;BYDAY=MO")],
        reply_contains="Yoga",
    ),
    Case(
        "undo that",
        [("undo_last_change", {})],
        tasks=["Buy milk"],
        list_first=True,
        reply_contains="Undone",
    ),
    Case(
        "push everything due today to tomorrow",
        [
            (
                "preview_bulk_change",
                {"action": "reschedule", "state": "open", "due": "today", "new_due": "2031-01-16"},
            )
        ],
        reply_contains="nothing to change",
    ),
    Case("remind me 30 minutes before the report", [LIST_ALL], reply_contains="couldn't find"),
]


def _resolve(value: Any, ids: dict[str, str], listed: list[str]) -> Any:
    if isinstance(value, str) and value.startswith("@#"):
        return listed[int(value[2:]) - 1]
    if isinstance(value, str) and value.startswith("@"):
        return ids[value[1:]]
    return value


@pytest.mark.parametrize("case", CASES, ids=[f"{i:02d}-{c.text[:40]}" for i, c in enumerate(CASES)])
async def test_utterance(
    case: Case, fixed_agent: AgentServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    caller = TaskCaller(user=user, stub=tasks_service.stub)
    ids: dict[str, str] = {}
    for title in case.tasks:
        task = await caller.create(title)
        ids[title] = task.id
        if title in case.completed:
            await caller.complete(task.id)
    history: list[tuple[str, str] | pb.ConversationMessage] = []
    listed: list[str] = []
    if case.list_first:
        shown = await respond(fixed_agent.stub, user.metadata, "list my tasks")
        history = [("user", "list my tasks"), *shown.as_history()]
        # The reply names the tasks as typed refs, not in its text.
        listed = [ref.id for ref in sorted(shown.tasks, key=lambda ref: ref.position)]
        assert "[id" not in shown.reply
        assert len(listed) == len(case.tasks)
    text = case.text
    for title, task_id in ids.items():
        text = text.replace(f"@{title}", task_id)

    run = await respond(fixed_agent.stub, user.metadata, text, history)

    expected = [
        (name, {k: _resolve(v, ids, listed) for k, v in args.items()}) for name, args in case.calls
    ]
    assert run.calls == expected, run.reply
    assert run.run_failed is None
    assert run.run_finished is not None
    assert all(finished.ok for finished in run.finished), [f.error_message for f in run.finished]
    assert run.reply.strip()
    if case.reply_contains:
        assert case.reply_contains in run.reply
    if case.urdu:
        assert [(h.from_agent, h.to_agent) for h in run.handoffs] == [
            ("Todo Assistant", "Urdu Assistant")
        ]
        assert run.run_finished.last_agent == "Urdu Assistant"
        assert is_urdu(run.reply.splitlines()[0])  # the words; task titles stay English
    else:
        assert run.handoffs == []


async def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert sum(case.urdu for case in CASES) >= 10


async def test_effects_reach_the_tasks_service(
    fixed_agent: AgentServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    """Not just the calls: the user's data really changes, with the due time in their zone."""
    user = await sign_up()
    caller = TaskCaller(user=user, stub=tasks_service.stub)
    await respond(
        fixed_agent.stub, user.metadata, "add call mom on friday at 5pm #family, high priority"
    )
    [task] = await caller.list_all()
    assert task.title == "Call mom"
    assert task.priority == tasks_pb.TASK_PRIORITY_HIGH
    assert list(task.tags) == ["family"]
    # 17:00 in London in January is 17:00 UTC.
    assert task.due_time.ToJsonString() == "2031-01-17T17:00:00Z"
    await respond(fixed_agent.stub, user.metadata, "mark the mom one done")
    [done] = await caller.list_all()
    assert done.state == tasks_pb.TASK_STATE_COMPLETED


async def test_a_repeating_task_reaches_the_tasks_service(
    fixed_agent: AgentServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    caller = TaskCaller(user=user, stub=tasks_service.stub)
    await respond(fixed_agent.stub, user.metadata, "team sync every other week at 10am")
    [task] = await caller.list_all()
    assert (task.title, task.recurrence) == ("Team sync", "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE")
    assert task.due_time.ToJsonString() == "2031-01-15T10:00:00Z"


async def test_it_refers_to_the_task_just_mentioned(
    fixed_agent: AgentServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    """The service keeps no state: "it" is found again in the history the caller sends."""
    user = await sign_up()
    added = await respond(fixed_agent.stub, user.metadata, "add renew the car insurance")
    [task] = added.finished[0].tasks
    history = [("user", "add renew the car insurance"), *added.as_history()]

    run = await respond(fixed_agent.stub, user.metadata, "mark it as done", history)

    assert run.calls == [("complete_task", {"task_id": task.id})]
    caller = TaskCaller(user=user, stub=tasks_service.stub)
    assert (await caller.get(task.id)).state == tasks_pb.TASK_STATE_COMPLETED
    run = await respond(
        fixed_agent.stub,
        user.metadata,
        "reopen it",
        [*history, ("user", "mark it as done"), *run.as_history()],
    )
    assert run.calls == [("reopen_task", {"task_id": task.id})]
