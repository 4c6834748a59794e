"""Sessions end at once: access tokens carry their session (`sid`); signing out, refresh-token
reuse and account deletion revoke it, the revocation feed lists it, and GetMe refuses the token
within seconds, not when it expires."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import jwt
from todo.auth.v1 import auth_service_pb2 as pb
from todo.auth.v1.auth_service_pb2_grpc import AuthServiceStub
from todo_auth.server import start_auth_server
from todo_common.channels import caller_metadata
from todo_common.grpc_server import RunningServer
from todo_common.notify import NotifyHub
from todo_testkit.auth import (
    AuthServiceHandle,
    SignedUpUser,
    SignUp,
    running_auth_service,
    sign_up_user,
)
from todo_testkit.rpc_errors import expect_rpc_error, rpc_error
from todo_testkit.waiting import eventually

# Sign-out must reach every verifier within this long (the bound).
REVOCATION_SECONDS = 5


def session_of(token: str) -> str:
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    assert isinstance(sid, str) and sid
    return sid


async def assert_refused_soon(auth: AuthServiceHandle, token: str) -> None:
    async def refused() -> None:
        error = await expect_rpc_error(auth.get_me(token), grpc.StatusCode.UNAUTHENTICATED)
        assert error.reason == "SESSION_REVOKED", error

    await eventually(refused, within=REVOCATION_SECONDS, what="the revoked session's token refused")


async def revoked_session_ids(auth: AuthServiceHandle) -> set[str]:
    response = await auth.stub.ListRevokedSessions(pb.ListRevokedSessionsRequest(), timeout=5)
    assert response.next_page_token
    return {entry.session_id for entry in response.revoked_sessions}


async def test_tokens_of_one_sign_in_share_a_session(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user = await sign_up()
    refreshed = await auth_service.refresh(user.refresh_token)
    assert session_of(refreshed.tokens.access_token) == session_of(user.access_token)
    again = await auth_service.sign_in(user.email, user.password)
    assert session_of(again.tokens.access_token) != session_of(user.access_token)


async def test_sign_out_with_the_access_token_ends_that_session_only(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user = await sign_up()
    other = await auth_service.sign_in(user.email, user.password)
    assert (await auth_service.get_me(user.access_token)).user.id == user.user_id  # cached

    # No refresh token: the bearer token alone names the session.
    await auth_service.stub.SignOut(
        pb.SignOutRequest(), metadata=caller_metadata(user.access_token), timeout=5
    )

    await assert_refused_soon(auth_service, user.access_token)
    assert session_of(user.access_token) in await revoked_session_ids(auth_service)
    # The refresh token of that session is dead too; the other sign-in still works.
    error = await rpc_error(auth_service.refresh(user.refresh_token))
    assert error.reason == "REFRESH_TOKEN_REVOKED"
    assert (await auth_service.get_me(other.tokens.access_token)).user.id == user.user_id


async def test_sign_out_with_the_refresh_token_ends_the_access_token_too(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user = await sign_up()
    await auth_service.get_me(user.access_token)
    await auth_service.stub.SignOut(pb.SignOutRequest(refresh_token=user.refresh_token), timeout=5)
    await assert_refused_soon(auth_service, user.access_token)


async def test_sign_out_with_a_forged_or_garbage_bearer_revokes_nothing(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user = await sign_up()
    header, _, _ = user.access_token.partition(".")
    for junk in ["garbage", f"{header}.e30.AAAA", "x" * 6_000]:
        await auth_service.stub.SignOut(
            pb.SignOutRequest(), metadata=caller_metadata(junk), timeout=5
        )
    assert session_of(user.access_token) not in await revoked_session_ids(auth_service)
    assert (await auth_service.get_me(user.access_token)).user.id == user.user_id


async def test_refresh_token_reuse_ends_the_sessions_access_tokens(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user = await sign_up()
    rotated = await auth_service.refresh(user.refresh_token)
    await auth_service.get_me(rotated.tokens.access_token)
    await rpc_error(auth_service.refresh(user.refresh_token))
    await assert_refused_soon(auth_service, rotated.tokens.access_token)
    await assert_refused_soon(auth_service, user.access_token)


async def test_delete_account_ends_every_session_and_removes_the_user(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user: SignedUpUser = await sign_up()
    second = await auth_service.sign_in(user.email, user.password)
    bystander = await sign_up()

    await auth_service.stub.DeleteAccount(
        pb.DeleteAccountRequest(), metadata=caller_metadata(user.access_token), timeout=5
    )

    await assert_refused_soon(auth_service, user.access_token)
    await assert_refused_soon(auth_service, second.tokens.access_token)
    error = await rpc_error(auth_service.sign_in(user.email, user.password))
    assert error.reason == "INVALID_CREDENTIALS"
    # The email is free again, and nobody else was touched.
    assert (await sign_up(email=user.email)).user_id != user.user_id
    assert (await auth_service.get_me(bystander.access_token)).user.id == bystander.user_id


async def test_delete_account_needs_a_token(auth_service: AuthServiceHandle) -> None:
    await expect_rpc_error(
        auth_service.stub.DeleteAccount(pb.DeleteAccountRequest(), timeout=5),
        grpc.StatusCode.UNAUTHENTICATED,
    )


async def test_revocation_feed_pages_and_rejects_bad_requests(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    first = await auth_service.stub.ListRevokedSessions(pb.ListRevokedSessionsRequest(), timeout=5)
    user = await sign_up()
    await auth_service.stub.SignOut(pb.SignOutRequest(refresh_token=user.refresh_token), timeout=5)
    since = await auth_service.stub.ListRevokedSessions(
        pb.ListRevokedSessionsRequest(page_token=first.next_page_token), timeout=5
    )
    assert session_of(user.access_token) in {e.session_id for e in since.revoked_sessions}
    entry = next(e for e in since.revoked_sessions if e.session_id == session_of(user.access_token))
    assert entry.expire_time.seconds > entry.revoke_time.seconds
    await expect_rpc_error(
        auth_service.stub.ListRevokedSessions(
            pb.ListRevokedSessionsRequest(page_size=-1), timeout=5
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await expect_rpc_error(
        auth_service.stub.ListRevokedSessions(
            pb.ListRevokedSessionsRequest(page_token="not a token"), timeout=5
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


def _watch_hub(running: RunningServer) -> NotifyHub:
    """The hub behind a running auth server's WatchRevokedSessions (the drain closes it)."""
    [close] = running.on_drain
    hub = getattr(close, "__self__", None)
    assert isinstance(hub, NotifyHub)
    return hub


