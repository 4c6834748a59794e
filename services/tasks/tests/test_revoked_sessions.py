"""The tasks service verifies tokens locally, yet a signed-out session's token stops working
within seconds (the verifier polls the auth service's revocation feed), not at its expiry."""

from __future__ import annotations

import grpc
from todo.auth.v1 import auth_service_pb2 as auth_pb
from todo_testkit.auth import AuthServiceHandle
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import NewTaskCaller
from todo_testkit.waiting import eventually


async def test_a_signed_out_sessions_token_is_refused_within_seconds(
    auth_service: AuthServiceHandle, new_task_caller: NewTaskCaller
) -> None:
    alice = await new_task_caller()
    bob = await new_task_caller()
    await alice.create(title="before sign-out")  # Verified and cached by the tasks service.

    await auth_service.stub.SignOut(auth_pb.SignOutRequest(), metadata=alice.metadata, timeout=5)

    async def refused() -> None:
        error = await expect_rpc_error(alice.list_all(), grpc.StatusCode.UNAUTHENTICATED)
        assert error.reason == "SESSION_REVOKED", error

    await eventually(refused, within=5, what="the tasks service to refuse the revoked session")
    assert [t.title for t in await bob.list_all()] == []  # Others are not affected.
