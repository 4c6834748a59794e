"""Password storage: argon2id with the configured parameters, upgraded on the next sign-in."""

from __future__ import annotations

from typing import Any

from todo_auth.repository import UserRepository
from todo_auth.server import open_database
from todo_testkit.auth import AuthServiceHandle, sign_up_user


async def stored_hash(auth: AuthServiceHandle, email: str) -> str:
    database = open_database(auth.settings)
    try:
        async with database.session() as session:
            user = await UserRepository(session).get_by_email(email)
    finally:
        await database.dispose()
    assert user is not None and user.password_hash is not None
    return user.password_hash


async def test_passwords_are_stored_as_argon2id_with_owasp_parameters(
    start_auth: Any,
) -> None:
    auth = await start_auth()
    user = await sign_up_user(auth.stub)
    password_hash = await stored_hash(auth, user.email)
    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert user.password not in password_hash


async def test_an_outdated_hash_is_upgraded_on_sign_in(start_auth: Any) -> None:
    old = await start_auth(argon2_time_cost=1, argon2_memory_cost_kib=8192)
    user = await sign_up_user(old.stub)
    assert ",t=1," in await stored_hash(old, user.email)

    current = await start_auth(
        database_url=old.settings.database_url, database_schema=old.settings.database_schema
    )
    await current.sign_in(user.email, user.password)
    assert (await stored_hash(current, user.email)).startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    # The upgraded hash still verifies.
    await current.sign_in(user.email, user.password)
