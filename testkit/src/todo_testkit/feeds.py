"""Reading `GET /api/events` (the live change feed, SSE) in tests, frame by frame.

async with open_feed(http) as feed:
    ready = await feed.next_frame()          # event: ready
    ... make a change ...
    change = await feed.next_task_event()    # event: task
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

# A bound on a hang (the test fails), not a latency claim.
FRAME_WAIT_SECONDS = 10.0


@dataclass
class Frame:
    """One SSE frame: its `event:` name, `id:`, parsed `data:` and comment lines."""

    event: str = "message"
    id: str | None = None
    data: Any = None
    comments: list[str] = field(default_factory=list)


class Feed:
    """An open /api/events response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.start_cursor: str | None = None

    async def _read_frame(self) -> Frame:
        frame = Frame()
        data: list[str] = []
        seen = False
        async for line in self._lines:
            if line == "":
                if seen:
                    if data:
                        frame.data = json.loads("\n".join(data))
                    return frame
                continue
            seen = True
            if line.startswith(":"):
                frame.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                frame.event = value
            elif name == "id":
                frame.id = value
            elif name == "data":
                data.append(value)
        raise EOFError("the event stream ended")

    async def next_frame(self, within: float = FRAME_WAIT_SECONDS) -> Frame:
        """The next frame (heartbeat comments included)."""
        return await asyncio.wait_for(self._read_frame(), within)

    async def next_task_event(self, within: float = FRAME_WAIT_SECONDS) -> Frame:
        """The next `event: task` frame, skipping heartbeats."""
        return await self.next_event("task", within)

    async def next_event(self, name: str, within: float = FRAME_WAIT_SECONDS) -> Frame:
        """The next frame named `name` (`task`, `reminder`), skipping heartbeats and others."""
        async with asyncio.timeout(within):
            while True:
                frame = await self._read_frame()
                if frame.event == name:
                    return frame


@asynccontextmanager
async def open_feed(
    http: httpx.AsyncClient, last_event_id: str | None = None
) -> AsyncIterator[Feed]:
    """Opens the feed; asserts it answered 200 with an `event: ready` frame first."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with http.stream("GET", "/api/events", headers=headers) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        feed = Feed(response)
        ready = await feed.next_frame()
        assert ready.event == "ready", ready
        assert ready.id == ready.data["cursor"]
        feed.start_cursor = ready.id
        yield feed
