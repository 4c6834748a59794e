"""GetJwks and signing-key rotation: old public keys stay until their tokens have expired."""

from __future__ import annotations

import base64
from typing import Any

import jwt
from google.protobuf.json_format import MessageToDict
from todo.auth.v1 import auth_service_pb2 as pb
from todo_auth.__main__ import rotate_keys
from todo_common.tokens import TokenVerifier, grpc_jwks_fetcher
from todo_testkit.auth import AuthServiceHandle, SignUp, sign_up_user


async def kids(auth: AuthServiceHandle) -> list[str]:
    response = await auth.stub.GetJwks(pb.GetJwksRequest(), timeout=5)
    return [key.kid for key in response.keys]


async def test_jwks_shape(auth_service: AuthServiceHandle, sign_up: SignUp) -> None:
    response = await auth_service.stub.GetJwks(pb.GetJwksRequest(), timeout=5)
    assert len(response.keys) >= 1
    key = response.keys[0]
    assert (key.kty, key.crv, key.alg, key.use) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert len(base64.urlsafe_b64decode(key.x + "==")) == 32
    assert key.kid
    # The key verifies tokens the service issues (what every backend does with it).
    user = await sign_up()
    public_key = jwt.PyJWK(MessageToDict(key, preserving_proto_field_name=True)).key
    claims = jwt.decode(
        user.access_token, public_key, algorithms=["EdDSA"], audience="todo-api", issuer="todo-auth"
    )
    assert claims["sub"] == user.user_id


async def test_the_signing_key_survives_a_restart(start_auth: Any) -> None:
    first = await start_auth()
    before = await kids(first)
    user = await sign_up_user(first.stub)
    second = await start_auth(
        database_url=first.settings.database_url, database_schema=first.settings.database_schema
    )
    assert await kids(second) == before
    me = await second.stub.GetMe(pb.GetMeRequest(), metadata=user.metadata, timeout=5)
    assert me.user.id == user.user_id


async def test_rotation_keeps_old_keys_until_their_tokens_expire(
    start_auth: Any, clock: Any
) -> None:
    auth = await start_auth(
        clock=clock, access_token_ttl_seconds=900, key_retention_leeway_seconds=60
    )
    [old_kid] = await kids(auth)
    before = await sign_up_user(auth.stub)
    verifier = TokenVerifier(
        grpc_jwks_fetcher(auth.channel),
        issuer="todo-auth",
        audience="todo-api",
        refetch_cooldown_seconds=0,
    )

    new_kid = await rotate_keys(auth.settings)
    assert await kids(auth) == [new_kid, old_kid]  # current first

    after = await auth.sign_in(before.email, before.password)
    assert jwt.get_unverified_header(after.tokens.access_token)["kid"] == new_kid
    # Tokens of both keys verify: in GetMe (the service's own verifier) and for a backend.
    for token in (before.access_token, after.tokens.access_token):
        me = await auth.get_me(token)
        assert me.user.id == before.user_id
        assert (await verifier.verify(token)).user_id == before.user_id

    clock.advance(900 + 59)
    assert await kids(auth) == [new_kid, old_kid]
    clock.advance(2)  # every token the old key signed has now expired
    assert await kids(auth) == [new_kid]
