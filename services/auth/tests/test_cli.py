"""The `todo-auth` command: migrate, dev-token (a token that verifies, last line), rotate-keys."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest
from todo.auth.v1 import auth_service_pb2 as pb
from todo_auth.__main__ import dev_token
from todo_auth.__main__ import main as auth_main
from todo_common.tokens import TokenVerifier, grpc_jwks_fetcher
from todo_testkit import databases
from todo_testkit.auth import AuthServiceHandle, sign_up_user, unique_email


async def todo_auth(database: databases.IsolatedDatabase, *args: str) -> tuple[str, str]:
    """Runs `todo-auth <args>` against `database`; returns stdout and stderr."""
    env = {
        **os.environ,
        "AUTH_DATABASE_URL": database.url,
        "AUTH_DATABASE_SCHEMA": database.schema,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "todo_auth",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode(), stderr.decode()


async def test_dev_token_verifies_against_the_running_service(
    auth_service: AuthServiceHandle,
) -> None:
    # In-process (the command's stdout contract is tested below with a real subprocess).
    email = unique_email("dev")
    token = await dev_token(auth_service.settings, f" {email.upper()}")
    # The same verification every backend does, keys fetched with GetJwks.
    verifier = TokenVerifier(
        grpc_jwks_fetcher(auth_service.channel), issuer="todo-auth", audience="todo-api"
    )
    principal = await verifier.verify(token)
    me = await auth_service.get_me(token)
    assert me.user.id == principal.user_id
    assert me.user.email == email
    # A second run reuses the user.
    again = await dev_token(auth_service.settings, email)
    assert (await verifier.verify(again)).user_id == principal.user_id


async def test_commands_as_real_processes(
    tmp_path: Path, start_auth: Any, auth_service: AuthServiceHandle
) -> None:
    # Independent scenarios run side by side: each process pays ~2 s of interpreter start-up.
    fresh = databases.new_database("auth", tmp_path)
    migrated = databases.new_database("auth", tmp_path)
    try:
        before = await auth_service.stub.GetJwks(pb.GetJwksRequest(), timeout=5)
        (dev_stdout, _), (rotate_stdout, _), _ = await asyncio.gather(
            # dev-token on a database nobody migrated yet: it migrates and makes the key.
            todo_auth(fresh, "dev-token", "--email", "fresh@example.com"),
            todo_auth(auth_service.database, "rotate-keys"),
            todo_auth(migrated, "migrate"),
        )

        lines = dev_stdout.strip().splitlines()
        assert len(lines) == 1  # only the token on stdout; logs went to stderr
        token = lines[0]
        # A server started afterwards on that database serves the key that signed it.
        auth = await start_auth(database_url=fresh.url, database_schema=fresh.schema)
        jwks = await auth.stub.GetJwks(pb.GetJwksRequest(), timeout=5)
        assert jwt.get_unverified_header(token)["kid"] == jwks.keys[0].kid
        me = await auth.get_me(token)
        assert me.user.email == "fresh@example.com"

        # rotate-keys printed the new kid, now first in the JWKS, the old keys after it.
        new_kid = rotate_stdout.strip().splitlines()[-1]
        after = await auth_service.stub.GetJwks(pb.GetJwksRequest(), timeout=5)
        assert [k.kid for k in after.keys] == [new_kid, *(k.kid for k in before.keys)]

        # migrate left a schema a server can start on and use.
        served = await start_auth(database_url=migrated.url, database_schema=migrated.schema)
        assert (await sign_up_user(served.stub)).user_id
    finally:
        await databases.drop_database(fresh)
        await databases.drop_database(migrated)


def test_invalid_settings_exit_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTH_ACCESS_TOKEN_TTL_SECONDS", "0")
    assert auth_main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "todo-auth: invalid settings:" in err
    assert "AUTH_ACCESS_TOKEN_TTL_SECONDS: Input should be greater than or equal to 1" in err
