"""The TaskService servicer: validation, ownership, idempotency, etags and paging.

Every handler takes the owner from the verified token (`current_principal()`) and keeps all SQL
in the repository: writes open one database session (one unit of work, `TaskRepository`); the
two hot reads, GetTask and ListTasks, are single statements outside any (`TaskReads`).
Every write appends its change to the outbox (`outbox.py`) in the same unit of work and wakes
this process's WatchTaskEvents streams after the commit (`feed.py`). Completing an occurrence
of a repeating task creates the next occurrence in the same unit of work, exactly once.
Every write that changes something also leaves an undo record in its unit of work and answers
its token; UndoChange reverts one (`undo.py`).

Ids: an empty id is INVALID_ARGUMENT (the field is required); a malformed id is NOT_FOUND with
the same message as a missing task or another user's task, because no such task can exist and
the caller learns nothing either way.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2_grpc as pb_grpc
from todo_common.db import Database
from todo_common.errors import (
    Aborted,
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from todo_common.tokens import current_principal

from todo_tasks.batch import BatchWrites
from todo_tasks.feed import ChangeFeed
from todo_tasks.ids import is_task_id, new_task_id
from todo_tasks.outbox import EventReads, append_event
from todo_tasks.page_tokens import Cursor, PageTokenCodec, invalid_page_token
from todo_tasks.purge import purge_owner
from todo_tasks.recurrence import first_occurrence, next_occurrence
from todo_tasks.reminders import (
    forget_reminders,
    loaded,
    reminders_to_proto,
    reschedule_if_moved,
    schedule_reminders,
    shifted,
    stored_reminders,
)
from todo_tasks.repository import TaskReads, TaskRepository, Values, search_text
from todo_tasks.undo import Snapshot, UndoLog
from todo_tasks.validation import (
    UPDATABLE_PATHS,
    OrderBy,
    TaskFields,
    TaskPatch,
    check_reminders,
    datetime_to_timestamp,
    validate_create,
    validate_list,
    validate_update,
)

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["TaskService"].full_name
# A write without an etag retries its read-modify-write this often when it races another.
MAX_WRITE_ATTEMPTS = 3
# What a compare-and-set write of one task answers (the task as written, or a response).
WrittenT = TypeVar("WrittenT")
# The most events one WatchTaskEvents response carries.
EVENT_BATCH = 100
# Cursors are outbox ids: decimal, at most a BIGINT.
CURSOR_MAX_DIGITS = 19
# How long a change can be undone unless the settings say otherwise.
DEFAULT_UNDO_WINDOW = timedelta(minutes=10)


def utc_now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def etag_of(task_id: str, version: int) -> str:
    """An opaque etag that changes with every version of a task."""
    return hashlib.sha256(f"{task_id}:{version}".encode()).hexdigest()[:20]


def task_fields(values: Values) -> dict[str, Any]:
    """A stored task (row mapping) as keyword arguments of the proto Task."""
    fields: dict[str, Any] = {
        "id": values["id"],
        "title": values["title"],
        "notes": values["notes"],
        "state": values["state"],
        "priority": values["priority"],
        "tags": values["tags"],
        "create_time": datetime_to_timestamp(values["create_time"]),
        "update_time": datetime_to_timestamp(values["update_time"]),
        "etag": etag_of(values["id"], values["version"]),
    }
    if values["recurrence"]:
        fields["recurrence"] = values["recurrence"]
    if values["time_zone"]:
        fields["time_zone"] = values["time_zone"]
    if values["previous_occurrence_id"]:
        fields["previous_occurrence_id"] = values["previous_occurrence_id"]
    if values["due_time"] is not None:
        fields["due_time"] = datetime_to_timestamp(values["due_time"])
    if values["complete_time"] is not None:
        fields["complete_time"] = datetime_to_timestamp(values["complete_time"])
    if values["reminders"]:
        fields["reminders"] = reminders_to_proto(values["reminders"])
    return fields


def task_to_proto(values: Values) -> pb.Task:
    """A stored task (row mapping) as the proto clients see."""
    return pb.Task(**task_fields(values))


def task_not_found() -> NotFound:
    """The one answer for a missing task, another user's task and a malformed id."""
    return NotFound("Task not found.", reason="TASK_NOT_FOUND")


