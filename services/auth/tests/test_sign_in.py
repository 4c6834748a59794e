"""SignIn: success, one error for unknown email and wrong password, throttling."""

from __future__ import annotations

import grpc
from todo_testkit.auth import AuthServiceHandle, SignedUpUser, SignUp, sign_up_user, unique_email
from todo_testkit.rpc_errors import rpc_error


async def test_sign_in_returns_tokens_for_the_user(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user = await sign_up(display_name="Bob")
    response = await auth_service.sign_in(user.email, user.password)
    assert response.user.id == user.user_id
    assert response.user.display_name == "Bob"
    assert response.tokens.refresh_token != user.refresh_token
    me = await auth_service.get_me(response.tokens.access_token)
    assert me.user.email == user.email


async def test_unknown_email_and_wrong_password_fail_identically(
    auth_service: AuthServiceHandle, alice: SignedUpUser
) -> None:
    wrong_password = await rpc_error(auth_service.sign_in(alice.email, "not the password"))
    unknown_email = await rpc_error(auth_service.sign_in(unique_email(), alice.password))
    assert wrong_password.code == unknown_email.code == grpc.StatusCode.UNAUTHENTICATED
    assert wrong_password.reason == unknown_email.reason == "INVALID_CREDENTIALS"
    assert wrong_password.message == unknown_email.message


async def test_missing_fields_are_invalid_argument(auth_service: AuthServiceHandle) -> None:
    error = await rpc_error(auth_service.sign_in("  ", ""))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in error.field_violations} == {"email", "password"}


async def test_repeated_failures_throttle_the_account_then_it_recovers(start_auth, clock) -> None:
    auth = await start_auth(
        clock=clock,
        sign_in_max_failures=3,
        sign_in_failure_window_seconds=600,
        sign_in_lockout_seconds=120,
    )
    user = await sign_up_user(auth.stub)
    for _ in range(3):
        error = await rpc_error(auth.sign_in(user.email, "wrong password!"))
        assert error.reason == "INVALID_CREDENTIALS"

    # Locked: even the right password is refused, with a retry delay.
    locked = await rpc_error(auth.sign_in(user.email.upper(), user.password))
    assert locked.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert locked.retry_after_seconds is not None
    assert 100 <= locked.retry_after_seconds <= 120

    # Other accounts are not affected.
    other = await sign_up_user(auth.stub)
    await auth.sign_in(other.email, other.password)

    clock.advance(121)
    response = await auth.sign_in(user.email, user.password)
    assert response.user.id == user.user_id
    # Success resets the count: the next wrong password is an ordinary failure again.
    error = await rpc_error(auth.sign_in(user.email, "wrong password!"))
    assert error.reason == "INVALID_CREDENTIALS"


async def test_unknown_emails_are_throttled_too(start_auth, clock) -> None:
    auth = await start_auth(clock=clock, sign_in_max_failures=2, sign_in_lockout_seconds=30)
    email = unique_email("ghost")
    for _ in range(2):
        assert (await rpc_error(auth.sign_in(email, "whatever123"))).reason == (
            "INVALID_CREDENTIALS"
        )
    locked = await rpc_error(auth.sign_in(email, "whatever123"))
    assert locked.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert locked.reason == "TOO_MANY_SIGN_IN_ATTEMPTS"


async def test_failures_outside_the_window_do_not_count(start_auth, clock) -> None:
    auth = await start_auth(clock=clock, sign_in_max_failures=2, sign_in_failure_window_seconds=60)
    user = await sign_up_user(auth.stub)
    await rpc_error(auth.sign_in(user.email, "wrong password!"))
    clock.advance(61)
    await rpc_error(auth.sign_in(user.email, "wrong password!"))
    response = await auth.sign_in(user.email, user.password)
    assert response.user.id == user.user_id
