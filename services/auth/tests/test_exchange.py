"""ExchangeToken: tokens of configured external issuers (JWKS file or URL) become internal
tokens for a mapped local user; anything unverifiable is UNAUTHENTICATED."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm
from todo.auth.v1 import auth_service_pb2 as pb
from todo_testkit.auth import AuthServiceHandle, sign_up_user, unique_email
from todo_testkit.rpc_errors import rpc_error

FILE_ISSUER = "https://better-auth.file.test"
AUDIENCE = "todo-assistant"


@dataclass
class JwksServer:
    """A tiny HTTP server publishing a JWKS document that tests can change."""

    url: str
    document: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    requests: int = 0


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = json.dumps(state.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/auth/jwks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Issuer:
    """An external issuer's signing key and how it publishes it."""

    name: str
    algorithm: str
    private_key: Any
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if self.algorithm == "EdDSA":
            jwk = json.loads(OKPAlgorithm.to_jwk(public))
        else:
            jwk = json.loads(RSAAlgorithm.to_jwk(public))
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def token(self, **changes: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.name,
            "aud": AUDIENCE,
            "sub": "ext-user-1",
            "iat": now,
            "exp": now + 300,
            "email": "someone@example.com",
            "email_verified": True,
            "name": "Someone",
        }
        claims.update(changes)
        return jwt.encode(
            {k: v for k, v in claims.items() if v is not None},
            self.private_key,
            algorithm=self.algorithm,
            headers={"kid": self.kid},
        )


@pytest.fixture
def file_issuer(tmp_path: Path) -> tuple[Issuer, Path]:
    issuer = Issuer(FILE_ISSUER, "EdDSA", Ed25519PrivateKey.generate())
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [issuer.jwk()]}))
    return issuer, path


