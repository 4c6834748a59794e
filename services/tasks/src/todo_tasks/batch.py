"""Bulk changes: BatchUpdateTasks, BatchDeleteTasks and BatchCompleteTasks (AIP-233/235 style).

Each call names its tasks by id and is all-or-nothing: one unit of work that locks every named
task (in id order, so overlapping batches queue rather than deadlock), answers NOT_FOUND for
the whole batch when any id is missing or another user's, and writes each task through the
same per-task path as the single-task RPCs (`TaskWrites`: the outbox event, the next
occurrence of a repeating task, exactly once). A lost compare-and-set (SQLite has no row
locks) or a unique-key race rolls the whole batch back and runs it again on fresh rows.

Idempotency (AIP-155): with a `request_id`, the first call's response is stored with a hash
of its method and payload in the same unit of work; a repeat answers that response and
changes nothing, a different payload under the same id is ALREADY_EXISTS.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Row, Table, insert, select
from sqlalchemy.exc import IntegrityError
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.db import Database
from todo_common.errors import Aborted, AlreadyExists, NotFound
from todo_common.tokens import current_principal

from todo_tasks.feed import ChangeFeed
from todo_tasks.ids import is_task_id
from todo_tasks.models import BatchRequestRow
from todo_tasks.repository import TaskRepository, Values
from todo_tasks.undo import Snapshot
from todo_tasks.validation import (
    TAGS_MAX,
    TaskPatch,
    Violations,
    _check_time,
    _priority,
    _tags,
    check_request_id,
    timestamp_to_datetime,
)

log = logging.getLogger(__name__)

# The most tasks one batch call may name.
BATCH_MAX = 100
# How often a batch is run again after losing a race before it answers ABORTED.
MAX_BATCH_ATTEMPTS = 3
BATCH_UPDATE_PATHS = ("due_time", "priority")

batch_requests = cast(Table, BatchRequestRow.__table__)
ResponseT = TypeVar(
    "ResponseT",
    pb.BatchUpdateTasksResponse,
    pb.BatchDeleteTasksResponse,
    pb.BatchCompleteTasksResponse,
)
WrittenT = TypeVar("WrittenT")


class TaskWrites(Protocol):
    """The per-task writes of the single-task RPCs (`TaskService`), which every batch reuses.
    Each works on one task locked in the caller's unit of work and answers None / False when
    another writer changed it first."""

    async def write_patch(
        self, repository: TaskRepository, row: Row[Any], patch: TaskPatch
    ) -> tuple[Values, list[Snapshot]] | None: ...

    async def complete_row(
        self, repository: TaskRepository, row: Row[Any]
    ) -> tuple[Values, Values | None, list[Snapshot]] | None: ...

    async def delete_row(
        self, repository: TaskRepository, row: Row[Any]
    ) -> list[Snapshot] | None: ...

    async def record_undo(
        self, repository: TaskRepository, snapshots: Sequence[Snapshot]
    ) -> str: ...


class LostRace(Exception):
    """A task changed between the batch's read and its write: roll back and run it again."""


async def _each_row(
    rows: list[Row[Any]], write_one: Callable[[Row[Any]], Awaitable[WrittenT | None]]
) -> list[WrittenT]:
    """`write_one` of every row, in order. None from any (another writer changed that task
    first) loses the race for the whole batch."""
    written: list[WrittenT] = []
    for row in rows:
        result = await write_one(row)
        if result is None:
            raise LostRace
        written.append(result)
    return written


@dataclass(frozen=True)
class BatchChange:
    """What a BatchUpdateTasks sets on every task, validated."""

    paths: frozenset[str]
    due_time: datetime | None
    priority: int
    add_tags: tuple[str, ...]
    remove_tags: tuple[str, ...]

    def canonical(self) -> dict[str, object]:
        """The change as plain JSON-able data (for the payload hash)."""
        return {
            "paths": sorted(self.paths),
            "due_time": self.due_time.isoformat() if self.due_time else None,
            "priority": self.priority if "priority" in self.paths else None,
            "add_tags": list(self.add_tags),
            "remove_tags": list(self.remove_tags),
        }

    def patch_for(self, current: Values) -> TaskPatch:
        """The per-task patch: the task's tags with `add_tags` appended and `remove_tags`
        taken out; INVALID_ARGUMENT when that leaves it more than TAGS_MAX tags."""
        paths = set(self.paths)
        tags: tuple[str, ...] = ()
        if self.add_tags or self.remove_tags:
            removed = set(self.remove_tags)
            merged = dict.fromkeys([*current["tags"], *self.add_tags])
            tags = tuple(tag for tag in merged if tag not in removed)
            paths.add("tags")
            if len(tags) > TAGS_MAX:
                violations = Violations()
                violations.add(
                    "add_tags", f"would give task {current['id']} more than {TAGS_MAX} tags."
                )
                violations.raise_if_any()
        return TaskPatch(
            paths=frozenset(paths),
            due_time=self.due_time,
            priority=self.priority,
            tags=tags,
        )