def etag_mismatch() -> Aborted:
    """The answer to a write carrying a stale etag."""
    return Aborted(
        "The task has changed since it was read (etag mismatch); read it again and retry.",
        reason="ETAG_MISMATCH",
    )


def require_task_id(value: str, field: str) -> str:
    """`value` when it can name a task; INVALID_ARGUMENT when empty, NOT_FOUND when malformed."""
    if not value:
        raise InvalidArgument(
            f"{field} is required.", field_violations=[FieldViolation(field, "is required.")]
        )
    if not is_task_id(value):
        raise task_not_found()
    return value


def new_task_values(fields: TaskFields, now: datetime) -> dict[str, Any]:
    """Every column of a new open task (except the owner). A repeating task without a due
    time is due at the rule's first occurrence from now."""
    due_time = fields.due_time
    if fields.recurrence and due_time is None:
        due_time = first_occurrence(fields.recurrence, fields.time_zone, now)
    return {
        "id": new_task_id(),
        "title": fields.title,
        "notes": fields.notes,
        "state": pb.TASK_STATE_OPEN,
        "priority": fields.priority,
        "due_time": due_time,
        "tags": list(fields.tags),
        "search_text": search_text(fields.title, fields.notes),
        "create_time": now,
        "update_time": now,
        "complete_time": None,
        "version": 1,
        "recurrence": fields.recurrence,
        "time_zone": fields.time_zone,
        "series_start": due_time if fields.recurrence else None,
        "previous_occurrence_id": None,
        "reminders": stored_reminders(fields.reminders),
    }


def next_occurrence_values(current: Values, now: datetime) -> dict[str, Any] | None:
    """The next occurrence of a repeating task that was just completed, or None when its rule
    has ended. It is due at the rule's first occurrence after the completed one's due time,
    skipping occurrences already in the past (a weekly task done three weeks late comes back
    next week, not three times)."""
    due = current["due_time"]
    start = current["series_start"] or due
    if due is None or start is None:
        return None
    next_due = next_occurrence(current["recurrence"], current["time_zone"], start, max(due, now))
    if next_due is None:
        return None
    return {
        "id": new_task_id(),
        "title": current["title"],
        "notes": current["notes"],
        "state": pb.TASK_STATE_OPEN,
        "priority": current["priority"],
        "due_time": next_due,
        "tags": list(current["tags"]),
        "search_text": search_text(current["title"], current["notes"]),
        "create_time": now,
        "update_time": now,
        "complete_time": None,
        "version": 1,
        "recurrence": current["recurrence"],
        "time_zone": current["time_zone"],
        "series_start": start,
        "previous_occurrence_id": current["id"],
        "reminders": shifted(current["reminders"], next_due - due),
    }


# How the patched columns (`UPDATABLE_PATHS`) not stored as the patch holds them are stored.
STORED_FORM: dict[str, Callable[[Any], Any]] = {"tags": list, "reminders": stored_reminders}


def patch_values(current: Values, patch: TaskPatch) -> dict[str, Any]:
    """The columns an update changes (empty when it changes nothing)."""
    wanted: dict[str, Any] = {}
    for path in UPDATABLE_PATHS:
        if path in patch.paths:
            value = getattr(patch, path)
            wanted[path] = STORED_FORM[path](value) if path in STORED_FORM else value
    changes = {key: value for key, value in wanted.items() if current[key] != value}
    if changes.keys() & {"recurrence", "time_zone", "due_time"}:
        changes.update(_series_changes(current, changes))
    if changes.keys() & {"reminders", "due_time"}:
        check_reminders(
            loaded(changes.get("reminders", current["reminders"])),
            changes.get("due_time", current["due_time"]),
        )
    if "title" in changes or "notes" in changes:
        changes["search_text"] = search_text(
            str(changes.get("title", current["title"])),
            str(changes.get("notes", current["notes"])),
        )
    return changes


