"""Issue 11 item 3: `items.list(200)` and `threads.get_by_id` on a thread full of task cards.

todo-auth, todo-tasks, todo-agent (offline model) and todo-edge run as real processes on
PostgreSQL; a thread is filled by chat to 200 items ("add filler task N" turns: a user message,
a task card and an answer each). Then, in one run:

- **before / after, same data, same process:** this process opens the edge's database and
  answers the same requests both ways, alternating call by call: the SDK's path
  (`ChatKitServer._process_non_streaming`, what the edge ran before `item_json.py`) and the
  spliced one (`item_json.read_response`), checking the two answers are byte-identical;
- **end to end:** wrk against the edge's `POST /chatkit` (1 connection), which now serves
  these two ops through `item_json.py`.

    uv run python -m bench.items_list [--seconds 8] [--calls 200] [--env NAME=VALUE]

Prints Markdown for bench/README.md. Needs wrk (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from chatkit.server import ChatKitServer
from chatkit.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from sqlalchemy import select
from todo_common.db import Database
from todo_edge.chatkit import ChatContext, TodoChatKitStore
from todo_edge.chatkit.item_json import read_response
from todo_edge.chatkit.models import ChatThreadRow
from todo_edge.chatkit.requests import parse_request

from bench.chatkit_sse import ITEMS, fill_thread, signed_up_chat
from bench.load import add_env_option, env_overrides, machine_note
from bench.load import percentile as pct
from bench.stack import RATE_LIMIT_NOTE, backend_stack
from bench.wrk import DONE_HOOK, require_wrk, run_wrk


class _ReadServer(ChatKitServer[ChatContext]):
    """The SDK's server over the edge's store, for its JSON reads only."""

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        raise RuntimeError("no turns here")
        yield


async def _in_process(
    url: str, schema: str, thread_id: str, calls: int
) -> list[tuple[str, list[float], list[float], int, float, float]]:
    """(op, SDK path ms, spliced ms, answer bytes, SDK CPU ms/call, spliced CPU ms/call) per
    op, alternating the two paths call by call."""
    database = Database.from_url(url, schema, pool_size=2)
    try:
        async with database.read_session() as session:
            owner = await session.scalar(
                select(ChatThreadRow.owner_id).where(ChatThreadRow.id == thread_id)
            )
        assert owner is not None
        store = TodoChatKitStore(database)
        server = _ReadServer(store)
        context = ChatContext(user_id=owner, token="")
        out = []
        for op, params in (
            ("items.list", {"thread_id": thread_id, "limit": ITEMS, "order": "asc"}),
            ("threads.get_by_id", {"thread_id": thread_id}),
        ):
            request = parse_request(json.dumps({"type": op, "params": params}))
            sdk_ms: list[float] = []
            spliced_ms: list[float] = []
            cpu = [0.0, 0.0]
            size = 0
            for index in range(calls + 10):
                started, started_cpu = time.perf_counter(), time.process_time()
                sdk = await server._process_non_streaming(request, context)  # type: ignore[arg-type]
                middle, middle_cpu = time.perf_counter(), time.process_time()
                spliced = await read_response(request, server, store, context)
                ended, ended_cpu = time.perf_counter(), time.process_time()
                if spliced != sdk:
                    raise AssertionError(f"{op}: the spliced answer differs from the SDK's")
                sdk_ms.append((middle - started) * 1000)
                spliced_ms.append((ended - middle) * 1000)
                if index >= 10:
                    cpu[0] += middle_cpu - started_cpu
                    cpu[1] += ended_cpu - middle_cpu
                size = len(sdk)
            out.append(
                (
                    op,
                    sdk_ms[10:],
                    spliced_ms[10:],
                    size,
                    cpu[0] * 1000 / calls,
                    cpu[1] * 1000 / calls,
                )
            )
        return out
    finally:
        await database.dispose()


async def main(seconds: float, calls: int, env: dict[str, str]) -> None:
    wrk = require_wrk()
    async with backend_stack("auth", "tasks", "agent", "edge", extra_env=env) as stack:
        edge = stack["edge"]
        async with httpx.AsyncClient(base_url=edge.url, timeout=60) as http:
            token, chat = await signed_up_chat(http)
            thread_id, turns, filled = await fill_thread(chat)
            page = await chat.items(thread_id, limit=ITEMS)
            assert len(page["data"]) == ITEMS, len(page["data"])
            cards = sum(item["type"] == "widget" for item in page["data"])

        rows = await _in_process(
            stack.env["EDGE_DATABASE_URL"], stack.env["EDGE_DATABASE_SCHEMA"], thread_id, calls
        )
        print(
            f"### items.list({ITEMS}) and threads.get_by_id, SDK path vs spliced stored JSON "
            f"(PostgreSQL, {calls} calls each, alternating)\n\n"
            "| op | answer KiB | SDK path p50 ms | p95 ms | CPU ms/call | spliced p50 ms | p95 ms | "
            "CPU ms/call | CPU ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        )
        for op, sdk_ms, spliced_ms, size, sdk_cpu, spliced_cpu in rows:
            print(
                f"| {op} | {size / 1024:.1f} | {pct(sdk_ms, 50):.2f} | {pct(sdk_ms, 95):.2f} | "
                f"{sdk_cpu:.2f} | {pct(spliced_ms, 50):.2f} | {pct(spliced_ms, 95):.2f} | "
                f"{spliced_cpu:.2f} | {sdk_cpu / spliced_cpu:.1f}x |",
                flush=True,
            )
        print(
            "\nIn this process, on the edge's own database and store: each call reads the "
            "rows and builds the JSON answer (no HTTP); every pair of answers was checked "
            "byte-identical. CPU ms/call is this process's CPU time (time.process_time), the "
            "steadier figure on a loaded machine; the database's own work is in neither."
        )

        print(
            f"\n### Through the edge (wrk, 1 connection, {seconds:.0f} s per row)\n\n"
            "| call | RPS | p50 ms | p95 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|"
        )
        folder = Path(tempfile.mkdtemp(prefix="bench-items-"))
        target = 0.0
        for name, params in (
            (f"items.list({ITEMS})", {"thread_id": thread_id, "limit": ITEMS, "order": "asc"}),
            ("threads.get_by_id", {"thread_id": thread_id}),
        ):
            script = folder / "call.lua"
            body = json.dumps({"type": name.split("(")[0], "params": params})
            script.write_text(
                f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                f'wrk.headers["Authorization"] = "Bearer {token}"\n'
                'wrk.headers["Content-Type"] = "application/json"\n' + DONE_HOOK
            )
            await run_wrk(wrk, edge.url + "/chatkit", script, "items", 1, 1)
            result = await run_wrk(wrk, edge.url + "/chatkit", script, "items", 1, seconds)
            if name.startswith("items.list"):
                target = result.p95_ms
            print(
                f"| {name} | {result.rps:,.0f} | {result.p50_ms:.2f} | {result.p95_ms:.2f} | "
                f"{result.p99_ms:.2f} | {result.errors} |",
                flush=True,
            )
        print(
            f'\nThe thread was filled by chat: {turns} turns ("add filler task N", then '
            f'"help"): {filled} items, {cards} of them task cards. threads.get_by_id answers '
            f"the thread with its first 20 items."
        )
        print(f"\n- items.list({ITEMS}) p95 at one connection (target ≤ 20 ms): {target:.2f} ms")
        print(f"- {RATE_LIMIT_NOTE}\n- {machine_note()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="wrk seconds per row")
    parser.add_argument("--calls", type=int, default=200, help="in-process calls per path")
    add_env_option(parser)
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    asyncio.run(main(args.seconds, args.calls, env_overrides(args.env)))
