"""All SQL of the tasks service. Every statement is scoped to one owner.

Reads use Core statements and return `Row`s (no ORM identity map) because ListTasks turns
rows straight into protos; a page is one query. Writes that must not lose a concurrent change
are compare-and-set on `version`, which works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
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

from todo_tasks.models import IdempotencyRow, TaskRow, TaskTagRow
from todo_tasks.validation import OrderBy, TaskFilter

# Mapped classes expose their table as a FromClause; the statements need the Table.
tasks = cast(Table, TaskRow.__table__)
task_tags = cast(Table, TaskTagRow.__table__)
create_requests = cast(Table, IdempotencyRow.__table__)

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

    async def get(self, task_id: str, *, lock: bool = False) -> Row[Any] | None:
        """The task, or None when it does not exist or belongs to someone else.

        `lock` reads it for update (PostgreSQL row lock, held until the unit of work ends), so
        concurrent read-modify-writes of one task queue instead of failing their
        compare-and-set; SQLite has no row locks and serialises writers itself.
        """
        statement = select(*task_columns).where(
            tasks.c.id == task_id, tasks.c.owner_id == self._owner
        )
        if lock:
            statement = statement.with_for_update()
        result = await self._session.execute(statement)
        return result.first()

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
        result = await self._session.execute(
            update(tasks)
            .where(
                tasks.c.id == task_id,
                tasks.c.owner_id == self._owner,
                tasks.c.version == version,
            )
            .values(version=version + 1, **values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult for DML
            return False
        if "tags" in values:
            await self._session.execute(delete(task_tags).where(task_tags.c.task_id == task_id))
            await self._insert_tags(task_id, values["tags"])
        return True

    async def delete_if_version(self, task_id: str, version: int) -> bool:
        """Deletes the task (and its tags) if it is still at `version`; False otherwise."""
        result = await self._session.execute(
            delete(tasks).where(
                tasks.c.id == task_id,
                tasks.c.owner_id == self._owner,
                tasks.c.version == version,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult for DML
            return False
        # Explicit rather than relying on ON DELETE CASCADE, which SQLite only honours when
        # the connection enabled foreign keys.
        await self._session.execute(delete(task_tags).where(task_tags.c.task_id == task_id))
        return True

    async def list_page(
        self,
        task_filter: TaskFilter,
        order: OrderBy,
        *,
        now: datetime,
        after: tuple[Any, str] | None,
        limit: int,
    ) -> Sequence[Row[Any]]:
        """Up to `limit` tasks matching the filter, in order, after the keyset cursor
        `(sort key, id)` when one is given. Ties on the sort key are broken by id, ascending."""
        conditions: list[ColumnElement[bool]] = [tasks.c.owner_id == self._owner]
        if task_filter.state:
            conditions.append(tasks.c.state == task_filter.state)
        if task_filter.priority:
            conditions.append(tasks.c.priority == task_filter.priority)
        if task_filter.tag:
            conditions.append(
                exists().where(
                    task_tags.c.owner_id == self._owner,
                    task_tags.c.tag == task_filter.tag,
                    task_tags.c.task_id == tasks.c.id,
                )
            )
        if task_filter.due_before is not None:
            conditions.append(tasks.c.due_time < task_filter.due_before)
        if task_filter.due_after is not None:
            conditions.append(tasks.c.due_time >= task_filter.due_after)
        if task_filter.overdue:
            conditions.append(tasks.c.state == pb.TASK_STATE_OPEN)
            conditions.append(tasks.c.due_time < now)
        if task_filter.query:
            conditions.append(
                tasks.c.search_text.like(like_pattern(task_filter.query), escape=LIKE_ESCAPE)
            )
        column = tasks.c[order.key]
        if after is not None:
            conditions.append(_after(column, order, *after))
        key = column.desc() if order.descending else column.asc()
        if order.key == "due_time":
            # Tasks without a due time come last in both directions.
            key = key.nulls_last()
        statement = (
            select(*task_columns)
            .where(and_(*conditions))
            .order_by(key, tasks.c.id.asc())
            .limit(limit)
        )
        result = await self._session.execute(statement)
        return result.all()

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


def _after(column: Any, order: OrderBy, key: Any, last_id: str) -> ColumnElement[bool]:
    """Rows strictly after the cursor in `ORDER BY column [DESC] [NULLS LAST], id`."""
    if key is None:
        if order.key != "due_time":
            return false()
        # The cursor is already among the tasks without a due time (sorted last).
        return and_(column.is_(None), tasks.c.id > last_id)
    beyond = column < key if order.descending else column > key
    parts: list[ColumnElement[bool]] = [beyond, and_(column == key, tasks.c.id > last_id)]
    if order.key == "due_time":
        parts.append(column.is_(None))
    return or_(*parts)
