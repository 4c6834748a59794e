"""The tasks service's tables: tasks, their tags (for filtering) and idempotency records.

Tables are declared without a schema: on PostgreSQL the connection's search_path selects the
service's schema, on SQLite the service has its own file.

Tags are stored twice, on purpose. `tasks.tags` (a JSON list) is what a read returns, so a
page of tasks is one query with no join and no N+1. `task_tags` (one row per tag) is what the
tag filter uses: an indexed `EXISTS` that behaves the same on SQLite and PostgreSQL, where
JSON containment operators differ. The repository writes both in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from todo_common.tables import UtcDateTime, table_metadata

ID_LENGTH = 36
OWNER_ID_LENGTH = 128
TITLE_MAX = 200
TAG_MAX = 32
REQUEST_ID_MAX = 128


class Base(DeclarativeBase):
    """Declarative base of the tasks service's tables (constraint names from the shared rule)."""

    metadata = table_metadata()


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
        Index(None, "owner_id", "create_time", "id"),
        Index(None, "owner_id", "due_time", "id"),
        Index(None, "owner_id", "priority", "id"),
    )


class TaskTagRow(Base):
    """One tag of one task, for the tag filter (see the module docstring)."""

    __tablename__ = "task_tags"

    task_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_LENGTH))

    __table_args__ = (Index(None, "owner_id", "tag", "task_id"),)


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