def _series_changes(current: Values, changes: dict[str, Any]) -> dict[str, Any]:
    """When the rule, its zone or the due time changes, the series restarts at the (new) due
    time; a repeating task left without a due time is due at the rule's next occurrence."""
    rule = changes.get("recurrence", current["recurrence"])
    if not rule:
        return {"series_start": None}
    due = changes.get("due_time", current["due_time"])
    extra: dict[str, Any] = {}
    if due is None:
        zone = str(changes.get("time_zone", current["time_zone"]))
        due = first_occurrence(rule, zone, utc_now())
        extra["due_time"] = due
    return {**extra, "series_start": due}


def encode_sort_key(order: OrderBy, values: Values) -> Any:
    """The sort key of a task as JSON-able data for a page token."""
    value = values[order.key]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def decode_sort_key(order: OrderBy, key: Any) -> Any:
    """The sort key from a (signature-checked) page token, typed for the query."""
    if order.key == "priority":
        if isinstance(key, int) and not isinstance(key, bool):
            return key
        raise invalid_page_token()
    if key is None and order.key == "due_time":
        return None
    if isinstance(key, str):
        try:
            parsed = datetime.fromisoformat(key)
        except ValueError:
            raise invalid_page_token() from None
        if parsed.tzinfo is not None:
            return parsed
    raise invalid_page_token()