async def _next_message(stream: Any) -> None:
    """The stream's next message (a deadline, not a wait: it normally comes in milliseconds)."""
    async with asyncio.timeout(10):
        await stream.read()


async def test_the_watch_says_at_once_when_a_session_is_revoked(
    tmp_path: Path,
) -> None:
    # A heartbeat far beyond the test: any message after the first is the revocation's.
    async with running_auth_service(tmp_path, revocation_watch_heartbeat_seconds=3600) as auth:
        user = await sign_up_user(auth.stub)
        watch = auth.stub.WatchRevokedSessions(pb.WatchRevokedSessionsRequest())
        await _next_message(watch)  # at once: "read the list now"
        await auth.stub.SignOut(pb.SignOutRequest(), metadata=user.metadata, timeout=5)
        await _next_message(watch)
        assert session_of(user.access_token) in await revoked_session_ids(auth)
        watch.cancel()


async def test_a_revocation_on_one_auth_replica_reaches_the_watchers_of_another(
    tmp_path: Path,
) -> None:
    async with running_auth_service(tmp_path, revocation_watch_heartbeat_seconds=3600) as first:
        first.database.require_postgres("replicas hear each other through NOTIFY")
        second = await start_auth_server(first.settings)
        try:
            hub = _watch_hub(second)
            await eventually(hub.listening.is_set, what="the second replica listening")
            async with grpc.aio.insecure_channel(f"127.0.0.1:{second.port}") as channel:
                watch = AuthServiceStub(channel).WatchRevokedSessions(
                    pb.WatchRevokedSessionsRequest()
                )
                await _next_message(watch)
                user = await sign_up_user(first.stub)
                await first.stub.SignOut(pb.SignOutRequest(), metadata=user.metadata, timeout=5)
                await _next_message(watch)
                watch.cancel()
        finally:
            await second.stop(grace=1)


async def test_draining_ends_the_watch_without_waiting_for_the_grace_period(
    tmp_path: Path,
) -> None:
    async with running_auth_service(tmp_path) as auth:
        running = await start_auth_server(auth.settings)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            watch = AuthServiceStub(channel).WatchRevokedSessions(pb.WatchRevokedSessionsRequest())
            await _next_message(watch)
            stopping = asyncio.create_task(running.stop(grace=3600))
            assert await watch.read() is grpc.aio.EOF  # ended by the drain, not cancelled
            await asyncio.wait_for(stopping, 30)
            assert await watch.code() is grpc.StatusCode.OK
