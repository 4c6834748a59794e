"""How a ChatKit stream reaches the client: Server-Sent Events with heartbeats and a clean
stop when the client goes away.

The SDK's byte stream (`data: <json>\\n\\n` per event) is read by a pump task into a small
queue; the response writes what arrives, and an SSE comment (`: keep-alive`) after every
`heartbeat_seconds` of silence so proxies and browsers keep an idle stream open.

The response listens for `http.disconnect` itself. When the client aborts (the Stop button),
it cancels the pump task once: the CancelledError reaches the SDK wherever it is waiting
(usually the gRPC stream inside `respond()`), the SDK stores the partial answer, `respond()`
cancels the agent call. Running the SDK in its own task keeps that clean-up out of any
framework cancel scope that would interrupt its database writes.

`EventStreamResponse.open` waits for the first event before the status line is sent, so a
failure that early raises (and can still be a problem response). A failure after the stream
started becomes a final `error` event, never a broken connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from chatkit.types import ErrorEvent
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

HEARTBEAT = b": keep-alive\n\n"
# How many events the SDK may run ahead of a slow client.
QUEUE_SIZE = 256
# How long a cancelled stream may take to store its partial answer.
CANCEL_GRACE_SECONDS = 10.0

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}

_GENERIC_STREAM_ERROR = ErrorEvent(
    code="custom",
    message="Something went wrong on our side while answering. Try again.",
    allow_retry=True,
)


@dataclass(frozen=True)
class StreamEnded:
    """The SDK stream finished."""


@dataclass(frozen=True)
class StreamFailed:
    """The SDK stream raised."""

    error: BaseException


def sse_event(event: ErrorEvent) -> bytes:
    """One SSE frame for an event, serialised as the SDK does."""
    body = event.model_dump_json(by_alias=True, exclude_none=True)
    return b"data: " + body.encode() + b"\n\n"


class StreamPump:
    """Reads the SDK's byte stream in its own task."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self.queue: asyncio.Queue[bytes | StreamEnded | StreamFailed] = asyncio.Queue(QUEUE_SIZE)
        self.task = asyncio.create_task(self._run(), name="chatkit-stream")

    async def _run(self) -> None:
        try:
            async for chunk in self._source:
                await self.queue.put(chunk)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.queue.put(StreamFailed(exc))
        else:
            await self.queue.put(StreamEnded())

    async def first(self) -> bytes | StreamEnded | StreamFailed:
        """The first thing the stream produced (its first event, end or failure)."""
        return await self.queue.get()

    async def stop(self) -> None:
        """Cancels the stream (if still running) and waits for its clean-up."""
        if not self.task.done():
            self.task.cancel()
        done, _ = await asyncio.wait({self.task}, timeout=CANCEL_GRACE_SECONDS)
        if not done:
            log.warning("chatkit stream did not stop in time")
        elif not self.task.cancelled() and self.task.exception() is not None:
            log.warning("chatkit stream ended with an error", exc_info=self.task.exception())


class EventStreamResponse(Response):
    """A `text/event-stream` response over a started `StreamPump` (a Starlette Response only
    so FastAPI passes it through; it writes its own headers and body)."""

    media_type = "text/event-stream"

    @classmethod
    async def open(
        cls, source: AsyncIterable[bytes], *, heartbeat_seconds: float
    ) -> EventStreamResponse:
        """Starts the stream and waits for its first event before any status is sent: a
        stream that fails that early raises its error here, so the caller can still answer
        with a problem. A stream that ends at once is an empty 200 stream."""
        pump = StreamPump(aiter(source))
        first = await pump.first()
        if isinstance(first, StreamFailed):
            await pump.stop()
            raise first.error
        if isinstance(first, StreamEnded):
            # Nothing to stream (e.g. a retry of an item that vanished meanwhile): the end goes
            # back in the queue, so the response ends at once instead of waiting for events.
            pump.queue.put_nowait(first)
            first = b""
        return cls(pump, first, heartbeat_seconds=heartbeat_seconds)

    def __init__(
        self,
        pump: StreamPump,
        first: bytes,
        *,
        heartbeat_seconds: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=200)
        self._pump = pump
        self._first = first
        self._heartbeat = heartbeat_seconds
        self._stream_headers = {**STREAM_HEADERS, **(headers or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in self._stream_headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        disconnected = asyncio.create_task(_wait_for_disconnect(receive))
        next_item: asyncio.Task[bytes | StreamEnded | StreamFailed] | None = None
        queue = self._pump.queue
        # The first event goes out with whatever followed it meanwhile.
        first: bytes | None = self._first
        try:
            while True:
                item: bytes | StreamEnded | StreamFailed
                if first is not None:
                    item, first = first, None
                elif disconnected.done():
                    log.info("chatkit client disconnected")
                    return
                elif not queue.empty():
                    # Events already waiting need no task, no timer and no wait.
                    item = queue.get_nowait()
                else:
                    if next_item is None:
                        next_item = asyncio.create_task(queue.get())
                    done, _ = await asyncio.wait(
                        {next_item, disconnected},
                        timeout=self._heartbeat,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if disconnected in done:
                        log.info("chatkit client disconnected")
                        return
                    if next_item not in done:
                        await _body(send, HEARTBEAT)
                        continue
                    item = next_item.result()
                    next_item = None
                # Every event that is already there goes out in one write: the same bytes,
                # fewer sends through the middleware stack and fewer socket writes.
                frames: list[bytes] = []
                while isinstance(item, bytes):
                    frames.append(item)
                    if queue.empty():
                        break
                    item = queue.get_nowait()
                if isinstance(item, StreamEnded):
                    # The last frames and the end of the body in one write.
                    await send(
                        {"type": "http.response.body", "body": b"".join(frames), "more_body": False}
                    )
                    return
                await _body(send, b"".join(frames))
                if isinstance(item, StreamFailed):
                    log.error("chatkit stream failed", exc_info=item.error)
                    await _body(send, sse_event(_GENERIC_STREAM_ERROR))
                    break
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if next_item is not None:
                next_item.cancel()
            disconnected.cancel()
            await self._pump.stop()


async def _body(send: Send, chunk: bytes) -> None:
    if chunk:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
