"""The tasks service's tables: tasks, their tags (for filtering) and idempotency records.

Tables are declared without a schema: on PostgreSQL the connection's search_path selects the
service's schema, on SQLite the service has its own file.

Tags are stored twice, on purpose. `tasks.tags` (a JSON list) is what a read returns, so a
page of tasks is one query with no join and no N+1. `task_tags` (one row per tag) is what the
tag filter uses: an indexed `EXISTS` that behaves the same on SQLite and PostgreSQL, where
JSON containment operators differ. The repository writes both in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 36
OWNER_ID_LENGTH = 128
TITLE_MAX = 200
TAG_MAX = 32
REQUEST_ID_MAX = 128


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both backends.

    PostgreSQL stores `timestamptz`. SQLite has no time zones, so values are stored as naive
    UTC (which also keeps its text comparison in time order) and read back as aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the tasks service's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TaskRow(Base):
    """One task. `version` increments on every change; the etag is derived from it."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_LENGTH))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    notes: Mapped[str] = mapped_column(Text, default="")
    # TaskState / TaskPriority enum numbers (never UNSPECIFIED once stored).
    state: Mapped[int] = mapped_column(SmallInteger)
    priority: Mapped[int] = mapped_column(SmallInteger)
    due_time: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON)
    # casefold(title) + "\n" + casefold(notes): the text query is a LIKE on this column, so
    # case-insensitive matching is the same (Unicode-aware) on SQLite and PostgreSQL.
    search_text: Mapped[str] = mapped_column(Text)
    create_time: Mapped[datetime] = mapped_column(UtcDateTime)
    update_time: Mapped[datetime] = mapped_column(UtcDateTime)
    complete_time: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer)

    # One index per order_by key: the owner first (every query is scoped to one owner), then
    # the sort key, then the id tie-breaker used by keyset pagination.
    __table_args__ = (
        Index("ix_tasks_owner_create", "owner_id", "create_time", "id"),
        Index("ix_tasks_owner_due", "owner_id", "due_time", "id"),
        Index("ix_tasks_owner_priority", "owner_id", "priority", "id"),
    )


class TaskTagRow(Base):
    """One tag of one task, for the tag filter (see the module docstring)."""

    __tablename__ = "task_tags"

    task_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_LENGTH))

    __table_args__ = (Index("ix_task_tags_owner_tag", "owner_id", "tag", "task_id"),)


class IdempotencyRow(Base):
    """The task a CreateTask `request_id` produced, and a hash of the payload it carried.

    Kept after the task is deleted, so a late retry cannot resurrect a deleted task.
    """

    __tablename__ = "create_requests"

    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_LENGTH), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(REQUEST_ID_MAX), primary_key=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    create_time: Mapped[datetime] = mapped_column(UtcDateTime)