class TaskService(pb_grpc.TaskServiceServicer):
    """todo.tasks.v1.TaskService over one database."""

    def __init__(
        self,
        database: Database,
        page_tokens: PageTokenCodec,
        feed: ChangeFeed | None = None,
        *,
        heartbeat_seconds: float = 15.0,
        undo_window: timedelta = DEFAULT_UNDO_WINDOW,
    ) -> None:
        self._db = database
        self._reads = TaskReads(database)
        self._page_tokens = page_tokens
        self._feed = feed or ChangeFeed(database, poll_seconds=0.5)
        self._events = EventReads(database)
        self._heartbeat_seconds = heartbeat_seconds
        self._undo = UndoLog(undo_window)
        self._batches = BatchWrites(database, self._feed, self, task_to_proto)

    async def CreateTask(
        self, request: pb.CreateTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateTaskResponse:
        fields, request_id = validate_create(request)
        owner = current_principal().user_id
        payload_hash = fields.payload_hash()
        try:
            async with self._db.session() as session:
                repository = TaskRepository(session, owner)
                if request_id:
                    earlier = await self._replay(repository, request_id, payload_hash)
                    if earlier is not None:
                        return pb.CreateTaskResponse(task=task_to_proto(earlier))
                now = utc_now()
                values = new_task_values(fields, now)
                check_reminders(fields.reminders, values["due_time"])
                if request_id:
                    await repository.insert_create_request(
                        request_id, payload_hash, values["id"], now
                    )
                await repository.insert(values)
                await self._record(session, owner, pb.TASK_EVENT_KIND_CREATED, values, now)
                await schedule_reminders(session, owner, values, now)
                undo_token = await self._undo.record(
                    session, owner, [Snapshot.created(values)], now
                )
        except IntegrityError:
            if not request_id:
                raise
            # A concurrent call with the same request id committed first: answer as a repeat.
            async with self._db.session() as session:
                repository = TaskRepository(session, owner)
                earlier = await self._replay(repository, request_id, payload_hash)
            if earlier is None:
                raise
            return pb.CreateTaskResponse(task=task_to_proto(earlier))
        self._feed.wake(owner)
        log.info("task created", extra={"task_id": values["id"]})
        return pb.CreateTaskResponse(task=task_to_proto(values), undo_token=undo_token)

    @staticmethod
    async def _replay(
        repository: TaskRepository, request_id: str, payload_hash: str
    ) -> Values | None:
        """The task an earlier create with `request_id` made (as it is now), or None."""
        record = await repository.find_create_request(request_id)
        if record is None:
            return None
        if record.payload_hash != payload_hash:
            raise AlreadyExists(
                "This request_id was already used to create a different task; "
                "use a new request_id for a new task.",
                reason="REQUEST_ID_REUSED",
            )
        row = await repository.get(record.task_id)
        if row is None:
            raise NotFound(
                "The task created with this request_id has since been deleted.",
                reason="TASK_DELETED",
            )
        return row._mapping

    async def GetTask(
        self, request: pb.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTaskResponse:
        task_id = require_task_id(request.id, "id")
        owner = current_principal().user_id
        row = await self._reads.get(owner, task_id)
        if row is None:
            raise task_not_found()
        return pb.GetTaskResponse(task=task_to_proto(row))

    async def ListTasks(
        self, request: pb.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTasksResponse:
        page_size, task_filter, order = validate_list(request)
        owner = current_principal().user_id
        fingerprint = self._page_tokens.fingerprint(
            owner, {"filter": task_filter.canonical(), "order": order.canonical()}
        )
        now = utc_now()
        after: tuple[Any, str] | None = None
        if request.page_token:
            cursor = self._page_tokens.decode(request.page_token, fingerprint)
            if not is_task_id(cursor.last_id):
                raise invalid_page_token()
            after = (decode_sort_key(order, cursor.key), cursor.last_id)
            if task_filter.overdue and cursor.now:
                # Every page of one listing agrees on what "overdue" means.
                now = decode_sort_key(OrderBy("create_time", False), cursor.now)
        rows = await self._reads.list_page(
            owner, task_filter, order, now=now, after=after, limit=page_size + 1
        )
        response = pb.ListTasksResponse()
        add = response.tasks.add  # builds in place: no copy of each Task into the list
        for row in rows[:page_size]:
            add(**task_fields(row))
        if len(rows) > page_size:
            last = rows[page_size - 1]
            response.next_page_token = self._page_tokens.encode(
                fingerprint,
                Cursor(
                    key=encode_sort_key(order, last),
                    last_id=last["id"],
                    now=now.isoformat() if task_filter.overdue else None,
                ),
            )
        return response

    async def UpdateTask(
        self, request: pb.UpdateTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateTaskResponse:
        task_id = require_task_id(request.task.id, "task.id")
        patch = validate_update(request)
        values, undo_token = await self._change(
            task_id,
            request.task.etag,
            pb.TASK_EVENT_KIND_UPDATED,
            lambda current: patch_values(current, patch),
        )
        return pb.UpdateTaskResponse(task=task_to_proto(values), undo_token=undo_token)

    async def CompleteTask(
        self, request: pb.CompleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteTaskResponse:
        """Completes the task; for a repeating task, also creates its next occurrence in the
        same unit of work. Exactly once: the task's row lock (PostgreSQL) or its version check
        (SQLite) lets one concurrent complete make the change, the others find it completed
        and answer with the next occurrence it made; the unique `previous_occurrence_id` is
        the database's own guarantee, also across replicas."""
        task_id = require_task_id(request.id, "id")

        async def complete(
            repository: TaskRepository, row: Row[Any]
        ) -> tuple[Values, Values | None, str] | None:
            completed = await self.complete_row(repository, row)
            if completed is None:
                return None
            task, next_task, snapshots = completed
            return task, next_task, await self.record_undo(repository, snapshots)

        try:
            task, next_task, undo_token = await self._compare_and_set(
                task_id, request.etag, complete
            )
        except IntegrityError:
            # Another replica created the next occurrence between our read and our insert
            # (the unique previous_occurrence_id refused ours): the task is completed now,
            # so the repeat finds that occurrence.
            task, next_task, undo_token = await self._compare_and_set(task_id, "", complete)
        response = pb.CompleteTaskResponse(task=task_to_proto(task), undo_token=undo_token)
        if next_task is not None:
            response.next_task.CopyFrom(task_to_proto(next_task))
        return response

    async def complete_row(
        self, repository: TaskRepository, row: Row[Any]
    ) -> tuple[Values, Values | None, list[Snapshot]] | None:
        """Completes one locked task (left alone when already completed) and, when it repeats,
        finds or creates its next occurrence: (task, next occurrence or None, what undoing it
        needs — nothing when it changed nothing), or None when another writer changed the task
        first. CompleteTask and BatchCompleteTasks both complete through here."""
        current: Values = dict(row._mapping)
        if current["state"] == pb.TASK_STATE_COMPLETED:
            next_task = None
            if current["recurrence"]:
                next_task, _ = await self._next_of(repository, current)
            return current, next_task, []
        changes = {"state": pb.TASK_STATE_COMPLETED, "complete_time": utc_now()}
        applied = await self._apply(repository, row, changes, pb.TASK_EVENT_KIND_COMPLETED)
        if applied is None:
            return None
        snapshots = [Snapshot.changed(row._mapping, applied)]
        next_task, created = None, False
        if applied["recurrence"]:
            next_task, created = await self._next_of(repository, applied)
        if next_task is not None and created:
            # Undoing this completion removes the occurrence it created.
            snapshots.append(Snapshot.created(next_task))
        return applied, next_task, snapshots

    async def record_undo(self, repository: TaskRepository, snapshots: Sequence[Snapshot]) -> str:
        """The undo token of one mutation (of one task or a batch) that left `snapshots`, in
        the caller's unit of work; empty when it changed nothing."""
        if not snapshots:
            return ""
        return await self._undo.record(repository.session, repository.owner, snapshots, utc_now())

    async def _next_of(
        self, repository: TaskRepository, current: Values
    ) -> tuple[Values | None, bool]:
        """The next occurrence of a completed repeating task: the one already created, or a
        new one (None when the rule has ended), and whether this call created it."""
        existing = await repository.next_occurrence_of(current["id"])
        if existing is not None:
            return existing._mapping, False
        now = utc_now()
        values = next_occurrence_values(current, now)
        if values is None:
            return None, False
        await repository.insert(values)
        await self._record(
            repository.session, repository.owner, pb.TASK_EVENT_KIND_CREATED, values, now
        )
        await schedule_reminders(repository.session, repository.owner, values, now)
        log.info(
            "next occurrence created",
            extra={"task_id": values["id"], "previous_task_id": current["id"]},
        )
        return values, True

    async def ReopenTask(
        self, request: pb.ReopenTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReopenTaskResponse:
        """Marks a completed task open again, clearing its completion time. A task already
        open is left alone (its etag does not change)."""
        task_id = require_task_id(request.id, "id")

        def reopen(current: Values) -> dict[str, Any]:
            if current["state"] == pb.TASK_STATE_OPEN:
                return {}
            return {"state": pb.TASK_STATE_OPEN, "complete_time": None}

        values, undo_token = await self._change(
            task_id, request.etag, pb.TASK_EVENT_KIND_REOPENED, reopen
        )
        return pb.ReopenTaskResponse(task=task_to_proto(values), undo_token=undo_token)

    async def DeleteTask(
        self, request: pb.DeleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteTaskResponse:
        task_id = require_task_id(request.id, "id")

        async def delete(repository: TaskRepository, row: Row[Any]) -> pb.DeleteTaskResponse | None:
            snapshots = await self.delete_row(repository, row)
            if snapshots is None:
                return None
            return pb.DeleteTaskResponse(undo_token=await self.record_undo(repository, snapshots))

        return await self._compare_and_set(task_id, request.etag, delete)

    @staticmethod
    async def delete_row(repository: TaskRepository, row: Row[Any]) -> list[Snapshot] | None:
        """Deletes one locked task (softly, for undo) and records it in the outbox: what
        undoing it needs, or None when another writer changed it first. DeleteTask and
        BatchDeleteTasks both delete through here."""
        now = utc_now()
        if not await repository.delete_if_version(row.id, row.version, now):
            return None
        await forget_reminders(repository.session, repository.owner, row.id)
        await append_event(
            repository.session,
            repository.owner,
            kind=pb.TASK_EVENT_KIND_DELETED,
            task_id=row.id,
            task=None,
            now=now,
        )
        log.info("task deleted", extra={"task_id": row.id})
        return [Snapshot.deleted(row._mapping)]

    async def PurgeTasks(
        self, request: pb.PurgeTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.PurgeTasksResponse:
        owner = current_principal().user_id
        async with self._db.session() as session:
            count = await purge_owner(session, owner)
        log.info("tasks purged", extra={"count": count})
        return pb.PurgeTasksResponse(purge_count=count)

    async def _change(
        self,
        task_id: str,
        etag: str,
        kind: pb.TaskEventKind.ValueType,
        change: Callable[[Values], dict[str, Any]],
    ) -> tuple[Values, str]:
        """Read-modify-write of one task: `change` gets the task as it is and says what to
        set. Returns the task and the change's undo token. A change that changes nothing
        returns the task untouched (same etag) and no token."""

        async def update(repository: TaskRepository, row: Row[Any]) -> tuple[Values, str] | None:
            written = await self.write_changes(repository, row, change(row._mapping), kind)
            if written is None:
                return None
            values, snapshots = written
            return values, await self.record_undo(repository, snapshots)

        return await self._compare_and_set(task_id, etag, update)

    async def write_patch(
        self, repository: TaskRepository, row: Row[Any], patch: TaskPatch
    ) -> tuple[Values, list[Snapshot]] | None:
        """UpdateTask's change of one locked task (BatchUpdateTasks writes through here)."""
        changes = patch_values(row._mapping, patch)
        return await self.write_changes(repository, row, changes, pb.TASK_EVENT_KIND_UPDATED)

    async def write_changes(
        self,
        repository: TaskRepository,
        row: Row[Any],
        changes: dict[str, Any],
        kind: pb.TaskEventKind.ValueType,
    ) -> tuple[Values, list[Snapshot]] | None:
        """`_apply` of `changes` to one locked task, or the task untouched (same etag) when
        they change nothing; with what undoing it needs. UpdateTask, ReopenTask and
        BatchUpdateTasks write through here."""
        if not changes:
            return dict(row._mapping), []
        applied = await self._apply(repository, row, changes, kind)
        if applied is None:
            return None
        return applied, [Snapshot.changed(row._mapping, applied)]

    async def _apply(
        self,
        repository: TaskRepository,
        row: Row[Any],
        changes: dict[str, Any],
        kind: pb.TaskEventKind.ValueType,
    ) -> Values | None:
        """Writes `changes` at the version read and records the change in the outbox; None
        when another writer got there first."""
        now = utc_now()
        changes = {**changes, "update_time": now}
        if not await repository.update_if_version(row.id, row.version, changes):
            return None
        current = dict(row._mapping)
        current.update(changes, version=row.version + 1)
        await self._record(repository.session, repository.owner, kind, current, now)
        await reschedule_if_moved(repository.session, repository.owner, current, changes, now)
        return current

    @staticmethod
    async def _record(
        session: Any, owner: str, kind: pb.TaskEventKind.ValueType, values: Values, now: datetime
    ) -> None:
        """Appends the change of one task (as it now is) to the outbox."""
        await append_event(
            session,
            owner,
            kind=kind,
            task_id=values["id"],
            task=task_to_proto(values).SerializeToString(),
            now=now,
        )

    async def _compare_and_set(
        self,
        task_id: str,
        etag: str,
        write: Callable[[TaskRepository, Row[Any]], Awaitable[WrittenT | None]],
    ) -> WrittenT:
        """Every write of one task, as compare-and-set on its version: read it (locked), check
        the caller's etag, then `write` at the version read, which answers None when another
        writer got there first, else what the RPC returns.

        With an etag, a concurrent change is ABORTED; without one the write is retried on
        the fresh task (last writer wins, as the caller asked for no check).
        """
        owner = current_principal().user_id
        async with self._db.session() as session:
            repository = TaskRepository(session, owner)
            for _ in range(MAX_WRITE_ATTEMPTS):
                row = await repository.get(task_id, lock=True)
                if row is None:
                    raise task_not_found()
                if etag and etag != etag_of(row.id, row.version):
                    raise etag_mismatch()
                written = await write(repository, row)
                if written is not None:
                    break
                if etag:
                    raise etag_mismatch()
            else:
                raise _busy()
        self._feed.wake(owner)
        return written

    async def UndoChange(
        self, request: pb.UndoChangeRequest, context: grpc.aio.ServicerContext
    ) -> pb.UndoChangeResponse:
        """Reverts one mutation, once (see `undo.py`), in one unit of work that also writes
        the reverted tasks' changes to the outbox."""
        owner = current_principal().user_id
        for attempt in range(MAX_WRITE_ATTEMPTS):
            try:
                async with self._db.session() as session:
                    repository = TaskRepository(session, owner)
                    restored = await self._undo.undo(
                        repository, request.undo_token, utc_now(), self._record
                    )
                break
            except IntegrityError:
                # A restored occurrence's place in its series was taken between the check and
                # the write (a concurrent complete): the next attempt sees it taken.
                if attempt == MAX_WRITE_ATTEMPTS - 1:
                    raise _busy() from None
        self._feed.wake(owner)
        return pb.UndoChangeResponse(tasks=[task_to_proto(values) for values in restored])

    # ---- Bulk changes (todo_tasks.batch) ----

    async def BatchUpdateTasks(
        self, request: pb.BatchUpdateTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchUpdateTasksResponse:
        return await self._batches.update(request)

    async def BatchDeleteTasks(
        self, request: pb.BatchDeleteTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchDeleteTasksResponse:
        return await self._batches.delete(request)

    async def BatchCompleteTasks(
        self, request: pb.BatchCompleteTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchCompleteTasksResponse:
        return await self._batches.complete(request)

    async def WatchTaskEvents(
        self, request: pb.WatchTaskEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchTaskEventsResponse]:
        """The caller's committed changes, read from the outbox after the cursor; woken by
        this process's writes and other replicas' NOTIFY, looking again every poll period
        regardless, and sending an empty batch as a heartbeat when nothing happened."""
        cursor = parse_cursor(request.cursor)
        owner = current_principal().user_id
        feed = self._feed
        with feed.subscribe(owner) as woken:
            if cursor is None:
                cursor = await self._events.latest(owner)
            yield pb.WatchTaskEventsResponse(cursor=str(cursor))
            last_sent = time.monotonic()
            while not feed.closed:
                woken.clear()
                rows = await self._events.after(owner, cursor, EVENT_BATCH)
                if rows:
                    cursor = rows[-1].id
                    yield pb.WatchTaskEventsResponse(
                        events=[event_to_proto(row) for row in rows], cursor=str(cursor)
                    )
                    last_sent = time.monotonic()
                    if len(rows) == EVENT_BATCH:
                        continue
                quiet = time.monotonic() - last_sent
                if quiet >= self._heartbeat_seconds:
                    yield pb.WatchTaskEventsResponse(cursor=str(cursor))
                    last_sent, quiet = time.monotonic(), 0.0
                await feed.wait(woken, min(feed.poll_seconds, self._heartbeat_seconds - quiet))


def parse_cursor(value: str) -> int | None:
    """A WatchTaskEvents cursor as an outbox id (None: start at the newest event)."""
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > CURSOR_MAX_DIGITS:
        raise InvalidArgument(
            "cursor must be a cursor from an earlier WatchTaskEvents response, or empty.",
            field_violations=[FieldViolation("cursor", "is not a cursor this service issued.")],
        )
    return int(value)


def event_to_proto(row: Row[Any]) -> pb.TaskEvent:
    """One outbox row as the TaskEvent watchers see."""
    event = pb.TaskEvent(
        cursor=str(row.id),
        kind=row.kind,
        task_id=row.task_id,
        event_time=datetime_to_timestamp(row.event_time),
    )
    if row.task is not None:
        event.task.ParseFromString(row.task)
    if row.reminder_time is not None:
        event.reminder_time.CopyFrom(datetime_to_timestamp(row.reminder_time))
    return event


def _busy() -> Aborted:
    return Aborted(
        "The task is being changed by someone else right now; try again.",
        reason="CONCURRENT_MODIFICATION",
    )
