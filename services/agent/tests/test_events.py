"""Text delta coalescing and tool deadlines, at the unit level where time can be faked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from agents import RawResponsesStreamEvent
from agents.testing import assistant_message
from openai.types.responses import ResponseOutputItemDoneEvent, ResponseTextDeltaEvent
from todo_agent.context import AgentContext
from todo_agent.events import EventMapper


def _context(deadline_in: float = 60.0, cap: float = 10.0) -> AgentContext:
    return AgentContext(
        user_id="u",
        token="t",
        tasks=None,  # type: ignore[arg-type]
        time_zone=ZoneInfo("UTC"),
        now=datetime.now(UTC),
        deadline=asyncio.get_running_loop().time() + deadline_in,
        tool_timeout_seconds=cap,
    )


def _delta(text: str) -> RawResponsesStreamEvent:
    return RawResponsesStreamEvent(
        data=ResponseTextDeltaEvent(
            type="response.output_text.delta",
            item_id="m",
            output_index=0,
            content_index=0,
            delta=text,
            logprobs=[],
            sequence_number=0,
        )
    )


def _done(text: str) -> RawResponsesStreamEvent:
    message = assistant_message(text, item_id="m")
    return RawResponsesStreamEvent(
        data=ResponseOutputItemDoneEvent(
            type="response.output_item.done", item=message, output_index=0, sequence_number=1
        )
    )


async def test_deltas_are_coalesced_by_time_and_size() -> None:
    now = [0.0]
    mapper = EventMapper(
        _context(),
        "Todo Assistant",
        flush_interval_seconds=0.03,
        flush_chars=10,
        clock=lambda: now[0],
    )
    out: list[Any] = []

    def feed(event: RawResponsesStreamEvent) -> None:
        out.extend(mapper.map(event))

    feed(_delta("Hi"))  # the first delta goes out at once
    feed(_delta(" th"))  # buffered: 3 chars, no time passed
    feed(_delta("ere"))  # buffered: 6 chars
    now[0] = 0.05
    feed(_delta("!"))  # 30 ms passed: flush " there!"
    feed(_delta(" 0123456789"))  # 11 chars ≥ 10: flush at once
    feed(_delta(" end"))  # buffered
    feed(_done("Hi there! 0123456789 end"))  # flushed before the message ends
    kinds = [e.WhichOneof("event") for e in out]
    assert kinds == [
        "message_started",
        "text_delta",
        "text_delta",
        "text_delta",
        "text_delta",
        "message_done",
    ]
    assert [e.text_delta.delta for e in out if e.HasField("text_delta")] == [
        "Hi",
        " there!",
        " 0123456789",
        " end",
    ]
    assert out[-1].message_done.text == "Hi there! 0123456789 end"
    assert out[0].message_started.agent_name == "Todo Assistant"


async def test_tool_deadline_is_the_smaller_of_remaining_time_and_cap() -> None:
    assert _context(deadline_in=60.0, cap=10.0).tool_timeout() == 10.0
    short = _context(deadline_in=2.0, cap=10.0).tool_timeout()
    assert 1.5 < short <= 2.0
    assert _context(deadline_in=-1.0, cap=10.0).tool_timeout() == 0.0


async def test_buffered_text_is_flushed_while_the_model_pauses(
    auth_service: Any, tasks_service: Any, sign_up: Any
) -> None:
    """Text waiting in the buffer goes out on a timer (~30 ms), not only when the model sends
    more: here the model pauses until the client has received its second piece of text."""
    from agents.testing import ModelStep, ScriptedModel
    from todo.agent.v1 import agent_service_pb2 as pb
    from todo_agent.offline import stream as offline_stream
    from todo_testkit.agent import running_agent_service

    text = "Hello there my friend, the pause is here and then the rest follows."
    events = offline_stream.stream_events([offline_stream.message(text, 0)])
    deltas = [i for i, e in enumerate(events) if e.type == "response.output_text.delta"]
    release = asyncio.Event()

    async def stream(_call: Any) -> Any:
        for index, event in enumerate(events):
            if index == deltas[2]:
                await release.wait()
            yield event

    user = await sign_up()
    model = ScriptedModel([ModelStep.stream(stream)])
    async with running_agent_service(
        auth_service, tasks_service.address, custom_model=model
    ) as agent:
        call = agent.stub.Respond(pb.RespondRequest(input="hi"), metadata=user.metadata, timeout=10)
        received: list[str] = []
        async with asyncio.timeout(10):
            async for event in call:
                if event.HasField("text_delta"):
                    received.append(event.text_delta.delta)
                    if len(received) == 2:
                        release.set()
    # (A space at a delta's end waits for the next delta: it may precede a task mark.)
    assert received[:2] == ["Hello there my", " friend, the pause"]
    assert "".join(received) == text
