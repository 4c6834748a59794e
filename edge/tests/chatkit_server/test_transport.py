"""The SSE transport on its own: frames pass through untouched, silence gets heartbeats, and a
failure after the stream started ends it with an `error` event instead of a broken body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from todo_edge.chatkit.transport import HEARTBEAT, EventStreamResponse, StreamPump
from todo_testkit.chatkit import parse_sse


def _app(source: Callable[[], AsyncIterator[bytes]], heartbeat: float) -> Starlette:
    async def endpoint(_request: Request) -> Response:
        pump = StreamPump(source())
        first = await pump.first()
        assert isinstance(first, bytes)
        return EventStreamResponse(pump, first, heartbeat_seconds=heartbeat)

    return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


def _after_two_heartbeats(app: ASGIApp, sent: asyncio.Event) -> ASGIApp:
    """`app`, setting `sent` once it has sent two heartbeats: a silent source waits for them
    instead of for a length of time."""

    async def watching(scope: Scope, receive: Receive, send: Send) -> None:
        heartbeats = 0

        async def watch(message: Message) -> None:
            nonlocal heartbeats
            await send(message)
            if message["type"] == "http.response.body" and message.get("body") == HEARTBEAT:
                heartbeats += 1
                if heartbeats == 2:
                    sent.set()

        await app(scope, receive, watch)

    return watching


async def _post(app: ASGIApp) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post("/")


def _frame(event: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


async def test_frames_pass_through_with_heartbeats_in_silences() -> None:
    heartbeats_sent = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        yield _frame({"type": "stream_options", "stream_options": {"allow_cancel": True}})
        # Silent until the response has filled the silence with two heartbeats.
        await asyncio.wait_for(heartbeats_sent.wait(), 10)
        yield _frame({"type": "progress_update", "text": "Adding task…"})

    response = await _post(_after_two_heartbeats(_app(source, heartbeat=0.05), heartbeats_sent))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    events, heartbeats = parse_sse(response.text)
    assert [event["type"] for event in events] == ["stream_options", "progress_update"]
    assert heartbeats >= 2
    assert response.text.startswith("data: ")


async def test_failure_after_start_is_a_final_error_event() -> None:
    async def source() -> AsyncIterator[bytes]:
        yield _frame({"type": "thread.created"})
        raise RuntimeError("the database went away")

    response = await _post(_app(source, heartbeat=5))
    events, _ = parse_sse(response.text)
    assert events == [
        {"type": "thread.created"},
        {
            "type": "error",
            "code": "custom",
            "message": "Something went wrong on our side while answering. Try again.",
            "allow_retry": True,
        },
    ]
    assert "database" not in response.text


async def test_open_raises_a_failure_before_the_first_event_and_stops_the_stream() -> None:
    stopped = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        try:
            raise LookupError("no such thread")
            yield b""  # an async generator
        finally:
            stopped.set()

    with pytest.raises(LookupError):
        await EventStreamResponse.open(source(), heartbeat_seconds=5)
    assert stopped.is_set()


async def test_open_answers_a_stream_that_ends_at_once_with_an_empty_200() -> None:
    async def source() -> AsyncIterator[bytes]:
        return
        yield b""  # an async generator

    async def endpoint(_request: Request) -> Response:
        return await EventStreamResponse.open(source(), heartbeat_seconds=5)

    response = await _post(Starlette(routes=[Route("/", endpoint, methods=["POST"])]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.text == ""


async def test_open_passes_the_first_event_and_the_rest_through() -> None:
    async def source() -> AsyncIterator[bytes]:
        yield _frame({"type": "thread.created"})
        yield _frame({"type": "stream_options"})

    async def endpoint(_request: Request) -> Response:
        return await EventStreamResponse.open(source(), heartbeat_seconds=5)

    response = await _post(Starlette(routes=[Route("/", endpoint, methods=["POST"])]))
    events, heartbeats = parse_sse(response.text)
    assert (events, heartbeats) == ([{"type": "thread.created"}, {"type": "stream_options"}], 0)


async def test_frames_queued_together_leave_in_one_write_with_the_end() -> None:
    """What the source yields back to back (the opening frames, the last ones) reaches the
    socket as one body message; the last one also ends the body."""

    async def source() -> AsyncIterator[bytes]:
        yield _frame({"type": "thread.created"})
        yield _frame({"type": "thread.item.done"})
        yield _frame({"type": "stream_options"})
        await asyncio.sleep(0.01)
        yield _frame({"type": "thread.updated"})

    async def endpoint(_request: Request) -> Response:
        return await EventStreamResponse.open(source(), heartbeat_seconds=5)

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])])
    bodies: list[tuple[bytes, bool]] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        async def record(message: Message) -> None:
            if message["type"] == "http.response.body":
                bodies.append((message.get("body", b""), message.get("more_body", False)))
            await send(message)

        await app(scope, receive, record)

    response = await _post(recording)
    opening = [{"type": t} for t in ("thread.created", "thread.item.done", "stream_options")]
    assert parse_sse(response.text) == ([*opening, {"type": "thread.updated"}], 0)
    assert [parse_sse(body.decode())[0] for body, _ in bodies] == [
        opening,
        [{"type": "thread.updated"}],
    ]
    assert [more for _, more in bodies] == [True, False]