def validate_ids(ids: Sequence[str], violations: Violations) -> list[str]:
    """The batch's ids: 1 to BATCH_MAX, none empty, none repeated."""
    if not 1 <= len(ids) <= BATCH_MAX:
        violations.add("ids", f"must name 1 to {BATCH_MAX} tasks.")
    first_at: dict[str, int] = {}
    for index, task_id in enumerate(ids):
        if not task_id:
            violations.add(f"ids[{index}]", "is required.")
        elif task_id in first_at:
            violations.add(f"ids[{index}]", f"repeats ids[{first_at[task_id]}].")
        else:
            first_at[task_id] = index
    return list(ids)


def validate_batch_update(request: pb.BatchUpdateTasksRequest) -> tuple[list[str], BatchChange]:
    """The ids and the change of a BatchUpdateTasks call."""
    violations = Violations()
    ids = validate_ids(request.ids, violations)
    paths = frozenset(request.update_mask.paths)
    for path in sorted(paths - set(BATCH_UPDATE_PATHS)):
        violations.add(
            "update_mask", f"'{path}' cannot be batch-updated; allowed: due_time, priority."
        )
    due_time = None
    if (
        "due_time" in paths
        and request.HasField("due_time")
        and _check_time(request.due_time, "due_time", violations)
    ):
        due_time = timestamp_to_datetime(request.due_time)
    priority: int = pb.TASK_PRIORITY_MEDIUM
    if "priority" in paths:
        if request.priority == pb.TASK_PRIORITY_UNSPECIFIED:
            violations.add("priority", "must be TASK_PRIORITY_LOW, _MEDIUM or _HIGH.")
        else:
            priority = _priority(request.priority, "priority", violations)
    add_tags = _tags(request.add_tags, "add_tags", violations)
    remove_tags = _tags(request.remove_tags, "remove_tags", violations)
    for tag in sorted(set(add_tags) & set(remove_tags)):
        violations.add("remove_tags", f"'{tag}' is also in add_tags.")
    if not paths and not add_tags and not remove_tags:
        violations.add("update_mask", "name due_time or priority, or give add_tags or remove_tags.")
    violations.raise_if_any()
    return ids, BatchChange(paths, due_time, priority, add_tags, remove_tags)


def validate_batch_ids(ids: Sequence[str]) -> list[str]:
    """The ids of a BatchDeleteTasks or BatchCompleteTasks call."""
    violations = Violations()
    checked = validate_ids(ids, violations)
    violations.raise_if_any()
    return checked


