"""The offline model's SDK side read directly, no server: how it reads the runner's input items
(`conversation`), what it returns (`model`), and the events it streams them as (`stream`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from agents import ModelSettings, ModelTracing
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)
from todo_agent.offline import stream
from todo_agent.offline.conversation import clock_from_instructions, read_turn
from todo_agent.offline.model import OfflineModel

INSTRUCTIONS = (
    "You help with tasks.\nCurrent local time: 2031-01-15T09:00:00\nTime zone: Europe/London"
)
TOOLS: Any = [SimpleNamespace(name=name) for name in ("add_task", "list_tasks", "complete_task")]
URDU_HANDOFF: Any = [SimpleNamespace(tool_name="transfer_to_urdu_assistant")]


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "output_text", "text": text}]}


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": json.dumps(arguments),
    }


def output(call_id: str, value: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": value}


def test_read_turn_splits_history_message_and_this_turns_calls() -> None:
    items: Any = [
        user("list my tasks"),
        assistant("1. Buy milk [id: t1]"),
        call("old", "list_tasks", {}),
        output("old", '{"ok": true}'),
        user("complete the first one"),
        call("c1", "complete_task", {"task_id": "t1"}),
        output("c1", '{"ok": true, "tasks": []}'),
        call("c2", "complete_task", {"task_id": "t2"}),
    ]
    turn = read_turn(INSTRUCTIONS, items)
    assert turn.user_text == "complete the first one"
    assert turn.history == [("user", "list my tasks"), ("assistant", "1. Buy milk [id: t1]")]
    assert [(c.call_id, c.arguments, c.output) for c in turn.calls] == [
        ("c1", {"task_id": "t1"}, {"ok": True, "tasks": []}),
        ("c2", {"task_id": "t2"}, None),
    ]
    assert turn.call_count == 3
    assert not turn.handed_off
    assert turn.now == datetime(2031, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/London"))


def test_read_turn_treats_output_that_is_not_a_json_object_as_a_failed_call() -> None:
    items: Any = [
        user("add milk"),
        call("c1", "add_task", {}),
        output("c1", "not json"),
        call("c2", "add_task", {}),
        output("c2", "[1, 2]"),
        output("unknown", '{"ok": true}'),
    ]
    turn = read_turn(None, items)
    assert [c.output for c in turn.calls] == [{"ok": False, "error": "internal"}] * 2


def test_read_turn_notices_a_handoff_and_a_plain_string_input() -> None:
    items: Any = [user("دودھ"), call("h", "transfer_to_urdu_assistant", {})]
    turn = read_turn(None, items)
    assert turn.handed_off and turn.calls == []
    assert read_turn(None, "add milk").user_text == "add milk"


@pytest.mark.parametrize(
    ("instructions", "expected"),
    [
        (
            "Current local time: 2031-01-15T09:00\nTime zone: Asia/Karachi",
            datetime(2031, 1, 15, 9, 0, tzinfo=ZoneInfo("Asia/Karachi")),
        ),
        # An aware time is converted into the zone.
        (
            "Current local time: 2031-01-15T09:00+00:00\ntime zone: Asia/Karachi",
            datetime(2031, 1, 15, 14, 0, tzinfo=ZoneInfo("Asia/Karachi")),
        ),
        (
            "Current local time: 2031-01-15T09:00\nTime zone: Not/AZone",
            datetime(2031, 1, 15, 9, 0, tzinfo=UTC),
        ),
    ],
)
def test_clock_from_instructions(instructions: str, expected: datetime) -> None:
    moment = clock_from_instructions(instructions)
    assert moment == expected
    assert moment.utcoffset() == expected.utcoffset()


def test_clock_without_a_time_line_is_now() -> None:
    before = datetime.now(UTC)
    assert before <= clock_from_instructions("no clock here") <= datetime.now(UTC)


def test_urdu_is_handed_off_first_then_answered() -> None:
    model = OfflineModel()
    items: Any = [user("دودھ خریدنا شامل کریں")]
    [handoff] = model.respond(INSTRUCTIONS, items, TOOLS, URDU_HANDOFF)
    assert isinstance(handoff, ResponseFunctionToolCall)
    assert handoff.name == "transfer_to_urdu_assistant"
    items += [handoff.model_dump(), output(handoff.call_id, "{}")]
    [add] = model.respond(INSTRUCTIONS, items, TOOLS, [])
    assert isinstance(add, ResponseFunctionToolCall)
    assert (add.name, json.loads(add.arguments)) == ("add_task", {"title": "دودھ خریدنا"})
    # Call ids count the calls already in the input, so they never repeat.
    assert add.call_id != handoff.call_id


def test_without_the_tools_it_needs_it_says_so_and_calls_nothing() -> None:
    [reply] = OfflineModel().respond(INSTRUCTIONS, "delete task t-1234567890ab", TOOLS, [])
    assert isinstance(reply, ResponseOutputMessage)
    [text] = reply.content
    assert isinstance(text, ResponseOutputText)
    assert text.text == "I can't reach the task tools right now."


async def test_get_response_and_stream_response_carry_the_same_output() -> None:
    model = OfflineModel(words_per_delta=2)
    args: Any = (
        INSTRUCTIONS,
        "add milk and eggs",
        ModelSettings(),
        TOOLS,
        None,
        [],
        ModelTracing.DISABLED,
    )
    options: Any = {"previous_response_id": None, "conversation_id": None, "prompt": None}
    response = await model.get_response(*args, **options)
    events = [event async for event in model.stream_response(*args, **options)]
    assert events[-1].type == "response.completed"
    assert [item.model_dump() for item in events[-1].response.output] == [
        item.model_dump() for item in response.output
    ]


def test_stream_events_are_numbered_and_rebuild_each_item() -> None:
    text = "Added 2 tasks:\n1. Milk\n2. Eggs"
    items: Any = [stream.function_call("add_task", {"title": "Milk"}, 1), stream.message(text, 2)]
    events = stream.stream_events(items, words_per_delta=2)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created"
    assert [e.type for e in events if e.type.startswith("response.output_item")] == [
        "response.output_item.added",
        "response.output_item.done",
    ] * 2
    arguments = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert arguments == ['{"title":"Milk"}']
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == text
    assert len(deltas) == 4
