"""All SQL of the tasks service. Every statement is scoped to one owner.

Reads use Core statements with named parameters and return rows (no ORM identity map) because
ListTasks turns rows straight into protos; a page is one query. The hot reads outside a unit of
work (`TaskReads`) run as prepared statements on asyncpg when the database is PostgreSQL. Writes that must not lose a concurrent change
are compare-and-set on `version`, which works the same on SQLite and PostgreSQL.

Deletes are soft (`deleted_time`, so UndoChange can restore a task): every statement here
treats a deleted task exactly as a missing one; `undo.py` alone reads them, and purges them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    false,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.db import Database
from todo_common.prepared import PreparedReads

from todo_tasks.models import IdempotencyRow, TaskRow, TaskTagRow
from todo_tasks.validation import OrderBy, TaskFilter

# Mapped classes expose their table as a FromClause; the statements need the Table.
tasks = cast(Table, TaskRow.__table__)
task_tags = cast(Table, TaskTagRow.__table__)
create_requests = cast(Table, IdempotencyRow.__table__)

# A stored task by column name: a SQLAlchemy row mapping or an asyncpg Record.
Values = Mapping[Any, Any]
LIKE_ESCAPE = "\\"
# What reads return: every column but search_text (a case-folded copy of title and notes that
# only the WHERE clause needs; up to 10 KB a row not worth shipping).
task_columns = [column for column in tasks.c if column.name != "search_text"]


def search_text(title: str, notes: str) -> str:
    """The column the text query searches: case-folded title and notes."""
    return f"{title.casefold()}\n{notes.casefold()}"


def like_pattern(query: str) -> str:
    """A LIKE pattern matching `query` literally anywhere (its % and _ are escaped)."""
    escaped = (
        query.casefold()
        .replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


class TaskRepository:
    """Reads and writes one owner's tasks inside the caller's session (unit of work)."""

    def __init__(self, session: AsyncSession, owner_id: str) -> None:
        self._session = session
        self._owner = owner_id

    @property
    def session(self) -> AsyncSession:
        """The unit of work the repository writes in (the outbox appends to it too)."""
        return self._session

    @property
    def owner(self) -> str:
        """The owner every statement is scoped to."""
        return self._owner

    async def next_occurrence_of(self, task_id: str) -> Row[Any] | None:
        """The occurrence created when `task_id` (a repeating task) was completed, if any."""
        result = await self._session.execute(
            select(*task_columns).where(
                tasks.c.owner_id == self._owner,
                tasks.c.previous_occurrence_id == task_id,
                tasks.c.deleted_time.is_(None),
            )
        )
        return result.first()

    async def get(self, task_id: str, *, lock: bool = False) -> Row[Any] | None:
        """The task, or None when it does not exist or belongs to someone else.

        `lock` reads it for update (PostgreSQL row lock, held until the unit of work ends), so
        concurrent read-modify-writes of one task queue instead of failing their
        compare-and-set; SQLite has no row locks and serialises writers itself.
        """
        result = await self._session.execute(
            GET_TASK_FOR_UPDATE if lock else GET_TASK, {"owner": self._owner, "id": task_id}
        )
        return result.first()

    async def get_many(self, task_ids: Sequence[str], *, lock: bool = False) -> list[Row[Any]]:
        """Those of the tasks that exist (not deleted) and are the owner's, by id. `lock`
        reads them for update in id order, so two batches over overlapping tasks queue
        instead of deadlocking (see `get`)."""
        statement = (
            select(*task_columns)
            .where(
                tasks.c.owner_id == self._owner,
                tasks.c.id.in_(list(task_ids)),
                tasks.c.deleted_time.is_(None),
            )
            .order_by(tasks.c.id)
        )
        if lock:
            statement = statement.with_for_update()
        return list(await self._session.execute(statement))

    async def insert(self, values: dict[str, Any]) -> None:
        """Stores a new task (`values` holds every column but owner_id) and its tags."""
        await self._session.execute(insert(tasks).values(owner_id=self._owner, **values))
        await self._insert_tags(values["id"], values["tags"])

    async def _insert_tags(self, task_id: str, tags: Sequence[str]) -> None:
        if tags:
            await self._session.execute(
                insert(task_tags),
                [{"task_id": task_id, "tag": tag, "owner_id": self._owner} for tag in tags],
            )

    async def update_if_version(self, task_id: str, version: int, values: dict[str, Any]) -> bool:
        """Applies `values` if the task is still at `version` (bumping it); False otherwise.

        When `values` holds `tags`, the tag rows are replaced too.
        """
        if not await self._set_if_version(task_id, version, values):
            return False
        if "tags" in values:
            await self._session.execute(delete(task_tags).where(task_tags.c.task_id == task_id))
            await self._insert_tags(task_id, values["tags"])
        return True

    async def delete_if_version(
        self, task_id: str, version: int, now: datetime | None = None
    ) -> bool:
        """Deletes the task if it is still at `version` (bumping it); False otherwise.

        The delete is soft: the row stays, invisible, until the undo window has passed
        (`undo.purge_expired`). It gives up its place in its series (`previous_occurrence_id`,
        unique), so completing the previous occurrence again creates a new next one; the
        undo record keeps the old value.
        """
        return await self._set_if_version(
            task_id,
            version,
            {"deleted_time": now or datetime.now(UTC), "previous_occurrence_id": None},
            tasks.c.deleted_time.is_(None),
        )

    async def _set_if_version(
        self,
        task_id: str,
        version: int,
        values: dict[str, Any],
        *conditions: ColumnElement[bool],
    ) -> bool:
        """Writes `values` and `version + 1` to the task if it is still at `version` (and
        meets `conditions`); False when it is not (or is not the owner's)."""
        result = await self._session.execute(
            update(tasks)
            .where(
                tasks.c.id == task_id,
                tasks.c.owner_id == self._owner,
                tasks.c.version == version,
                *conditions,
            )
            .values(version=version + 1, **values)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult for DML

    async def find_create_request(self, request_id: str) -> Row[Any] | None:
        """The record of an earlier CreateTask with this request id, if any."""
        result = await self._session.execute(
            select(create_requests).where(
                create_requests.c.owner_id == self._owner,
                create_requests.c.request_id == request_id,
            )
        )
        return result.first()

    async def insert_create_request(
        self, request_id: str, payload_hash: str, task_id: str, now: datetime
    ) -> None:
        """Records which task a request id created. A concurrent duplicate raises
        IntegrityError (primary key), which the caller turns into a re-read."""
        await self._session.execute(
            insert(create_requests).values(
                owner_id=self._owner,
                request_id=request_id,
                payload_hash=payload_hash,
                task_id=task_id,
                create_time=now,
            )
        )


# The reads are built once with named parameters (`bindparam`), so each has one SQL text: a
# prepared statement on PostgreSQL (`TaskReads`), one compiled-cache entry in SQLAlchemy.
GET_TASK = select(*task_columns).where(
    tasks.c.id == bindparam("id"),
    tasks.c.owner_id == bindparam("owner"),
    tasks.c.deleted_time.is_(None),
)
GET_TASK_FOR_UPDATE = GET_TASK.with_for_update()


@dataclass(frozen=True)
class ListShape:
    """What decides the SQL text of a ListTasks query: which filters are set, the order, and
    where the keyset cursor stands ("none": first page; "null": among the tasks without a due
    time; "key": after a sort key). The values themselves are parameters."""

    state: bool
    priority: bool
    tag: bool
    due_before: bool
    due_after: bool
    overdue: bool
    query: bool
    order: OrderBy
    after: Literal["none", "null", "key"]

    @classmethod
    def of(
        cls, task_filter: TaskFilter, order: OrderBy, after: tuple[Any, str] | None
    ) -> ListShape:
        return cls(
            state=bool(task_filter.state),
            priority=bool(task_filter.priority),
            tag=bool(task_filter.tag),
            due_before=task_filter.due_before is not None,
            due_after=task_filter.due_after is not None,
            overdue=task_filter.overdue,
            query=bool(task_filter.query),
            order=order,
            after="none" if after is None else "null" if after[0] is None else "key",
        )


def list_params(
    owner: str,
    task_filter: TaskFilter,
    *,
    now: datetime,
    after: tuple[Any, str] | None,
    limit: int,
) -> dict[str, Any]:
    """The parameters of `list_statement(ListShape.of(task_filter, order, after))`."""
    params: dict[str, Any] = {
        "owner": owner,
        "limit": limit,
        "state": task_filter.state,
        "priority": task_filter.priority,
        "tag": task_filter.tag,
        "due_before": task_filter.due_before,
        "due_after": task_filter.due_after,
        "now": now,
        "query": like_pattern(task_filter.query) if task_filter.query else None,
    }
    if after is not None:
        params["after_key"], params["after_id"] = after
    return params


@functools.cache
def list_statement(shape: ListShape) -> Select[Any]:
    """Up to `:limit` tasks matching the filter, in order, after the keyset cursor
    `(:after_key, :after_id)` when the shape has one. Ties on the sort key are broken by id,
    ascending. One statement object per shape (there are a few hundred at most)."""
    due_time = tasks.c.due_time
    conditions: list[ColumnElement[bool]] = [
        tasks.c.owner_id == bindparam("owner"),
        tasks.c.deleted_time.is_(None),
    ]
    if shape.state:
        conditions.append(tasks.c.state == bindparam("state"))
    if shape.priority:
        conditions.append(tasks.c.priority == bindparam("priority"))
    if shape.tag:
        conditions.append(
            exists().where(
                task_tags.c.owner_id == bindparam("owner"),
                task_tags.c.tag == bindparam("tag"),
                task_tags.c.task_id == tasks.c.id,
            )
        )
    if shape.due_before:
        conditions.append(due_time < bindparam("due_before", type_=due_time.type))
    if shape.due_after:
        conditions.append(due_time >= bindparam("due_after", type_=due_time.type))
    if shape.overdue:
        conditions.append(tasks.c.state == pb.TASK_STATE_OPEN)
        conditions.append(due_time < bindparam("now", type_=due_time.type))
    if shape.query:
        conditions.append(tasks.c.search_text.like(bindparam("query"), escape=LIKE_ESCAPE))
    order = shape.order
    column = tasks.c[order.key]
    if shape.after != "none":
        conditions.append(_after(column, order, null_key=shape.after == "null"))
    key = column.desc() if order.descending else column.asc()
    if order.key == "due_time":
        # Tasks without a due time come last in both directions.
        key = key.nulls_last()
    return (
        select(*task_columns)
        .where(and_(*conditions))
        .order_by(key, tasks.c.id.asc())
        .limit(bindparam("limit", type_=Integer))
    )


def _after(column: Any, order: OrderBy, *, null_key: bool) -> ColumnElement[bool]:
    """Rows strictly after the cursor in `ORDER BY column [DESC] [NULLS LAST], id`."""
    last_id = bindparam("after_id", type_=tasks.c.id.type)
    if null_key:
        if order.key != "due_time":
            return false()
        # The cursor is already among the tasks without a due time (sorted last).
        return and_(column.is_(None), tasks.c.id > last_id)
    key = bindparam("after_key", type_=column.type)
    beyond = column < key if order.descending else column > key
    parts: list[ColumnElement[bool]] = [beyond, and_(column == key, tasks.c.id > last_id)]
    if order.key == "due_time":
        parts.append(column.is_(None))
    return or_(*parts)


class TaskReads:
    """The two hot reads, GetTask's and ListTasks' one query each, outside any unit of work:
    prepared statements on asyncpg when the database is PostgreSQL, the same statements
    through a read session on SQLite (`todo_common.prepared`; measured ~0.2 ms for a 51-row
    page against 1.2-1.6 ms through the SQLAlchemy asyncio session)."""

    def __init__(self, database: Database) -> None:
        self._reads = PreparedReads(database)
        # No more reads at once than the pool keeps connections. Past that, the pool opens an
        # overflow connection per read and closes it when the read returns it to a full pool:
        # connect (TLS probe, auth), prepare the statement again, terminate, ~10 % of the
        # process's CPU in a GetTask profile at 32 calls in flight. A waiting read costs
        # nothing; one statement takes well under a millisecond. Writes keep the overflow.
        self._gate = asyncio.Semaphore(pooled_connections(database))

    async def _fetch(self, statement: Select[Any], params: dict[str, Any]) -> Sequence[Values]:
        async with self._gate:
            return await self._reads.fetch(statement, params)

    async def get(self, owner: str, task_id: str) -> Values | None:
        """The task, or None when it does not exist or belongs to someone else."""
        rows = await self._fetch(GET_TASK, {"owner": owner, "id": task_id})
        return rows[0] if rows else None

    async def list_page(
        self,
        owner: str,
        task_filter: TaskFilter,
        order: OrderBy,
        *,
        now: datetime,
        after: tuple[Any, str] | None,
        limit: int,
    ) -> Sequence[Values]:
        """Up to `limit` of the owner's tasks (see `list_statement`)."""
        statement = list_statement(ListShape.of(task_filter, order, after))
        params = list_params(owner, task_filter, now=now, after=after, limit=limit)
        return await self._fetch(statement, params)


def pooled_connections(database: Database) -> int:
    """How many connections the database's pool keeps open (its size, overflow aside)."""
    size = getattr(database.engine.pool, "size", None)
    return max(1, int(size())) if callable(size) else 1
