"""`TaskReads` (GetTask's and ListTasks' queries) against the same statements run through a
SQLAlchemy session: on PostgreSQL the reads go to asyncpg directly as prepared statements, and
must return the same rows, values and order for every shape of filter, order and cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.db import Database
from todo_tasks.ids import new_task_id
from todo_tasks.repository import (
    GET_TASK,
    ListShape,
    TaskReads,
    TaskRepository,
    list_params,
    list_statement,
    search_text,
)
from todo_tasks.server import migrate
from todo_tasks.validation import OrderBy, TaskFilter
from todo_testkit.tasks import tasks_test_settings

OWNER = "user-reads"
START = datetime(2026, 1, 1, tzinfo=UTC)


def no_filter(**changes: Any) -> TaskFilter:
    values: dict[str, Any] = {
        "state": 0,
        "priority": 0,
        "tag": "",
        "due_before": None,
        "due_after": None,
        "overdue": False,
        "query": "",
        **changes,
    }
    return TaskFilter(**values)


async def seed(database: Database) -> list[str]:
    """Twelve tasks of two owners: states, priorities, due times (some none), tags, text."""
    ids = []
    async with database.session() as session:
        for i in range(12):
            owner = OWNER if i < 10 else "someone-else"
            title = f"Task {i} {'Milk_100%' if i % 3 == 0 else 'bread'}"
            values = {
                "id": new_task_id(),
                "title": title,
                "notes": "notes",
                "state": pb.TASK_STATE_COMPLETED if i % 4 == 0 else pb.TASK_STATE_OPEN,
                "priority": 1 + i % 3,
                "due_time": None if i % 3 == 1 else START + timedelta(days=i % 5),
                "tags": ["home"] if i % 2 else ["work", "x"],
                "search_text": search_text(title, "notes"),
                "create_time": START + timedelta(minutes=i // 2),  # ties on the sort key
                "update_time": START,
                "complete_time": START if i % 4 == 0 else None,
                "version": 1,
            }
            await TaskRepository(session, owner).insert(values)
            ids.append(values["id"])
    return ids


async def test_reads_match_the_session_path_for_every_shape(database_factory, tmp_path) -> None:
    settings = tasks_test_settings(await database_factory("tasks"))
    await migrate(settings)
    database = Database.from_url(settings.database_url, settings.database_schema, pool_size=2)
    try:
        ids = await seed(database)
        reads = TaskReads(database)

        async def through_session(statement: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
            async with database.read_session() as session:
                return [dict(row._mapping) for row in await session.execute(statement, params)]

        got = await reads.get(OWNER, ids[3])
        assert (
            got is not None
            and dict(got) == (await through_session(GET_TASK, {"owner": OWNER, "id": ids[3]}))[0]
        )
        assert await reads.get(OWNER, ids[11]) is None  # another owner's task
        assert await reads.get(OWNER, new_task_id()) is None

        filters = [
            no_filter(),
            no_filter(state=pb.TASK_STATE_OPEN, priority=2),
            no_filter(tag="home"),
            no_filter(due_before=START + timedelta(days=3), due_after=START + timedelta(days=1)),
            no_filter(overdue=True),
            no_filter(query="milk_100%"),
        ]
        orders = [
            OrderBy(key, desc)
            for key in ("create_time", "due_time", "priority")
            for desc in (False, True)
        ]
        compared = 0
        for task_filter in filters:
            for order in orders:
                now = START + timedelta(days=2)
                everything = await reads.list_page(
                    OWNER, task_filter, order, now=now, after=None, limit=50
                )
                cursors: list[tuple[Any, str] | None] = [None]
                cursors += [(row[order.key], row["id"]) for row in everything]
                for after in cursors:
                    ours = await reads.list_page(
                        OWNER, task_filter, order, now=now, after=after, limit=3
                    )
                    statement = list_statement(ListShape.of(task_filter, order, after))
                    params = list_params(OWNER, task_filter, now=now, after=after, limit=3)
                    assert [dict(row) for row in ours] == await through_session(statement, params)
                    compared += 1
        assert compared > len(filters) * len(orders)
        # The plain listing holds exactly this owner's ten tasks.
        listed = await reads.list_page(
            OWNER, no_filter(), orders[0], now=START, after=None, limit=50
        )
        assert sorted(row["id"] for row in listed) == sorted(ids[:10])
    finally:
        await database.dispose()
