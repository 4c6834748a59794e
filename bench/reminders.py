"""Issue 15 item 2: how fast the reminder scheduler drains due reminders, with one and with two
schedulers racing on one PostgreSQL database (`FOR UPDATE SKIP LOCKED`).

A fresh schema is migrated; `--tasks` open tasks of `--owners` owners each get one reminder
row already due (written straight into the tables, so only the scheduler is measured). Then
`ReminderScheduler.fire_due` passes run back to back until nothing is due: once with one
scheduler, once (on fresh rows) with two, each with its own connection pool. Every row must
end fired with exactly one REMINDER event in the outbox; the run fails otherwise.

    uv run python -m bench.reminders [--tasks 2000] [--owners 50] [--batch 100]

Needs TEST_DATABASE_URL (or --url) naming a PostgreSQL database. Prints Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.db import Database
from todo_tasks.models import TaskEventRow, TaskReminderRow, TaskRow
from todo_tasks.scheduler import ReminderScheduler
from todo_tasks.server import migrate
from todo_tasks.settings import TasksSettings


async def fill(database: Database, tasks: int, owners: int) -> None:
    """`tasks` open tasks spread over `owners`, each with one reminder due a minute ago."""
    now = datetime.now(UTC)
    rows, moments = [], []
    for n in range(tasks):
        task_id = str(uuid.uuid4())
        owner = f"owner-{n % owners}"
        rows.append(
            {
                "id": task_id,
                "owner_id": owner,
                "title": f"t{n}",
                "notes": "",
                "state": pb.TASK_STATE_OPEN,
                "priority": pb.TASK_PRIORITY_MEDIUM,
                "due_time": now + timedelta(hours=1),
                "tags": [],
                "search_text": f"t{n}\n",
                "create_time": now,
                "update_time": now,
                "complete_time": None,
                "version": 1,
                "recurrence": "",
                "time_zone": "",
                "series_start": None,
                "previous_occurrence_id": None,
                "reminders": [{"at": (now - timedelta(minutes=1)).isoformat()}],
            }
        )
        moments.append(
            {"owner_id": owner, "task_id": task_id, "fire_at": now - timedelta(minutes=1)}
        )
    async with database.session() as session:
        await session.execute(insert(TaskRow), rows)
        await session.execute(insert(TaskReminderRow), moments)


async def drain(url: str, schema: str, batch: int) -> int:
    """Passes of one scheduler (own pool) until none claims anything; rows it claimed."""
    database = Database.from_url(url, schema, pool_size=2)
    scheduler = ReminderScheduler(database, poll_seconds=3600, batch_size=batch)
    claimed = 0
    try:
        while count := await scheduler.fire_due():
            claimed += count
    finally:
        await database.dispose()
    return claimed


async def check(database: Database, tasks: int) -> None:
    """Every reminder fired and delivered exactly once."""
    events = TaskEventRow.__table__
    async with database.read_session() as session:
        delivered = await session.execute(
            select(events.c.task_id, func.count())
            .where(events.c.kind == pb.TASK_EVENT_KIND_REMINDER)
            .group_by(events.c.task_id)
        )
        counts = [count for _task, count in delivered]
    if len(counts) != tasks or set(counts) != {1}:
        raise SystemExit(f"expected {tasks} reminders once each, got {len(counts)} ({set(counts)})")


async def run_case(
    url: str, schemas: list[str], tasks: int, owners: int, batch: int, n: int
) -> str:
    schema = f"bench_reminders_{uuid.uuid4().hex[:8]}"
    schemas.append(schema)
    await migrate(TasksSettings(database_url=url, database_schema=schema))
    database = Database.from_url(url, schema, pool_size=2)
    try:
        await fill(database, tasks, owners)
        started = time.perf_counter()
        claimed = await asyncio.gather(*(drain(url, schema, batch) for _ in range(n)))
        seconds = time.perf_counter() - started
        await check(database, tasks)
    finally:
        await database.dispose()
    split = " + ".join(str(c) for c in claimed)
    return f"| {n} | {tasks} | {batch} | {seconds:.2f} s | {tasks / seconds:,.0f} | {split} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("TEST_DATABASE_URL", ""))
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    if not args.url.startswith("postgresql"):
        raise SystemExit("set TEST_DATABASE_URL (or --url) to a PostgreSQL database")
    schemas: list[str] = []
    lines = [
        "| schedulers | reminders | batch | time to drain | reminders/s | claimed by each |",
        "|---|---|---|---|---|---|",
    ]
    try:
        for n in (1, 2):
            lines.append(await run_case(args.url, schemas, args.tasks, args.owners, args.batch, n))
    finally:
        cleanup = Database.from_url(args.url, None, pool_size=1)
        async with cleanup.engine.begin() as connection:
            for schema in schemas:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await cleanup.dispose()
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
