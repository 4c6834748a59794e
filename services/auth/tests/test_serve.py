"""`todo-auth serve` as a real process, driven with grpcurl the way the README shows."""

from __future__ import annotations

import json
from pathlib import Path

from todo_testkit.auth import AuthServiceHandle, unique_email
from todo_testkit.grpcurl import grpcurl
from todo_testkit.processes import start_service


async def test_serve_process_with_grpcurl(auth_service: AuthServiceHandle, tmp_path: Path) -> None:
    # A second replica on the module's (already migrated) database.
    service = await start_service(
        "auth",
        {
            "AUTH_DATABASE_URL": auth_service.settings.database_url,
            "AUTH_DATABASE_SCHEMA": auth_service.settings.database_schema,
        },
        tmp_path,
    )
    try:
        address = service.address
        services = (await grpcurl(address, "list")).split()
        assert "todo.auth.v1.AuthService" in services
        assert "grpc.health.v1.Health" in services

        email = unique_email("grpcurl")
        signed_up = json.loads(
            await grpcurl(
                "-d",
                json.dumps({"email": email, "password": "grpcurl password"}),
                address,
                "todo.auth.v1.AuthService/SignUp",
            )
        )
        token = signed_up["tokens"]["access_token"]  # grpcurl keeps proto field names
        me = json.loads(
            await grpcurl(
                "-H", f"authorization: Bearer {token}", address, "todo.auth.v1.AuthService/GetMe"
            )
        )
        assert me["user"]["email"] == email
        jwks = json.loads(await grpcurl(address, "todo.auth.v1.AuthService/GetJwks"))
        assert jwks["keys"][0]["kty"] == "OKP"
    finally:
        exit_code = await service.stop()
    assert exit_code == 0, service.log_tail()
