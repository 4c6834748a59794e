"""Bad input is INVALID_ARGUMENT with field violations naming each offending field."""

from __future__ import annotations

import grpc
import pytest
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.rpc_errors import expect_rpc_error

INVALID = grpc.StatusCode.INVALID_ARGUMENT
YEAR_2100 = 4_102_444_800


async def violations(call) -> dict[str, str]:
    error = await expect_rpc_error(call, INVALID)
    assert error.field_violations, error
    return {v.field: v.description for v in error.field_violations}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "task.title"),
        ({"title": "   \t\n "}, "task.title"),
        ({"title": "x" * 201}, "task.title"),
        ({"title": "nul\x00byte"}, "task.title"),
        ({"title": "ok", "notes": "nul\x00byte"}, "task.notes"),
        ({"title": "ok", "request_id": "nul\x00byte"}, "request_id"),
        ({"title": "ok", "tags": ["nul\x00"]}, "task.tags[0]"),
        ({"title": "ok", "notes": "n" * 10_001}, "task.notes"),
        ({"title": "ok", "priority": 9}, "task.priority"),
        ({"title": "ok", "due_time": {"seconds": -1}}, "task.due_time"),
        ({"title": "ok", "due_time": {"seconds": YEAR_2100}}, "task.due_time"),
        ({"title": "ok", "due_time": {"seconds": 1, "nanos": -5}}, "task.due_time"),
        ({"title": "ok", "tags": ["ok", ""]}, "task.tags[1]"),
        ({"title": "ok", "tags": ["#"]}, "task.tags[0]"),
        ({"title": "ok", "tags": ["t" * 33]}, "task.tags[0]"),
        ({"title": "ok", "tags": ["two words"]}, "task.tags[0]"),
        ({"title": "ok", "tags": ["semi;colon"]}, "task.tags[0]"),
        ({"title": "ok", "tags": [f"tag{i}" for i in range(21)]}, "task.tags"),
    ],
)
async def test_create_rejects_bad_fields(new_task_caller, fields, field):
    alice = await new_task_caller()
    found = await violations(alice.create(**fields))
    assert list(found) == [field]
    assert await alice.list_all() == []


async def test_limits_are_inclusive(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(
        title="x" * 200,
        notes="n" * 10_000,
        tags=[f"t{i}-{'x' * 28}" for i in range(20)],
        due_time={"seconds": YEAR_2100 - 1},
    )
    assert len(task.title) == 200
    assert len(task.tags) == 20
    # Duplicates collapse before counting, and unicode letters are letters.
    many = await alice.create(title="dups", tags=["Same"] * 30 + ["écoute", "日本"])
    assert list(many.tags) == ["same", "écoute", "日本"]
    epoch = await alice.create(title="epoch", due_time={"seconds": 0})
    assert epoch.HasField("due_time")


async def test_every_violation_is_reported_at_once(new_task_caller):
    alice = await new_task_caller()
    found = await violations(
        alice.create(
            title="",
            notes="n" * 10_001,
            priority=7,
            tags=["bad tag"],
            due_time={"seconds": -10},
            request_id="r" * 200,
        )
    )
    assert set(found) == {
        "task.title",
        "task.notes",
        "task.priority",
        "task.tags[0]",
        "task.due_time",
        "request_id",
    }


async def test_update_validates_the_masked_fields(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="T")
    found = await violations(
        alice.update(pb.Task(id=task.id, title=" ", tags=["x" * 40]), "title", "tags")
    )
    assert set(found) == {"task.title", "task.tags[0]"}
    found = await violations(
        alice.update(pb.Task(id=task.id, title="a\x00", notes="\x00"), "title", "notes")
    )
    assert set(found) == {"task.title", "task.notes"}
    # Fields outside the mask are not validated (and not applied).
    ok = await alice.update(pb.Task(id=task.id, title="fine", notes="n" * 20_000), "title")
    assert ok.title == "fine"
    assert ok.notes == ""


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"page_size": -1}, "page_size"),
        ({"state": 5}, "state"),
        ({"priority": 9}, "priority"),
        ({"tag": "no spaces"}, "tag"),
        ({"tag": "x" * 33}, "tag"),
        ({"due_before": {"seconds": -1}}, "due_before"),
        ({"due_after": {"seconds": YEAR_2100 + 5}}, "due_after"),
        ({"query": "q" * 201}, "query"),
        ({"query": "nul\x00"}, "query"),
        ({"order_by": "title"}, "order_by"),
        ({"order_by": "create_time descending"}, "order_by"),
        ({"order_by": "priority desc, create_time"}, "order_by"),
        ({"order_by": "due_time desc extra"}, "order_by"),
    ],
)
async def test_list_rejects_bad_arguments(new_task_caller, fields, field):
    alice = await new_task_caller()
    assert list(await violations(alice.list_tasks(**fields))) == [field]
