"""The offline model's reading of a composer tool (`offline.intents`): a brain dump is one task
per item, "plan my day" is today's and the overdue tasks, "find" is a search."""

from __future__ import annotations

from datetime import date, datetime

from todo.agent.v1 import agent_service_pb2 as pb
from todo_agent.intents import instruction_line
from todo_agent.offline.commands import Add, Chat, ListTasks, Search
from todo_agent.offline.conversation import intent_from_instructions
from todo_agent.offline.intents import MAX_ITEMS, implied_intent, intent_command

NOW = datetime(2031, 1, 15, 9, 0)


def test_a_brain_dump_is_one_task_per_line_bullet_or_comma() -> None:
    command = intent_command(
        "add_many", "buy milk tomorrow\n- call mom, high priority\n2. eggs, bread; pay rent", NOW
    )
    assert isinstance(command, Add)
    assert [t.title for t in command.tasks] == ["Buy milk", "Call mom", "Eggs", "Bread", "Pay rent"]
    assert command.tasks[0].due is not None and command.tasks[0].due.day == date(2031, 1, 16)
    assert command.tasks[1].priority == "high"


def test_a_brain_dump_keeps_at_most_so_many_items_and_says_so() -> None:
    command = intent_command("add_many", "\n".join(f"task {n}" for n in range(60)), NOW)
    assert isinstance(command, Add)
    assert len(command.tasks) == MAX_ITEMS
    assert str(MAX_ITEMS) in command.notice


def test_an_empty_brain_dump_says_how_to_do_one() -> None:
    assert isinstance(intent_command("add_many", "Brain dump", NOW), Chat)
    assert implied_intent("Brain dump: milk, eggs") == "add_many"
    assert implied_intent("add milk") == ""


def test_plan_day_and_find() -> None:
    plan = intent_command("plan_day", "anything", NOW)
    assert isinstance(plan, ListTasks)
    assert (plan.due, plan.overdue_too, plan.state) == ("today", True, "open")
    assert intent_command("search", "find dentist?", NOW) == Search(query="dentist")
    assert intent_command("", "add milk", NOW) is None


def test_the_intent_travels_in_the_instructions() -> None:
    line = instruction_line(pb.INTENT_ADD_MANY)
    assert intent_from_instructions("You are…" + line) == "add_many"
    assert intent_from_instructions("You are…") == ""
    assert instruction_line(pb.INTENT_UNSPECIFIED) == ""
