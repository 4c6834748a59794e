"""Issue 5 benchmark: ChatKit over the edge (`POST /chatkit`, Server-Sent Events).

todo-auth, todo-tasks, todo-agent (AGENT_MODEL=offline) and todo-edge run as real processes
on PostgreSQL. Measured from the client:

- time to first SSE byte and to the first text delta of `threads.add_user_message` at
  concurrency 1, on an existing thread, over raw asyncio sockets (the connection is opened
  before the clock starts; the request is written, then every read is timestamped);
- `items.list` of 200 items (a thread filled by chat) with wrk, p50/p95/p99;
- how many ChatKit streams are open at once with zero errors, and the edge's memory (VmRSS
  from /proc) while they are (see the definition printed with the table).

    uv run python -m bench.chatkit_sse [--seconds 8] [--max-streams 1000] [--env NAME=VALUE]

Prints Markdown for bench/README.md. Needs wrk (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from todo_testkit.chatkit import ChatClient, user_message

from bench.load import (
    add_env_option,
    closing_notes,
    env_overrides,
    errors_cell,
    ramp,
    release_together,
)
from bench.load import percentile as pct
from bench.stack import RATE_LIMIT_NOTE, backend_stack, rss_kib
from bench.wrk import DONE_HOOK, require_wrk, run_wrk

PASSWORD = "benchmark password 1"
ITEMS = 200
STREAM_DEADLINE_SECONDS = 120.0
TEXT_DELTA = b"assistant_message.content_part.text_delta"


class StreamError(Exception):
    """A ChatKit stream that did not end well."""


@dataclass
class RawStream:
    """One streamed answer read over a raw socket, with perf_counter() timestamps."""

    written: float
    first_byte: float | None = None
    first_delta: float | None = None
    ended: float = 0.0
    status: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


def _dechunk(body: bytes) -> bytes:
    """The payload of an HTTP/1.1 chunked body."""
    out = bytearray()
    position = 0
    while True:
        line_end = body.index(b"\r\n", position)
        size = int(body[position:line_end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        start = line_end + 2
        out += body[start : start + size]
        position = start + size + 2


def _parse(raw: bytes, stream: RawStream) -> None:
    """Status and SSE events of a complete response; raises StreamError if it is not a
    healthy stream (200, text/event-stream, no error event, an assistant message done)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    stream.status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    if stream.status != 200:
        raise StreamError(f"HTTP {stream.status}")
    if not headers.get("content-type", "").startswith("text/event-stream"):
        raise StreamError(f"content-type {headers.get('content-type')}")
    for frame in body.decode().split("\n\n"):
        if frame.startswith("data: "):
            stream.events.append(json.loads(frame[len("data: ") :]))
    errors = [event for event in stream.events if event["type"] == "error"]
    if errors:
        retry = "allow_retry" if errors[0].get("allow_retry") else "no retry"
        raise StreamError(f"error event ({retry}): {str(errors[0].get('message'))[:50]}")
    done = [e["item"]["type"] for e in stream.events if e["type"] == "thread.item.done"]
    if "assistant_message" not in done:
        raise StreamError("no assistant message")


