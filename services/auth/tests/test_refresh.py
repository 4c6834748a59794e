"""Refresh and SignOut: rotation, reuse detection revoking the family, expiry, concurrency."""

from __future__ import annotations

import asyncio

import grpc
from todo.auth.v1 import auth_service_pb2 as pb
from todo_testkit.auth import AuthServiceHandle, SignedUpUser, sign_up_user
from todo_testkit.rpc_errors import rpc_error


async def test_refresh_rotates_the_refresh_token(
    auth_service: AuthServiceHandle, alice: SignedUpUser
) -> None:
    first = await auth_service.refresh(alice.refresh_token)
    second = await auth_service.refresh(first.tokens.refresh_token)
    assert len({alice.refresh_token, first.tokens.refresh_token, second.tokens.refresh_token}) == 3
    me = await auth_service.get_me(second.tokens.access_token)
    assert me.user.id == alice.user_id


async def test_reusing_a_rotated_token_revokes_the_whole_family(
    auth_service: AuthServiceHandle, alice: SignedUpUser
) -> None:
    rotated = await auth_service.refresh(alice.refresh_token)
    reused = await rpc_error(auth_service.refresh(alice.refresh_token))
    assert reused.code == grpc.StatusCode.UNAUTHENTICATED
    assert reused.reason == "REFRESH_TOKEN_REUSED"
    # The legitimate-looking latest token is dead too: the family is revoked.
    latest = await rpc_error(auth_service.refresh(rotated.tokens.refresh_token))
    assert latest.code == grpc.StatusCode.UNAUTHENTICATED
    assert latest.reason == "REFRESH_TOKEN_REVOKED"
    # Another sign-in (another family) is unaffected.
    other = await auth_service.sign_in(alice.email, alice.password)
    await auth_service.refresh(other.tokens.refresh_token)


async def test_concurrent_refreshes_of_one_token_cannot_both_succeed(
    auth_service: AuthServiceHandle, alice: SignedUpUser
) -> None:
    results = await asyncio.gather(
        *(auth_service.refresh(alice.refresh_token) for _ in range(5)),
        return_exceptions=True,
    )
    successes = [r for r in results if isinstance(r, pb.RefreshResponse)]
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(successes) == 1
    assert len(failures) == 4
    assert {f.code() for f in failures} == {grpc.StatusCode.UNAUTHENTICATED}


async def test_unknown_and_missing_refresh_tokens(auth_service: AuthServiceHandle) -> None:
    unknown = await rpc_error(auth_service.refresh("not-a-token"))
    assert unknown.code == grpc.StatusCode.UNAUTHENTICATED
    assert unknown.reason == "REFRESH_TOKEN_INVALID"
    oversized = await rpc_error(auth_service.refresh("x" * 5000))
    assert oversized.reason == "REFRESH_TOKEN_INVALID"
    missing = await rpc_error(auth_service.refresh(""))
    assert missing.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in missing.field_violations] == ["refresh_token"]


async def test_expired_refresh_token(start_auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth = await start_auth(clock=clock, refresh_token_ttl_seconds=60)
    user = await sign_up_user(auth.stub)
    clock.advance(61)
    expired = await rpc_error(auth.refresh(user.refresh_token))
    assert expired.code == grpc.StatusCode.UNAUTHENTICATED
    assert expired.reason == "REFRESH_TOKEN_EXPIRED"


async def test_sign_out_revokes_the_family_and_is_idempotent(
    auth_service: AuthServiceHandle, alice: SignedUpUser
) -> None:
    rotated = await auth_service.refresh(alice.refresh_token)
    # Signing out with an older token of the family ends the session too.
    await auth_service.stub.SignOut(pb.SignOutRequest(refresh_token=alice.refresh_token), timeout=5)
    await auth_service.stub.SignOut(pb.SignOutRequest(refresh_token=alice.refresh_token), timeout=5)
    revoked = await rpc_error(auth_service.refresh(rotated.tokens.refresh_token))
    assert revoked.code == grpc.StatusCode.UNAUTHENTICATED
    assert revoked.reason == "REFRESH_TOKEN_REVOKED"
    # Unknown and empty tokens succeed too: sign-out cannot fail in a way a client must handle.
    await auth_service.stub.SignOut(pb.SignOutRequest(refresh_token="unknown"), timeout=5)
    await auth_service.stub.SignOut(pb.SignOutRequest(), timeout=5)