def payload_hash(method: str, ids: Sequence[str], change: dict[str, object] | None) -> str:
    """A stable hash of a batch call, to tell a repeat from a different call."""
    canonical = json.dumps(
        {"method": method, "ids": list(ids), "change": change}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def batch_not_found() -> NotFound:
    """The answer when any id of a batch is missing, another user's or malformed."""
    return NotFound(
        "Task not found: at least one of the tasks does not exist; nothing was changed.",
        reason="TASK_NOT_FOUND",
    )


def _busy() -> Aborted:
    return Aborted(
        "The tasks are being changed by someone else right now; nothing was changed. Try again.",
        reason="CONCURRENT_MODIFICATION",
    )


class BatchWrites:
    """The three batch RPCs over one database; `writes` are the single-task writes."""

    def __init__(
        self,
        database: Database,
        feed: ChangeFeed,
        writes: TaskWrites,
        to_proto: Callable[[Values], pb.Task],
    ) -> None:
        self._db = database
        self._feed = feed
        self._writes = writes
        self._to_proto = to_proto

    async def update(self, request: pb.BatchUpdateTasksRequest) -> pb.BatchUpdateTasksResponse:
        """BatchUpdateTasks."""
        ids, change = validate_batch_update(request)

        async def write(
            repository: TaskRepository, rows: list[Row[Any]]
        ) -> tuple[pb.BatchUpdateTasksResponse, list[Snapshot]]:
            written = await _each_row(
                rows,
                lambda row: self._writes.write_patch(
                    repository, row, change.patch_for(row._mapping)
                ),
            )
            response = pb.BatchUpdateTasksResponse(
                tasks=[self._to_proto(task) for task, _ in written]
            )
            return response, [snapshot for _, undo in written for snapshot in undo]

        return await self._run(
            ("update", change.canonical()),
            ids,
            request.request_id,
            write,
            pb.BatchUpdateTasksResponse,
        )

    async def delete(self, request: pb.BatchDeleteTasksRequest) -> pb.BatchDeleteTasksResponse:
        """BatchDeleteTasks."""
        ids = validate_batch_ids(request.ids)

        async def write(
            repository: TaskRepository, rows: list[Row[Any]]
        ) -> tuple[pb.BatchDeleteTasksResponse, list[Snapshot]]:
            undos = await _each_row(rows, lambda row: self._writes.delete_row(repository, row))
            response = pb.BatchDeleteTasksResponse(
                tasks=[self._to_proto(row._mapping) for row in rows]
            )
            return response, [snapshot for undo in undos for snapshot in undo]

        return await self._run(
            ("delete", None), ids, request.request_id, write, pb.BatchDeleteTasksResponse
        )

    async def complete(
        self, request: pb.BatchCompleteTasksRequest
    ) -> pb.BatchCompleteTasksResponse:
        """BatchCompleteTasks."""
        ids = validate_batch_ids(request.ids)

        async def write(
            repository: TaskRepository, rows: list[Row[Any]]
        ) -> tuple[pb.BatchCompleteTasksResponse, list[Snapshot]]:
            completed = await _each_row(
                rows, lambda row: self._writes.complete_row(repository, row)
            )
            response = pb.BatchCompleteTasksResponse(
                tasks=[self._to_proto(task) for task, _, _ in completed],
                next_tasks=[self._to_proto(task) for _, task, _ in completed if task is not None],
            )
            return response, [snapshot for *_, undo in completed for snapshot in undo]

        return await self._run(
            ("complete", None), ids, request.request_id, write, pb.BatchCompleteTasksResponse
        )

    async def _run(
        self,
        call: tuple[str, dict[str, object] | None],
        ids: list[str],
        request_id: str,
        write: Callable[
            [TaskRepository, list[Row[Any]]], Awaitable[tuple[ResponseT, list[Snapshot]]]
        ],
        response_type: type[ResponseT],
    ) -> ResponseT:
        """One batch (`call`: the method and its change) as one unit of work: replay an
        earlier call with the same request id, or lock every task, `write` them in the
        request's order, record one undo token for them all and record the response."""
        violations = Violations()
        check_request_id(request_id, violations)
        violations.raise_if_any()
        if not all(is_task_id(task_id) for task_id in ids):
            raise batch_not_found()
        hashed = payload_hash(call[0], ids, call[1])
        owner = current_principal().user_id
        for attempt in range(1, MAX_BATCH_ATTEMPTS + 1):
            try:
                async with self._db.session() as session:
                    repository = TaskRepository(session, owner)
                    if request_id:
                        earlier = await _replay(repository, request_id, hashed, response_type)
                        if earlier is not None:
                            return earlier
                    rows = {row.id: row for row in await repository.get_many(ids, lock=True)}
                    if len(rows) != len(ids):
                        raise batch_not_found()
                    response, snapshots = await write(
                        repository, [rows[task_id] for task_id in ids]
                    )
                    # One undo record of every task the batch changed: one token undoes it all.
                    response.undo_token = await self._writes.record_undo(repository, snapshots)
                    if request_id:
                        await session.execute(
                            insert(batch_requests).values(
                                owner_id=owner,
                                request_id=request_id,
                                payload_hash=hashed,
                                response=response.SerializeToString(),
                                create_time=datetime.now(UTC),
                            )
                        )
            except (LostRace, IntegrityError):
                # A concurrent writer won a task, created a next occurrence first, or
                # recorded this request id first: everything rolled back; run it again on
                # fresh rows (the repeat finds what the winner did).
                log.info("batch lost a race", extra={"attempt": attempt, "count": len(ids)})
                continue
            self._feed.wake(owner)
            log.info("batch written", extra={"count": len(ids)})
            return response
        raise _busy()


async def _replay(
    repository: TaskRepository, request_id: str, hashed: str, response_type: type[ResponseT]
) -> ResponseT | None:
    """The response of an earlier batch call with this request id, or None."""
    result = await repository.session.execute(
        select(batch_requests.c.payload_hash, batch_requests.c.response).where(
            batch_requests.c.owner_id == repository.owner,
            batch_requests.c.request_id == request_id,
        )
    )
    record = result.first()
    if record is None:
        return None
    if record.payload_hash != hashed:
        raise AlreadyExists(
            "This request_id was already used for a different batch; use a new request_id "
            "for a new change.",
            reason="REQUEST_ID_REUSED",
        )
    response = response_type()
    response.ParseFromString(record.response)
    return response
