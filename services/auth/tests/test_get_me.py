"""GetMe and the bearer-token checks: missing, expired and forged tokens are UNAUTHENTICATED."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from todo.auth.v1 import auth_service_pb2 as pb
from todo_testkit.auth import AuthServiceHandle, SignedUpUser, SignUp
from todo_testkit.rpc_errors import rpc_error


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(auth: AuthServiceHandle, user: SignedUpUser, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": auth.settings.token.issuer,
        "aud": auth.settings.token.audience,
        "sub": user.user_id,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_get_me_returns_the_token_owner(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    alice = await sign_up(display_name="Alice")
    bob = await sign_up()
    assert (await auth_service.get_me(alice.access_token)).user.display_name == "Alice"
    assert (await auth_service.get_me(bob.access_token)).user.id == bob.user_id


async def test_access_token_claims_and_header(
    auth_service: AuthServiceHandle, sign_up: SignUp
) -> None:
    user = await sign_up()
    header = jwt.get_unverified_header(user.access_token)
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    jwks = await auth_service.stub.GetJwks(pb.GetJwksRequest(), timeout=5)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == jwks.keys[0].kid
    assert claims["iss"] == "todo-auth"
    assert claims["aud"] == "todo-api"
    assert claims["sub"] == user.user_id
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]


async def test_missing_or_malformed_authorization(auth_service: AuthServiceHandle) -> None:
    missing = await rpc_error(auth_service.get_me(None))
    assert missing.code == grpc.StatusCode.UNAUTHENTICATED
    assert missing.reason == "TOKEN_MISSING"
    basic = await rpc_error(
        auth_service.stub.GetMe(
            pb.GetMeRequest(), metadata=(("authorization", "Basic YTpi"),), timeout=5
        )
    )
    assert basic.code == grpc.StatusCode.UNAUTHENTICATED
    garbage = await rpc_error(auth_service.get_me("not.a.jwt"))
    assert garbage.code == grpc.StatusCode.UNAUTHENTICATED


Forger = Callable[[AuthServiceHandle, SignedUpUser, Any], str]


def forge_alg_none(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": key.kid}
    payload = claims_for(auth, user)
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}."


def forge_hs256_with_public_key(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    # The classic confusion attack: HMAC keyed with the (public) verification key.
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    payload = claims_for(auth, user)
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    secret = base64.urlsafe_b64decode(key.public_key_x + "==")
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def sign(key: Any, payload: dict[str, Any], kid: str | None = None) -> str:
    private_key = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    return jwt.encode(payload, private_key, algorithm="EdDSA", headers={"kid": kid or key.kid})


def forge_wrong_issuer(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    return sign(key, claims_for(auth, user, iss="https://evil.example.com"))


def forge_wrong_audience(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    return sign(key, claims_for(auth, user, aud="another-api"))


def forge_expired(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    now = int(time.time())
    return sign(key, claims_for(auth, user, iat=now - 3600, exp=now - 600))


def forge_missing_jti(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    return sign(key, claims_for(auth, user, jti=None))


def forge_unknown_kid(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    stranger = Ed25519PrivateKey.generate()
    return jwt.encode(
        claims_for(auth, user), stranger, algorithm="EdDSA", headers={"kid": "unknown-kid"}
    )


def forge_known_kid_other_key(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    stranger = Ed25519PrivateKey.generate()
    return jwt.encode(claims_for(auth, user), stranger, algorithm="EdDSA", headers={"kid": key.kid})


def forge_tampered_payload(auth: AuthServiceHandle, user: SignedUpUser, key: Any) -> str:
    # A real token whose payload is swapped for one naming another user.
    header, _payload, signature = user.access_token.split(".")
    payload = claims_for(auth, user, sub=str(uuid.uuid4()))
    return f"{header}.{b64url(json.dumps(payload).encode())}.{signature}"


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (forge_alg_none, "TOKEN_INVALID"),
        (forge_hs256_with_public_key, "TOKEN_INVALID"),
        (forge_wrong_issuer, "TOKEN_INVALID"),
        (forge_wrong_audience, "TOKEN_INVALID"),
        (forge_expired, "TOKEN_EXPIRED"),
        (forge_missing_jti, "TOKEN_INVALID"),
        (forge_unknown_kid, "TOKEN_UNKNOWN_KEY"),
        (forge_known_kid_other_key, "TOKEN_INVALID"),
        (forge_tampered_payload, "TOKEN_INVALID"),
    ],
)
async def test_forged_or_expired_tokens_are_unauthenticated(
    auth_service: AuthServiceHandle,
    sign_up: SignUp,
    load_signing_key: Callable[[AuthServiceHandle], Any],
    forge: Forger,
    reason: str,
) -> None:
    user = await sign_up()
    key = await load_signing_key(auth_service)
    # Sanity: the same key signs a token the service accepts, so only the forgery differs.
    assert (await auth_service.get_me(sign(key, claims_for(auth_service, user)))).user.id
    error = await rpc_error(auth_service.get_me(forge(auth_service, user, key)))
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert error.reason == reason
