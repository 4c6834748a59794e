"""Auth fixtures: a real auth server on a free port with its own database, and fresh users.

Other suites use `auth_service` (for its address / JWKS) and `sign_up` (for real tokens):

    async def test_something(sign_up):
        alice = await sign_up()
        await stub.GetTask(request, metadata=alice.metadata, timeout=5)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from todo.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from todo_auth.models import SigningKey
from todo_auth.repository import SigningKeyRepository
from todo_auth.server import migrate, open_database, start_auth_server
from todo_auth.settings import AuthSettings
from todo_common.channels import caller_metadata

from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.servers import ServerHandle, fixture_settings, serving

DEFAULT_TEST_PASSWORD = "correct horse battery staple"  # noqa: S105 (test-only)


@dataclass
class AuthServiceHandle(ServerHandle[AuthSettings, "auth_service_pb2_grpc.AuthServiceAsyncStub"]):
    """A running auth server, its settings and database, and a channel + stub to it."""

    database: IsolatedDatabase

    def get_me(self, access_token: str | None) -> Any:
        """The GetMe call of whoever holds `access_token` (None: no credentials at all); await
        it, or hand it to `rpc_error` when it must fail."""
        metadata = caller_metadata(access_token) if access_token is not None else ()
        return self.stub.GetMe(auth_service_pb2.GetMeRequest(), metadata=metadata, timeout=5)

    def sign_in(self, email: str, password: str) -> Any:
        """The SignIn call for `email` and `password`; await it or hand it to `rpc_error`."""
        request = auth_service_pb2.SignInRequest(email=email, password=password)
        return self.stub.SignIn(request, timeout=10)

    def refresh(self, refresh_token: str) -> Any:
        """The Refresh call that spends `refresh_token`; await it or hand it to `rpc_error`."""
        request = auth_service_pb2.RefreshRequest(refresh_token=refresh_token)
        return self.stub.Refresh(request, timeout=10)


@dataclass(frozen=True)
class SignedUpUser:
    """A user signed up through the real SignUp RPC, with their password and tokens."""

    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """gRPC call metadata carrying the access token."""
        return caller_metadata(self.access_token)


SignUp = Callable[..., Awaitable[SignedUpUser]]


def auth_test_settings(database: IsolatedDatabase, **overrides: Any) -> AuthSettings:
    """Settings for a test server: port 0, the given database, fast-to-test limits."""
    return fixture_settings(
        AuthSettings, database, **({"jwks_refetch_cooldown_seconds": 0.0} | overrides)
    )


@asynccontextmanager
async def running_auth_service(
    folder: Path, *, clock: Callable[[], float] = time.time, **overrides: Any
) -> AsyncIterator[AuthServiceHandle]:
    """Starts an auth server on a fresh, migrated database; stops it and drops the data after.

    `overrides` are AuthSettings fields (e.g. sign_in_max_failures=2).
    """
    database = new_database("auth", folder)
    try:
        settings = auth_test_settings(database, **overrides)
        await migrate(settings)
        running = await start_auth_server(settings, clock=clock)
        async with serving(
            running,
            AuthServiceHandle,
            auth_service_pb2_grpc.AuthServiceStub,
            settings=settings,
            database=database,
        ) as handle:
            yield handle
    finally:
        await drop_database(database)


async def load_signing_key(handle: AuthServiceHandle) -> SigningKey:
    """The server's current key, private half included (to forge tokens that only differ from
    real ones in what a test changes)."""
    database = open_database(handle.settings)
    try:
        async with database.session() as session:
            key = await SigningKeyRepository(session).current()
    finally:
        await database.dispose()
    assert key is not None
    return key


def sign_with(key: SigningKey, claims: dict[str, Any], kid: str | None = None) -> str:
    """A JWT of `claims` signed with `key` (its own kid unless told otherwise)."""
    private_key = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": kid or key.kid})  # type: ignore[arg-type]


def unique_email(prefix: str = "user") -> str:
    """An email no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def sign_up_user(
    stub: auth_service_pb2_grpc.AuthServiceAsyncStub,
    email: str | None = None,
    password: str = DEFAULT_TEST_PASSWORD,
    display_name: str = "",
) -> SignedUpUser:
    """Signs a new user up through the real RPC."""
    email = email or unique_email()
    response = await stub.SignUp(
        auth_service_pb2.SignUpRequest(email=email, password=password, display_name=display_name),
        timeout=10,
    )
    return SignedUpUser(
        user_id=response.user.id,
        email=response.user.email,
        password=password,
        access_token=response.tokens.access_token,
        refresh_token=response.tokens.refresh_token,
    )


@pytest.fixture(scope="module")
async def auth_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[AuthServiceHandle]:
    """A real auth server for the module, on 127.0.0.1:0 with its own database."""
    async with running_auth_service(tmp_path_factory.mktemp("auth")) as handle:
        yield handle


@pytest.fixture
def sign_up(auth_service: AuthServiceHandle) -> SignUp:
    """`await sign_up()` (or `sign_up(email=...)`) signs up a new user, returns a SignedUpUser."""

    async def make(email: str | None = None, **kwargs: Any) -> SignedUpUser:
        return await sign_up_user(auth_service.stub, email, **kwargs)

    return make


@pytest.fixture
async def alice(sign_up: SignUp) -> SignedUpUser:
    """A fresh user."""
    return await sign_up()


@pytest.fixture
async def bob(sign_up: SignUp) -> SignedUpUser:
    """Another fresh user, who must never see alice's data."""
    return await sign_up()