@pytest.fixture
def url_issuer(jwks_server: JwksServer) -> Issuer:
    # The issuer name is its origin, like a Better Auth deployment.
    issuer = Issuer(
        jwks_server.url.removesuffix("/api/auth/jwks"),
        "RS256",
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    jwks_server.document = {"keys": [issuer.jwk()]}
    return issuer


@pytest.fixture
async def auth(
    start_auth: Any, file_issuer: tuple[Issuer, Path], url_issuer: Issuer, jwks_server: JwksServer
) -> AuthServiceHandle:
    handle: AuthServiceHandle = await start_auth(
        external_issuers=[
            {"issuer": FILE_ISSUER, "audience": AUDIENCE, "jwks_file": str(file_issuer[1])},
            {"issuer": url_issuer.name, "jwks_url": jwks_server.url, "algorithms": ["RS256"]},
        ],
        external_jwks_refetch_cooldown_seconds=0,
    )
    return handle


async def exchange(auth: AuthServiceHandle, token: str) -> pb.ExchangeTokenResponse:
    return await auth.stub.ExchangeToken(pb.ExchangeTokenRequest(subject_token=token), timeout=10)


async def test_file_issuer_token_is_exchanged_for_a_working_internal_token(
    auth: AuthServiceHandle, file_issuer: tuple[Issuer, Path]
) -> None:
    issuer, _ = file_issuer
    response = await exchange(auth, issuer.token())
    assert response.user.id
    assert response.user.email == "someone@example.com"
    assert response.user.display_name == "Someone"
    assert response.access_token_expire_time.seconds > time.time()
    me = await auth.get_me(response.access_token)
    assert me.user.id == response.user.id
    assert jwt.decode(response.access_token, options={"verify_signature": False})["iss"] == (
        "todo-auth"
    )

    # The same external identity maps to the same user every time.
    again = await exchange(auth, issuer.token(name="Renamed"))
    assert again.user.id == response.user.id


async def test_url_issuer_token_is_exchanged(
    auth: AuthServiceHandle, url_issuer: Issuer, jwks_server: JwksServer
) -> None:
    first = await exchange(auth, url_issuer.token(sub="url-user", email=None))
    second = await exchange(auth, url_issuer.token(sub="url-user"))
    assert first.user.id == second.user.id
    assert first.user.email == ""
    assert jwks_server.requests == 1  # keys are cached


async def test_same_subject_at_two_issuers_are_two_users(
    auth: AuthServiceHandle, file_issuer: tuple[Issuer, Path], url_issuer: Issuer
) -> None:
    a = await exchange(auth, file_issuer[0].token(sub="shared", email=None))
    b = await exchange(auth, url_issuer.token(sub="shared", email=None))
    assert a.user.id != b.user.id


async def test_a_new_issuer_key_is_fetched_on_unknown_kid(
    auth: AuthServiceHandle, url_issuer: Issuer, jwks_server: JwksServer
) -> None:
    await exchange(auth, url_issuer.token(sub="rotating", email=None))
    rotated = Issuer(
        url_issuer.name, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    jwks_server.document = {"keys": [rotated.jwk(), url_issuer.jwk()]}
    response = await exchange(auth, rotated.token(sub="rotating", email=None))
    assert response.user.id
    assert jwks_server.requests == 2


async def test_email_of_an_existing_account_is_not_linked_or_taken(
    auth: AuthServiceHandle, file_issuer: tuple[Issuer, Path]
) -> None:
    local = await sign_up_user(auth.stub, unique_email("victim"))
    response = await exchange(
        auth, file_issuer[0].token(sub=f"attacker-{uuid.uuid4()}", email=local.email)
    )
    assert response.user.id != local.user_id
    assert response.user.email == ""


async def test_unverified_email_is_not_stored(
    auth: AuthServiceHandle, file_issuer: tuple[Issuer, Path]
) -> None:
    email = unique_email("unverified")
    response = await exchange(
        auth, file_issuer[0].token(sub=str(uuid.uuid4()), email=email, email_verified=False)
    )
    assert response.user.email == ""
    # So the owner of that address can still sign up with it.
    assert (await sign_up_user(auth.stub, email)).email == email


def other_key_same_kid(issuer: Issuer) -> Issuer:
    return Issuer(issuer.name, "EdDSA", Ed25519PrivateKey.generate(), kid=issuer.kid)


@pytest.mark.parametrize(
    ("make_token", "reason", "message"),
    [
        (
            lambda i: Issuer("https://unknown.test", "EdDSA", Ed25519PrivateKey.generate()).token(),
            "EXTERNAL_ISSUER_UNKNOWN",
            "not a trusted external issuer",
        ),
        (lambda i: other_key_same_kid(i).token(), "EXTERNAL_TOKEN_INVALID", "signature"),
        (lambda i: i.token(exp=int(time.time()) - 3600), "EXTERNAL_TOKEN_EXPIRED", "expired"),
        (lambda i: i.token(aud="someone-else"), "EXTERNAL_TOKEN_INVALID", "Audience"),
        (lambda i: i.token(sub=None), "EXTERNAL_TOKEN_INVALID", "sub"),
        (
            lambda i: jwt.encode(
                {"iss": FILE_ISSUER, "sub": "x", "exp": int(time.time()) + 60},
                "shared-secret-long-enough-for-hs256!",
                algorithm="HS256",
            ),
            "EXTERNAL_TOKEN_INVALID",
            "algorithm",
        ),
        (
            lambda i: Issuer(FILE_ISSUER, "EdDSA", Ed25519PrivateKey.generate()).token(),
            "EXTERNAL_TOKEN_UNKNOWN_KEY",
            "does not publish",
        ),
        (lambda i: "not-a-jwt", "EXTERNAL_TOKEN_INVALID", "well-formed"),
    ],
    ids=[
        "unknown-issuer",
        "bad-signature",
        "expired",
        "wrong-audience",
        "no-sub",
        "hs256",
        "unknown-kid",
        "garbage",
    ],
)
async def test_unverifiable_tokens_are_unauthenticated(
    auth: AuthServiceHandle,
    file_issuer: tuple[Issuer, Path],
    make_token: Any,
    reason: str,
    message: str,
) -> None:
    error = await rpc_error(exchange(auth, make_token(file_issuer[0])))
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert error.reason == reason
    assert message in error.message


async def test_algorithm_outside_the_issuers_list_is_refused(
    auth: AuthServiceHandle, url_issuer: Issuer
) -> None:
    # The URL issuer only allows RS256; an EdDSA token naming it is refused before any key.
    eddsa = Issuer(url_issuer.name, "EdDSA", Ed25519PrivateKey.generate())
    error = await rpc_error(exchange(auth, eddsa.token()))
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert "not accepted" in error.message


async def test_empty_subject_token_is_invalid_argument(auth: AuthServiceHandle) -> None:
    error = await rpc_error(exchange(auth, ""))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["subject_token"]


async def test_unreachable_jwks_url_is_unavailable(start_auth: Any) -> None:
    issuer = Issuer("https://down.test", "EdDSA", Ed25519PrivateKey.generate())
    auth = await start_auth(
        external_issuers=[{"issuer": issuer.name, "jwks_url": "http://127.0.0.1:9/jwks"}],
        external_jwks_timeout_seconds=2,
    )
    error = await rpc_error(exchange(auth, issuer.token()))
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.reason == "EXTERNAL_JWKS_UNAVAILABLE"


async def test_concurrent_first_exchanges_map_to_one_user(
    auth: AuthServiceHandle, file_issuer: tuple[Issuer, Path]
) -> None:
    token = file_issuer[0].token(sub=f"racer-{uuid.uuid4()}", email=unique_email("racer"))
    responses = await asyncio.gather(*(exchange(auth, token) for _ in range(5)))
    assert len({r.user.id for r in responses}) == 1
