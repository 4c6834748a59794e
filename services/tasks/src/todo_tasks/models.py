"""The tasks service's tables: tasks, their tags (for filtering), idempotency records (of
creates and of batch calls), the change outbox (`task_events`), the undo records
(`task_undo_records`) and the moments reminders go off (`task_reminders`).

Tables are declared without a schema: on PostgreSQL the connection's search_path selects the
service's schema, on SQLite the service has its own file.

Tags are stored twice, on purpose. `tasks.tags` (a JSON list) is what a read returns, so a
page of tasks is one query with no join and no N+1. `task_tags` (one row per tag) is what the
tag filter uses: an indexed `EXISTS` that behaves the same on SQLite and PostgreSQL, where
JSON containment operators differ. The repository writes both in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from todo_common.tables import UtcDateTime, table_metadata

ID_LENGTH = 36
OWNER_ID_LENGTH = 128
TITLE_MAX = 200
TAG_MAX = 32
REQUEST_ID_MAX = 128
RECURRENCE_MAX = 500
TIME_ZONE_MAX = 64
UNDO_TOKEN_MAX = 64

# An auto-incremented id: BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER
# PRIMARY KEY.
SerialId = Annotated[
    int,
    mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
]


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
    # An RFC 5545 RRULE value ("" when the task does not repeat), the IANA zone it is read in
    # ("" = UTC) and the first due time of the series (the rule's DTSTART, so COUNT counts
    # from the first occurrence, not from each one).
    recurrence: Mapped[str] = mapped_column(String(RECURRENCE_MAX), default="")
    time_zone: Mapped[str] = mapped_column(String(TIME_ZONE_MAX), default="")
    series_start: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The occurrence this task follows. Unique: completing an occurrence creates the next one
    # exactly once, whichever replica or concurrent call gets there (the database refuses a
    # second next occurrence of the same task).
    previous_occurrence_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), nullable=True, unique=True
    )
    # Set when the task was deleted: a deleted task is kept, invisible to every read and
    # write, for the undo window (UndoChange restores it), then purged (`undo.py`).
    deleted_time: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # When to remind the owner, as stored JSON (`reminders.py`): what reads return. The
    # moments they go off are rows of `task_reminders`, which the scheduler claims.
    reminders: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

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


class TaskEventRow(Base):
    """The change outbox: one row per committed change of a task, written in the same
    transaction as the change, so a watcher never sees a change that was rolled back and
    never misses one that committed. `id` orders an owner's events (see `append_event`)."""

    __tablename__ = "task_events"

    id: Mapped[SerialId]
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_LENGTH))
    task_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    # A TaskEventKind number.
    kind: Mapped[int] = mapped_column(SmallInteger)
    # The serialised todo.tasks.v1.Task after the change; NULL for a deletion.
    task: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    event_time: Mapped[datetime] = mapped_column(UtcDateTime)
    # A reminder event's moment (when the reminder was set to go off); NULL for other kinds.
    reminder_time: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (Index(None, "owner_id", "id"), Index(None, "event_time"))


class UndoRecordRow(Base):
    """What UndoChange needs to revert one mutation: the state before it of every task it
    changed (one, or several for a batch change), usable once before `expire_time`."""

    __tablename__ = "task_undo_records"

    id: Mapped[SerialId]
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_LENGTH))
    # The random token clients pass back; unique across owners.
    token: Mapped[str] = mapped_column(String(UNDO_TOKEN_MAX), unique=True)
    # A JSON list, one entry per task: {"task_id", "before": the task's columns before the
    # change (null when the change created it), "after": after it (null: it deleted it)}.
    snapshots: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    create_time: Mapped[datetime] = mapped_column(UtcDateTime)
    expire_time: Mapped[datetime] = mapped_column(UtcDateTime)
    # When it was undone (a record is used once); NULL while it can still be.
    use_time: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (Index(None, "owner_id", "id"), Index(None, "expire_time"))


class BatchRequestRow(Base):
    """What a batch call (BatchUpdateTasks, BatchDeleteTasks, BatchCompleteTasks) with a
    `request_id` answered, and a hash of its method and payload: a repeat returns this
    response without changing anything again (AIP-155). Kept like `create_requests`."""

    __tablename__ = "batch_requests"

    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_LENGTH), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(REQUEST_ID_MAX), primary_key=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    # The serialised Batch*TasksResponse of the first call.
    response: Mapped[bytes] = mapped_column(LargeBinary)
    create_time: Mapped[datetime] = mapped_column(UtcDateTime)


class TaskReminderRow(Base):
    """One moment a task's reminder goes off (derived from `tasks.reminders` and the due time
    whenever either changes, `reminders.py`). `fired_at` is set by the scheduler in the same
    transaction that writes the reminder event to the outbox, so a reminder is delivered
    exactly once: a row is claimed by one replica (`FOR UPDATE SKIP LOCKED`) and stays fired."""

    __tablename__ = "task_reminders"

    id: Mapped[SerialId]
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_LENGTH))
    task_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    fire_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        # Two reminders of one task at the same moment go off once.
        UniqueConstraint("task_id", "fire_at"),
        # The scheduler's claim: pending rows (fired_at IS NULL) in fire_at order.
        Index(None, "fired_at", "fire_at"),
        Index(None, "owner_id", "task_id"),
    )