class Edge:
    """Raw HTTP/1.1 to the edge: one connection per streamed request (`Connection: close`,
    so the end of the stream is the end of the connection)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)

    def request(self, op: str, params: dict[str, Any]) -> bytes:
        body = json.dumps({"type": op, "params": params}).encode()
        head = (
            f"POST /chatkit HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + body

    async def stream(
        self,
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        request: bytes,
        *,
        on_first_byte: Callable[[], None] | None = None,
    ) -> RawStream:
        """Writes `request` on an open connection and reads the answer to its end."""
        reader, writer = connection
        stream = RawStream(written=time.perf_counter())
        writer.write(request)
        received = bytearray()
        try:
            while data := await reader.read(65536):
                now = time.perf_counter()
                if stream.first_byte is None:
                    stream.first_byte = now
                    if on_first_byte is not None:
                        on_first_byte()
                # Look at the seam too: the marker may straddle two reads.
                seam = bytes(received[-len(TEXT_DELTA) :]) + data
                received += data
                if stream.first_delta is None and TEXT_DELTA in seam:
                    stream.first_delta = now
            stream.ended = time.perf_counter()
        finally:
            writer.close()
        _parse(bytes(received), stream)
        return stream


async def timed_turns(
    edge: Edge, thread_id: str, text: str, seconds: float, warmup: int = 3
) -> dict[str, list[float]]:
    """add_user_message turns one after another for `seconds` (after `warmup` turns)."""
    samples: dict[str, list[float]] = {"first_byte": [], "first_delta": [], "total": []}
    request = edge.request(
        "threads.add_user_message", {"thread_id": thread_id, "input": user_message(text)}
    )
    for _ in range(warmup):
        await edge.stream(await edge.connect(), request)
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at:
        stream = await edge.stream(await edge.connect(), request)
        assert stream.first_byte is not None
        if stream.first_delta is None:
            raise StreamError("no text delta")
        samples["first_byte"].append((stream.first_byte - stream.written) * 1000)
        samples["first_delta"].append((stream.first_delta - stream.written) * 1000)
        samples["total"].append((stream.ended - stream.written) * 1000)
    return samples


@dataclass
class HoldResult:
    """N ChatKit streams started together."""

    streams: int
    held: int
    errors: Counter[str]
    peak_in_flight: int
    peak_streaming: int
    seconds: float
    first_byte_p50_ms: float
    total_max_ms: float
    rss_before_kib: int
    rss_peak_kib: int
    rss_after_kib: int


async def hold_streams(edge: Edge, edge_pid: int, count: int) -> HoldResult:
    """Opens `count` connections, then writes `count` threads.create requests at the same
    moment and reads every stream to its end (STREAM_DEADLINE_SECONDS each)."""
    in_flight = 0
    streaming = 0
    peak_in_flight = 0
    peak_streaming = 0
    errors: Counter[str] = Counter()
    firsts: list[float] = []
    totals: list[float] = []
    gate = asyncio.Event()
    request = edge.request("threads.create", {"input": user_message("list my tasks")})
    rss_before = rss_kib(edge_pid)
    rss_peak = rss_before
    sampling = True

    async def sample_rss() -> None:
        nonlocal rss_peak
        while sampling:
            rss_peak = max(rss_peak, rss_kib(edge_pid))
            await asyncio.sleep(0.05)

    async def one(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        nonlocal in_flight, streaming, peak_in_flight, peak_streaming
        await gate.wait()
        in_flight += 1
        peak_in_flight = max(peak_in_flight, in_flight)
        began_streaming = False

        def first_byte() -> None:
            nonlocal streaming, peak_streaming, began_streaming
            began_streaming = True
            streaming += 1
            peak_streaming = max(peak_streaming, streaming)

        try:
            async with asyncio.timeout(STREAM_DEADLINE_SECONDS):
                stream = await edge.stream(connection, request, on_first_byte=first_byte)
            assert stream.first_byte is not None
            firsts.append((stream.first_byte - stream.written) * 1000)
            totals.append((stream.ended - stream.written) * 1000)
        except TimeoutError:
            errors["deadline"] += 1
        except (StreamError, OSError, ValueError) as exc:
            errors[f"{type(exc).__name__}: {str(exc)[:40]}"] += 1
        finally:
            in_flight -= 1
            if began_streaming:
                streaming -= 1

    connections = []
    connect_errors = 0
    for _ in range(count):
        try:
            connections.append(await edge.connect())
        except OSError:
            connect_errors += 1
    if connect_errors:
        errors["connect"] += connect_errors
    sampler = asyncio.ensure_future(sample_rss())
    elapsed = await release_together(gate, (one(c) for c in connections), settle_seconds=0.1)
    sampling = False
    await sampler
    return HoldResult(
        streams=count,
        held=len(totals),
        errors=errors,
        peak_in_flight=peak_in_flight,
        peak_streaming=peak_streaming,
        seconds=elapsed,
        first_byte_p50_ms=statistics.median(firsts) if firsts else float("nan"),
        total_max_ms=max(totals) if totals else float("nan"),
        rss_before_kib=rss_before,
        rss_peak_kib=rss_peak,
        rss_after_kib=rss_kib(edge_pid),
    )


async def sign_up(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/api/auth/signup",
        json={"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def signed_up_chat(http: httpx.AsyncClient) -> tuple[str, ChatClient]:
    """A new user's access token and ChatKit client (`http` now sends the token)."""
    token = await sign_up(http)
    http.headers["Authorization"] = f"Bearer {token}"
    return token, ChatClient(http)


