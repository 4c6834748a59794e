"""SignUp: validation (each field), duplicate emails, email normalisation."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from todo.auth.v1 import auth_service_pb2 as pb
from todo_common.errors import parse_rpc_error
from todo_testkit.auth import AuthServiceHandle, SignUp, unique_email
from todo_testkit.rpc_errors import expect_rpc_error

PASSWORD = "a perfectly fine password"


async def test_sign_up_returns_user_and_working_tokens(auth_service: AuthServiceHandle) -> None:
    email = unique_email()
    response = await auth_service.stub.SignUp(
        pb.SignUpRequest(email=email, password=PASSWORD, display_name="Alice"), timeout=10
    )
    assert response.user.id
    assert response.user.email == email
    assert response.user.display_name == "Alice"
    assert response.user.create_time.seconds > 0
    assert response.tokens.access_token.count(".") == 2
    assert response.tokens.refresh_token
    assert response.tokens.access_token_expire_time.seconds > 0
    me = await auth_service.get_me(response.tokens.access_token)
    assert me.user.id == response.user.id


async def test_email_is_trimmed_and_lower_cased(auth_service: AuthServiceHandle) -> None:
    email = unique_email()
    response = await auth_service.stub.SignUp(
        pb.SignUpRequest(email=f"  {email.upper()} ", password=PASSWORD), timeout=10
    )
    assert response.user.email == email
    signed_in = await auth_service.sign_in(email.title(), PASSWORD)
    assert signed_in.user.id == response.user.id


async def test_duplicate_email_is_already_exists(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user = await sign_up()
    error = await expect_rpc_error(
        auth_service.stub.SignUp(
            pb.SignUpRequest(email=f" {user.email.upper()}", password=PASSWORD), timeout=10
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert error.reason == "EMAIL_TAKEN"


@pytest.mark.parametrize(
    ("email", "password", "display_name", "field", "description"),
    [
        ("", PASSWORD, "", "email", "required"),
        ("not-an-email", PASSWORD, "", "email", "does not look like an email"),
        ("two@@example.com", PASSWORD, "", "email", "does not look like an email"),
        ("spaces in@example.com", PASSWORD, "", "email", "does not look like an email"),
        ("x" * 250 + "@example.com", PASSWORD, "", "email", "At most 254"),
        ("ok@example.com", "short", "", "password", "At least 8"),
        ("ok@example.com", "p" * 129, "", "password", "At most 128"),
        ("Same@Example.com", "same@example.com", "", "password", "not be the email"),
        ("ok@example.com", PASSWORD, "n" * 101, "display_name", "At most 100"),
        # PostgreSQL cannot store NUL; found by the edge's fuzzer as an INTERNAL error.
        ("nul\x00@example.com", PASSWORD, "", "email", "does not look like an email"),
        ("ok@example.com", PASSWORD, "Al\x00ice", "display_name", "control characters"),
    ],
)
async def test_invalid_sign_up_names_the_field(
    auth_service: AuthServiceHandle,
    email: str,
    password: str,
    display_name: str,
    field: str,
    description: str,
) -> None:
    error = await expect_rpc_error(
        auth_service.stub.SignUp(
            pb.SignUpRequest(email=email, password=password, display_name=display_name),
            timeout=10,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert [v.field for v in error.field_violations] == [field]
    assert description in error.field_violations[0].description


async def test_every_invalid_field_is_reported_at_once(auth_service: AuthServiceHandle) -> None:
    error = await expect_rpc_error(
        auth_service.stub.SignUp(
            pb.SignUpRequest(email="nope", password="x", display_name="n" * 101), timeout=10
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert {v.field for v in error.field_violations} == {"email", "password", "display_name"}


async def test_passwords_of_exactly_8_and_128_characters_are_accepted(
    sign_up: SignUp,
) -> None:
    assert (await sign_up(password="8" * 8)).user_id
    assert (await sign_up(password="x" * 128)).user_id


async def test_concurrent_sign_ups_with_one_email_create_one_user(
    auth_service: AuthServiceHandle,
) -> None:
    email = unique_email("race")
    results = await asyncio.gather(
        *(
            auth_service.stub.SignUp(pb.SignUpRequest(email=email, password=PASSWORD), timeout=10)
            for _ in range(4)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, pb.SignUpResponse) for r in results) == 1
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert {parse_rpc_error(f).reason for f in failures} == {"EMAIL_TAKEN"}


async def test_sign_in_with_a_nul_in_the_email_is_invalid_not_internal(
    auth_service: AuthServiceHandle,
) -> None:
    error = await expect_rpc_error(
        auth_service.sign_in("a\x00b@example.com", PASSWORD),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert [v.field for v in error.field_violations] == ["email"]
