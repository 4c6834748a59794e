"""CreateTask with a request_id: a retry returns the first task, a different payload is refused."""

from __future__ import annotations

import asyncio

import grpc
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_testkit.rpc_errors import expect_rpc_error


async def test_same_request_id_and_payload_returns_the_same_task(new_task_caller):
    alice = await new_task_caller()
    first = await alice.create(title="Pay rent", tags=["home"], request_id="req-1")
    again = await alice.create(title="Pay rent", tags=["home"], request_id="req-1")
    assert again == first
    # Equivalent after normalisation counts as the same payload.
    normalised = await alice.create(title="  Pay rent ", tags=["#HOME"], request_id="req-1")
    assert normalised == first
    assert [t.id for t in await alice.list_all()] == [first.id]


async def test_retry_returns_the_task_as_it_is_now(new_task_caller):
    alice = await new_task_caller()
    first = await alice.create(title="Call mum", request_id="req-now")
    done = await alice.complete(first.id)
    assert await alice.create(title="Call mum", request_id="req-now") == done


async def test_same_request_id_with_a_different_payload_is_already_exists(new_task_caller):
    alice = await new_task_caller()
    first = await alice.create(title="Pay rent", request_id="req-2")
    for changed in (
        {"title": "Pay the rent"},
        {"title": "Pay rent", "notes": "by Friday"},
        {"title": "Pay rent", "priority": pb.TASK_PRIORITY_HIGH},
        {"title": "Pay rent", "tags": ["money"]},
        {"title": "Pay rent", "due_time": {"seconds": 1_800_000_000}},
    ):
        error = await expect_rpc_error(
            alice.create(request_id="req-2", **changed), grpc.StatusCode.ALREADY_EXISTS
        )
        assert error.reason == "REQUEST_ID_REUSED"
        assert "request_id" in error.message
    assert [t.id for t in await alice.list_all()] == [first.id]


async def test_request_ids_are_per_user(new_task_caller):
    alice = await new_task_caller()
    bob = await new_task_caller()
    a = await alice.create(title="Mine", request_id="shared-key")
    b = await bob.create(title="Something else", request_id="shared-key")
    assert a.id != b.id
    assert [t.id for t in await bob.list_all()] == [b.id]


async def test_no_request_id_creates_every_time(new_task_caller):
    alice = await new_task_caller()
    one = await alice.create(title="Same")
    two = await alice.create(title="Same")
    assert one.id != two.id


async def test_concurrent_retries_create_one_task(new_task_caller):
    alice = await new_task_caller()
    results = await asyncio.gather(
        *(alice.create(title="Race", request_id="req-race") for _ in range(8))
    )
    assert len({task.id for task in results}) == 1
    assert len(await alice.list_all()) == 1


async def test_retry_after_delete_does_not_resurrect(new_task_caller):
    alice = await new_task_caller()
    task = await alice.create(title="Once", request_id="req-del")
    await alice.delete(task.id)
    error = await expect_rpc_error(
        alice.create(title="Once", request_id="req-del"), grpc.StatusCode.NOT_FOUND
    )
    assert error.reason == "TASK_DELETED"
    assert await alice.list_all() == []


async def test_request_id_length_limit(new_task_caller):
    alice = await new_task_caller()
    ok = await alice.create(title="x", request_id="r" * 128)
    assert ok.id
    error = await expect_rpc_error(
        alice.create(title="x", request_id="r" * 129), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert [v.field for v in error.field_violations] == ["request_id"]