async def fill_thread(chat: ChatClient) -> tuple[str, int, int]:
    """A thread with at least ITEMS items, made by chatting ("add …" turns, then "help"
    turns to land on ITEMS or just past it). Returns its id, the turns it took and its
    item count."""
    first = await chat.create("add filler task 0")
    thread_id = first.thread_id
    turns = 1

    async def count() -> int:
        page = await chat.items(thread_id, limit=1000)
        return len(page["data"])

    items = await count()
    while items < ITEMS:
        text = f"add filler task {turns}" if ITEMS - items > 4 else "help"
        said = await chat.say(thread_id, text)
        if said.of("error"):
            raise StreamError(f"filling the thread: {said.of('error')}")
        turns += 1
        items = await count()
    return thread_id, turns, items


async def main(seconds: float, max_streams: int, env: dict[str, str]) -> None:
    wrk = require_wrk()
    async with backend_stack("auth", "tasks", "agent", "edge", extra_env=env) as stack:
        edge_process = stack["edge"]
        async with httpx.AsyncClient(base_url=edge_process.url, timeout=60) as http:
            token, chat = await signed_up_chat(http)
            for i in range(3):
                created = await http.post("/api/tasks", json={"title": f"listed task {i}"})
                assert created.status_code == 201, created.text
            add_thread = (await chat.create("hello")).thread_id
            list_thread = (await chat.create("hello")).thread_id
            fill_started = time.perf_counter()
            items_thread, turns, filled = await fill_thread(chat)
            fill_seconds = time.perf_counter() - fill_started
            page = await chat.items(items_thread, limit=ITEMS)
            assert len(page["data"]) == ITEMS, len(page["data"])

        edge = Edge(edge_process.port, token)
        print(
            f"### threads.add_user_message at concurrency 1 (offline model, PostgreSQL), "
            f"{seconds:.0f} s per row\n"
        )
        print(
            "| input | turns | first SSE byte p50 ms | p95 | first text delta p50 ms | p95 | "
            "whole stream p50 ms | p95 |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        )
        deltas: dict[str, float] = {}
        for name, thread_id, text in (
            ('"add benchmark task"', add_thread, "add benchmark task"),
            ('"list my tasks" (3 tasks)', list_thread, "list my tasks"),
        ):
            samples = await timed_turns(edge, thread_id, text, seconds)
            deltas[name] = pct(samples["first_delta"], 50)
            print(
                f"| {name} | {len(samples['total'])} | {pct(samples['first_byte'], 50):.2f} | "
                f"{pct(samples['first_byte'], 95):.2f} | {pct(samples['first_delta'], 50):.2f} | "
                f"{pct(samples['first_delta'], 95):.2f} | {pct(samples['total'], 50):.2f} | "
                f"{pct(samples['total'], 95):.2f} |",
                flush=True,
            )
        print(
            "\nThe thread grows by one exchange per turn (the agent gets at most "
            "EDGE_CHATKIT_HISTORY_ITEMS=30 recent items as history). The edge sends the "
            "status line only once the first ChatKit event exists, so the first byte is the "
            "first event. Raw sockets, connection opened before the clock starts."
        )

        folder = Path(tempfile.mkdtemp(prefix="bench-chatkit-"))
        script = folder / "items.lua"
        body = json.dumps(
            {
                "type": "items.list",
                "params": {"thread_id": items_thread, "limit": ITEMS, "order": "asc"},
            }
        )
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n' + DONE_HOOK
        )
        print(
            f"\n### items.list of {ITEMS} items (wrk, {seconds:.0f} s per row)\n\n"
            "| connections | RPS | p50 ms | p95 ms | p99 ms | errors |\n"
            "|---:|---:|---:|---:|---:|---:|"
        )
        items_p95 = 0.0
        for connections in (1, 8):
            await run_wrk(wrk, edge_process.url + "/chatkit", script, "items", connections, 1)
            result = await run_wrk(
                wrk, edge_process.url + "/chatkit", script, "items", connections, seconds
            )
            if connections == 1:
                items_p95 = result.p95_ms
            print(
                f"| {connections} | {result.rps:,.0f} | {result.p50_ms:.2f} | "
                f"{result.p95_ms:.2f} | {result.p99_ms:.2f} | {result.errors} |",
                flush=True,
            )
        print(
            f'\nThe thread was filled by chat: {turns} turns ("add filler task N", then '
            f'"help"; user messages, task cards and assistant messages: {filled} items) in '
            f"{fill_seconds:.1f} s. Each call asks for one page of {ITEMS} items, oldest "
            f"first (the answer was checked to hold {ITEMS})."
        )

        print(
            "\n### Concurrent ChatKit streams and the edge's memory\n\n"
            "| streams | held | errors | peak in flight | peak streaming | wall s | "
            "first byte p50 ms | slowest stream ms | edge RSS before MiB | peak MiB | "
            "after MiB |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        )

        async def hold_level(level: int) -> bool:
            held = await hold_streams(edge, edge_process.process.pid, level)
            print(
                f"| {held.streams} | {held.held} | {errors_cell(held.errors)} | "
                f"{held.peak_in_flight} | {held.peak_streaming} | {held.seconds:.1f} | "
                f"{held.first_byte_p50_ms:.0f} | {held.total_max_ms:.0f} | "
                f"{held.rss_before_kib / 1024:.0f} | {held.rss_peak_kib / 1024:.0f} | "
                f"{held.rss_after_kib / 1024:.0f} |",
                flush=True,
            )
            return not held.errors

        best = await ramp(125, max_streams, hold_level)
        print(
            "\nDefinition: N connections are opened first; then N `threads.create` requests "
            '("list my tasks": a new thread, an agent run with a tool call, a task card and '
            "an answer) are written at the same moment, one per connection, and each SSE "
            f"response is read to its end ({STREAM_DEADLINE_SECONDS:.0f} s deadline). A "
            "stream is *held* when it ends with status 200, text/event-stream, no `error` "
            "event and a finished assistant message. *In flight* = request written, response "
            "not finished; *streaming* = status line received (the edge sends it with the "
            "first event), response not finished. With the offline model a stream lasts as "
            "long as the machine takes to serve it, so the streams are open together because "
            "they queue at the edge and agent, not because a model is slow. RSS is the edge "
            "process's VmRSS from /proc, sampled every 50 ms."
        )

    print("\n### Against the targets\n")
    print(
        "- first text delta p50 at concurrency 1 (target ≤ 50 ms): "
        + ", ".join(f"{name} {value:.2f} ms" for name, value in deltas.items())
    )
    print(f"- items.list({ITEMS}) p95 at one connection (target ≤ 20 ms): {items_p95:.2f} ms")
    print(f"- concurrent streams with zero errors (target 1,000): {best}")
    if env:
        print("- extra environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    print(
        closing_notes(
            RATE_LIMIT_NOTE,
            processes="Processes: auth, tasks, agent, edge (one uvicorn worker), PostgreSQL, "
            "and the load generator (Python asyncio, and wrk)",
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--max-streams", type=int, default=1000)
    add_env_option(parser)
    arguments = parser.parse_args()
    extra = env_overrides(arguments.env)
    asyncio.run(main(arguments.seconds, arguments.max_streams, extra))
