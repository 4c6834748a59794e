"""Builds and starts the auth gRPC server; migrates its database."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from todo.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from todo_common.db import Database
from todo_common.grpc_server import RunningServer, ServiceRegistration, start_service
from todo_common.migrations import upgrade_async
from todo_common.tokens import AuthInterceptor, SessionRevocations, TokenVerifier

from todo_auth.external import ExternalTokenVerifier
from todo_auth.keys import AccessTokenIssuer
from todo_auth.passwords import PasswordService
from todo_auth.repository import SigningKeyRepository
from todo_auth.service import AuthService
from todo_auth.settings import AuthSettings

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
# Every RPC except GetMe authenticates by what it carries (password, refresh token, ...).
PUBLIC_METHODS = frozenset(
    f"/{SERVICE_NAME}/{method}"
    for method in (
        "SignUp",
        "SignIn",
        "Refresh",
        "SignOut",
        "GetJwks",
        "ExchangeToken",
        "ListRevokedSessions",
        "WatchRevokedSessions",
    )
)


async def migrate(settings: AuthSettings) -> None:
    """Upgrades the auth database to the latest migration."""
    await upgrade_async(MIGRATIONS, settings.database_url, settings.database_schema)


def open_database(settings: AuthSettings) -> Database:
    """The auth service's database, as configured."""
    return Database.from_url(
        settings.database_url, settings.database_schema, pool_size=settings.database_pool_size
    )


def access_token_issuer(settings: AuthSettings) -> AccessTokenIssuer:
    """Signs access tokens with the configured issuer, audience and lifetime."""
    return AccessTokenIssuer(
        issuer=settings.token.issuer,
        audience=settings.token.audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )


async def start_auth_server(
    settings: AuthSettings, *, clock: Callable[[], float] = time.time
) -> RunningServer:
    """Starts AuthService on `settings.address` (port 0 picks a free port).

    The database must be migrated (`migrate`). A signing key is generated on the first start
    and persisted. `clock` lets tests move time (throttling, key expiry) without sleeping.
    """
    database = open_database(settings)
    passwords = PasswordService(settings)
    external = ExternalTokenVerifier.from_settings(settings, clock)
    try:
        await passwords.warm_up()
        async with database.session() as session:
            await SigningKeyRepository(session).ensure_current(
                datetime.fromtimestamp(clock(), tz=UTC)
            )
        service = AuthService(
            settings, database, passwords, access_token_issuer(settings), external, clock
        )

        async def local_jwks() -> Sequence[dict[str, Any]]:
            # GetMe verifies tokens this process issued: read the keys, no call to itself.
            return await service.jwks()

        async def local_revocations(page_token: str) -> tuple[list[tuple[str, float]], str]:
            # The same feed other services poll, read without a call to itself.
            response = await service.ListRevokedSessions(
                auth_service_pb2.ListRevokedSessionsRequest(page_token=page_token),
                None,
            )
            revoked = [
                (entry.session_id, float(entry.expire_time.seconds))
                for entry in response.revoked_sessions
            ]
            return revoked, response.next_page_token

        async def local_revocation_watch() -> AsyncIterator[None]:
            # The stream other services follow, without a call to itself.
            request = auth_service_pb2.WatchRevokedSessionsRequest()
            async for _ in service.WatchRevokedSessions(request, None):
                yield None

        verifier = TokenVerifier(
            local_jwks,
            issuer=settings.token.issuer,
            audience=settings.token.audience,
            refetch_cooldown_seconds=settings.jwks_refetch_cooldown_seconds,
            clock=clock,
            revocations=SessionRevocations(
                local_revocations,
                watch=local_revocation_watch,
                interval_seconds=settings.token.revocation_poll_seconds,
            ),
        )
        service.token_verifier = verifier
        running = await start_service(
            settings,
            ServiceRegistration.of(
                SERVICE_NAME, auth_service_pb2_grpc.add_AuthServiceServicer_to_server, service
            ),
            interceptors=[AuthInterceptor(verifier, PUBLIC_METHODS)],
        )
    except BaseException:
        passwords.close()
        await external.close()
        await database.dispose()
        raise

    async def close() -> None:
        await verifier.aclose()
        passwords.close()
        await external.close()
        await database.dispose()

    service.revocation_hub.start()
    running.on_drain.append(service.revocation_hub.close)
    running.on_stop.append(close)
    return running
