"""Missing, expired or forged tokens are UNAUTHENTICATED, and nothing is read or written.

Forgeries are made with keys and claims of our own (never the auth service's private key):
an attacker key presented under the real `kid`, an unknown `kid`, `alg: none`, HS256 keyed
with the public key, a real token with an edited payload. Wrong `iss`, wrong `aud` and expiry
are checked with genuinely signed tokens: tasks servers expecting another issuer or audience,
and an auth server whose clock runs an hour behind.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import field_mask_pb2
from todo.auth.v1 import auth_service_pb2
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo_common.channels import caller_metadata
from todo_testkit.auth import running_auth_service, sign_up_user
from todo_testkit.rpc_errors import expect_rpc_error
from todo_testkit.tasks import TaskCaller, running_tasks_service

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified_claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def claims_for(user_id: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": "todo-auth",
        "aud": "todo-api",
        "sub": user_id,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


async def every_rpc_rejected(stub, token: str, victim_task: pb.Task) -> None:
    """Reads and writes with `token` (aimed at the victim's data) all fail UNAUTHENTICATED."""
    metadata = caller_metadata(token) if token is not None else ()
    calls = [
        stub.CreateTask(
            pb.CreateTaskRequest(task=pb.Task(title="forged")), metadata=metadata, timeout=10
        ),
        stub.GetTask(pb.GetTaskRequest(id=victim_task.id), metadata=metadata, timeout=10),
        stub.ListTasks(pb.ListTasksRequest(), metadata=metadata, timeout=10),
        stub.UpdateTask(
            pb.UpdateTaskRequest(
                task=pb.Task(id=victim_task.id, title="forged"),
                update_mask=field_mask_pb2.FieldMask(paths=["title"]),
            ),
            metadata=metadata,
            timeout=10,
        ),
        stub.CompleteTask(pb.CompleteTaskRequest(id=victim_task.id), metadata=metadata, timeout=10),
        stub.DeleteTask(pb.DeleteTaskRequest(id=victim_task.id), metadata=metadata, timeout=10),
    ]
    for call in calls:
        error = await expect_rpc_error(call, UNAUTHENTICATED)
        assert error.reason.startswith("TOKEN_"), error
        # The answer never echoes the token.
        assert token is None or len(token) < 8 or token not in error.message


async def assert_untouched(victim: TaskCaller, task: pb.Task) -> None:
    assert [t for t in await victim.list_all()] == [task]


@pytest.fixture
async def victim(new_task_caller):
    caller = await new_task_caller()
    task = await caller.create(title="Victim's task", tags=["private"])
    return caller, task


async def real_kid(auth_service) -> str:
    response = await auth_service.stub.GetJwks(auth_service_pb2.GetJwksRequest(), timeout=10)
    return response.keys[0].kid


async def test_missing_and_malformed_authorization(tasks_service, victim):
    caller, task = victim
    for metadata in (
        (),
        (("authorization", "Basic dXNlcjpwYXNz"),),
        (("authorization", "Bearer"),),
    ):
        error = await expect_rpc_error(
            tasks_service.stub.ListTasks(pb.ListTasksRequest(), metadata=metadata, timeout=10),
            UNAUTHENTICATED,
        )
        assert error.reason == "TOKEN_MISSING"
    for garbage in ("not-a-jwt", "a.b.c", "....", "x" * 3000):
        await every_rpc_rejected(tasks_service.stub, garbage, task)
    await assert_untouched(caller, task)


async def test_forged_tokens(tasks_service, auth_service, victim):
    caller, task = victim
    kid = await real_kid(auth_service)
    attacker = Ed25519PrivateKey.generate()
    claims = claims_for(caller.user.user_id)
    real_public_x = (
        (await auth_service.stub.GetJwks(auth_service_pb2.GetJwksRequest(), timeout=10)).keys[0].x
    )
    hs_header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    hs_signing_input = f"{b64(json.dumps(hs_header).encode())}.{b64(json.dumps(claims).encode())}"
    forgeries = {
        "attacker key under the real kid": jwt.encode(
            claims, attacker, algorithm="EdDSA", headers={"kid": kid}
        ),
        "unknown kid": jwt.encode(
            claims, attacker, algorithm="EdDSA", headers={"kid": "attacker-key-1"}
        ),
        "no kid": jwt.encode(claims, attacker, algorithm="EdDSA"),
        "alg none": unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims),
        "alg None spelled oddly": unsigned({"alg": "None", "kid": kid}, claims),
        "HS256 keyed with the public key": hs_signing_input
        + "."
        + b64(hmac.new(real_public_x.encode(), hs_signing_input.encode(), hashlib.sha256).digest()),
        "HS256 keyed with the raw public key": hs_signing_input
        + "."
        + b64(
            hmac.new(
                base64.urlsafe_b64decode(real_public_x + "=" * (-len(real_public_x) % 4)),
                hs_signing_input.encode(),
                hashlib.sha256,
            ).digest()
        ),
        "attacker key, wrong iss": jwt.encode(
            claims_for(caller.user.user_id, iss="evil"),
            attacker,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
        "attacker key, wrong aud": jwt.encode(
            claims_for(caller.user.user_id, aud="evil"),
            attacker,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
        "attacker key, expired": jwt.encode(
            claims_for(caller.user.user_id, exp=int(time.time()) - 3600),
            attacker,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
    }
    for name, token in forgeries.items():
        try:
            await every_rpc_rejected(tasks_service.stub, token, task)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
    await assert_untouched(caller, task)


async def test_tampered_payload(tasks_service, new_task_caller, victim):
    caller, task = victim
    mallory = await new_task_caller()
    header, payload, signature = mallory.user.access_token.split(".")
    claims = unverified_claims(mallory.user.access_token)
    for change in (
        {"sub": caller.user.user_id},
        {"exp": claims["exp"] + 86_400},
        {"aud": "todo-api "},
    ):
        edited = b64(json.dumps({**claims, **change}).encode())
        await every_rpc_rejected(tasks_service.stub, f"{header}.{edited}.{signature}", task)
    # Swapping in the victim's header or a truncated signature does not help either.
    await every_rpc_rejected(tasks_service.stub, f"{header}.{payload}.{signature[:-4]}", task)
    await assert_untouched(caller, task)
    # Mallory's untampered token still works, and sees nothing of the victim's.
    assert await mallory.list_all() == []


@pytest.mark.parametrize(
    ("token_overrides", "word"),
    [({"issuer": "another-issuer"}, "issuer"), ({"audience": "another-api"}, "audience")],
)
async def test_genuine_token_for_another_issuer_or_audience(
    tasks_service, auth_service, tmp_path, victim, token_overrides, word
):
    """A tasks server that expects another issuer/audience rejects the real (correctly signed)
    tokens; it shares the main server's database, so the check below sees any write."""
    caller, task = victim
    async with running_tasks_service(
        tmp_path, auth_service, database=tasks_service.database, token_overrides=token_overrides
    ) as strict:
        await every_rpc_rejected(strict.stub, caller.user.access_token, task)
        error = await expect_rpc_error(
            strict.stub.ListTasks(pb.ListTasksRequest(), metadata=caller.metadata, timeout=10),
            UNAUTHENTICATED,
        )
        assert error.reason == "TOKEN_INVALID"
        assert word in error.message.lower()
    await assert_untouched(caller, task)


async def test_expired_token(tmp_path):
    """An auth server whose clock is an hour behind issues genuinely signed, already expired
    tokens; once its clock is right, the same user's fresh token shows nothing was written."""
    offset = [-3600.0]
    async with (
        running_auth_service(tmp_path / "auth", clock=lambda: time.time() + offset[0]) as auth,
        running_tasks_service(tmp_path / "tasks", auth) as tasks,
    ):
        user = await sign_up_user(auth.stub)
        assert unverified_claims(user.access_token)["exp"] < time.time()
        await every_rpc_rejected(tasks.stub, user.access_token, pb.Task(id=str(uuid.uuid4())))
        error = await expect_rpc_error(
            tasks.stub.ListTasks(pb.ListTasksRequest(), metadata=user.metadata, timeout=10),
            UNAUTHENTICATED,
        )
        assert error.reason == "TOKEN_EXPIRED"
        offset[0] = 0.0
        fresh = await auth.stub.SignIn(
            auth_service_pb2.SignInRequest(email=user.email, password=user.password), timeout=10
        )
        caller = TaskCaller(
            user=type(user)(
                user_id=user.user_id,
                email=user.email,
                password=user.password,
                access_token=fresh.tokens.access_token,
                refresh_token=fresh.tokens.refresh_token,
            ),
            stub=tasks.stub,
        )
        assert await caller.list_all() == []
