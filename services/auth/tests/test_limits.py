"""Faults: oversized messages are refused without harming the server; the database going away
is UNAVAILABLE."""

from __future__ import annotations

from pathlib import Path

import grpc
from todo.auth.v1 import auth_service_pb2 as pb
from todo_testkit.auth import AuthServiceHandle, running_auth_service, sign_up_user
from todo_testkit.postgres_server import throwaway_postgres
from todo_testkit.rpc_errors import rpc_error


async def test_message_over_the_size_limit_is_refused_and_the_server_keeps_serving(
    auth_service: AuthServiceHandle,
) -> None:
    limit = auth_service.settings.max_receive_message_bytes
    error = await rpc_error(
        auth_service.stub.SignUp(
            pb.SignUpRequest(email="big@example.com", password="x" * (limit + 1)), timeout=10
        )
    )
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in error.message
    user = await sign_up_user(auth_service.stub)
    assert user.user_id


async def test_database_outage_is_unavailable_and_the_service_recovers(tmp_path: Path) -> None:
    async with (
        throwaway_postgres() as postgres,
        running_auth_service(
            tmp_path, database_url=postgres.url, database_schema="auth_outage"
        ) as auth,
    ):
        user = await sign_up_user(auth.stub)
        sign_in = pb.SignInRequest(email=user.email, password=user.password)
        await postgres.stop()
        error = await rpc_error(auth.stub.SignIn(sign_in, timeout=15))
        assert error.code == grpc.StatusCode.UNAVAILABLE
        assert error.reason == "DATABASE_UNAVAILABLE"
        assert "database is unavailable" in error.message
        await postgres.start()
        response = await auth.stub.SignIn(sign_in, timeout=15)
        assert response.user.id == user.user_id
