"""Bad input never reaches a 5xx: another user's ids, bad tokens, malformed bodies, huge bodies."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from todo_common.tokens import MAX_TOKEN_CHARS
from todo_testkit.auth import (
    AuthServiceHandle,
    SignedUpUser,
    load_signing_key,
    running_auth_service,
    sign_up_user,
    sign_with,
)
from todo_testkit.chatkit import user_message
from todo_testkit.edge import EdgeHandle, assert_problem, edge_settings_for, running_edge

# Every route that takes a task id, with the body it needs.
ID_ROUTES = [
    ("GET", "/api/tasks/{id}", None),
    ("PATCH", "/api/tasks/{id}", {"title": "Mine now"}),
    ("DELETE", "/api/tasks/{id}", None),
    ("POST", "/api/tasks/{id}/complete", None),
    ("POST", "/api/tasks/{id}/reopen", None),
]


def _without_request_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "request_id"}


@pytest.mark.parametrize(("method", "path", "body"), ID_ROUTES)
async def test_another_users_task_is_404_exactly_like_a_missing_one(
    alice_http: httpx.AsyncClient,
    bob_http: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict | None,
) -> None:
    alices = (await alice_http.post("/api/tasks", json={"title": "Alice's"})).json()
    del alices["undo_token"]  # the create's, not the task's
    # A well-formed id that exists for nobody: one of bob's, deleted.
    gone = (await bob_http.post("/api/tasks", json={"title": "gone"})).json()
    assert (await bob_http.delete(f"/api/tasks/{gone['id']}")).status_code == 200

    foreign = await bob_http.request(method, path.format(id=alices["id"]), json=body)
    missing = await bob_http.request(method, path.format(id=gone["id"]), json=body)

    foreign_body = assert_problem(foreign, 404)
    missing_body = assert_problem(missing, 404)
    assert _without_request_id(foreign_body) == _without_request_id(missing_body)
    # And alice's task is untouched.
    assert (await alice_http.get(f"/api/tasks/{alices['id']}")).json() == alices


# ---- tokens -----------------------------------------------------------------------------


def _assert_401(response: httpx.Response) -> dict:
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    return body


async def test_missing_token_is_401_with_www_authenticate(http: httpx.AsyncClient) -> None:
    for method, path in [("GET", "/api/tasks"), ("POST", "/api/tasks"), ("GET", "/api/auth/me")]:
        response = await http.request(method, path, json={"title": "x"})
        body = _assert_401(response)
        assert body["reason"] == "TOKEN_MISSING"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_malformed_authorization_header_is_401(http: httpx.AsyncClient) -> None:
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme"]:
        _assert_401(await http.get("/api/tasks", headers={"Authorization": header}))


async def test_garbage_token_is_401(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/tasks", headers={"Authorization": "Bearer not.a.jwt"})
    body = _assert_401(response)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert body["reason"] == "TOKEN_INVALID"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_tampered_token_is_401(http: httpx.AsyncClient, alice: SignedUpUser) -> None:
    header, payload, signature = alice.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    _assert_401(await http.get("/api/tasks", headers={"Authorization": f"Bearer {forged}"}))


async def test_token_signed_with_another_key_is_401(
    http: httpx.AsyncClient, alice: SignedUpUser
) -> None:
    real_header = jwt.get_unverified_header(alice.access_token)
    claims = jwt.decode(alice.access_token, options={"verify_signature": False})
    forged = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": real_header["kid"]}
    )
    _assert_401(await http.get("/api/tasks", headers={"Authorization": f"Bearer {forged}"}))


async def test_alg_none_token_is_401(http: httpx.AsyncClient, alice: SignedUpUser) -> None:
    claims = jwt.decode(alice.access_token, options={"verify_signature": False})
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{header}.{_b64(json.dumps(claims).encode())}."
    _assert_401(await http.get("/api/tasks", headers={"Authorization": f"Bearer {unsigned}"}))


async def test_oversized_validly_signed_token_is_401_before_any_backend_sees_it(
    http: httpx.AsyncClient, auth_service: AuthServiceHandle, alice: SignedUpUser
) -> None:
    # Signed with the real key, so only its size is wrong; under the edge's header limit but
    # over gRPC's metadata limit, which used to surface as 429 with gRPC's own text.
    key = await load_signing_key(auth_service)
    claims = jwt.decode(alice.access_token, options={"verify_signature": False})
    claims["pad"] = "p" * 9_000
    token = sign_with(key, claims)
    assert MAX_TOKEN_CHARS < len(token) < 16 * 1024
    # Sanity: the same key and claims without the padding are accepted.
    del claims["pad"]
    fine = {"Authorization": f"Bearer {sign_with(key, claims)}"}
    assert (await http.get("/api/tasks", headers=fine)).status_code == 200
    headers = {"Authorization": f"Bearer {token}"}
    for method, path, body in [
        ("GET", "/api/tasks", None),
        ("POST", "/api/tasks", {"title": "x"}),
        ("GET", "/api/auth/me", None),
        ("POST", "/chatkit", {"type": "threads.create", "params": {"input": user_message("hi")}}),
    ]:
        response = await http.request(method, path, json=body, headers=headers)
        problem = _assert_401(response)
        assert problem["reason"] == "TOKEN_TOO_LARGE", (path, problem)
        assert "grpc" not in response.text.lower() and "metadata" not in response.text.lower()


@pytest.fixture(scope="module")
async def edge_with_past_clock_auth(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[EdgeHandle, SignedUpUser]]:
    """An auth server whose clock runs an hour behind (so its fresh tokens are expired), with
    an edge that trusts it, and a user it signed up."""
    async with running_auth_service(
        tmp_path_factory.mktemp("past-auth"), clock=lambda: time.time() - 3600
    ) as auth:
        user = await sign_up_user(auth.stub)
        async with running_edge(edge_settings_for(auth)) as edge:
            yield edge, user


async def test_expired_token_is_401(
    edge_with_past_clock_auth: tuple[EdgeHandle, SignedUpUser],
) -> None:
    edge, user = edge_with_past_clock_auth
    async with edge.client(user.access_token) as client:
        for path in ["/api/tasks", "/api/auth/me"]:
            response = await client.get(path)
            body = _assert_401(response)
            assert body["reason"] == "TOKEN_EXPIRED"
            assert 'error="invalid_token"' in response.headers["www-authenticate"]


# ---- bodies and parameters ----------------------------------------------------------------


async def test_malformed_json_is_400(alice_http: httpx.AsyncClient) -> None:
    response = await alice_http.post(
        "/api/tasks", content=b'{"title": "Buy milk",', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "MALFORMED_JSON")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 42}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "tags": "home"}, "tags"),
        ({"title": "ok", "due_time": "tomorrow"}, "due_time"),
        ({"title": "ok", "due_time": "2030-01-01T00:00:00"}, "due_time"),  # no time zone
        ({"title": "ok", "owner_id": "someone-else"}, "owner_id"),  # unknown field
        ({"title": "ok", "state": "completed"}, "state"),  # output-only field
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "notes": "n" * 10_001}, "notes"),
        ({"title": "ok", "tags": ["t" * 33]}, "tags.0"),
        ({"title": "ok", "tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({}, "title"),
        ([], "body"),
        ({"title": "nul\u0000byte"}, "title"),  # PostgreSQL cannot store NUL
        ({"title": "ok", "tags": ["a\u0000"]}, "tags.0"),
    ],
)
async def test_invalid_create_body_is_422_naming_the_field(
    alice_http: httpx.AsyncClient, body: object, field: str
) -> None:
    problem = assert_problem(
        await alice_http.post("/api/tasks", json=body), 422, "VALIDATION_FAILED"
    )
    assert field in [e["field"] for e in problem["errors"]], problem


async def test_service_side_validation_is_400_with_field_errors(
    alice_http: httpx.AsyncClient,
) -> None:
    # Passes the schema (1+ chars) but the service trims it to nothing.
    problem = assert_problem(await alice_http.post("/api/tasks", json={"title": "   "}), 400)
    assert "title" in [e["field"] for e in problem["errors"]]


async def test_empty_patch_is_400_from_the_service(alice_http: httpx.AsyncClient) -> None:
    task = (await alice_http.post("/api/tasks", json={"title": "t"})).json()
    problem = assert_problem(await alice_http.patch(f"/api/tasks/{task['id']}", json={}), 400)
    assert problem["errors"]


async def test_invalid_patch_bodies_are_422(alice_http: httpx.AsyncClient) -> None:
    task = (await alice_http.post("/api/tasks", json={"title": "t"})).json()
    for body in [{"title": None}, {"priority": None}, {"etag": "x"}, {"title": 1}]:
        response = await alice_http.patch(f"/api/tasks/{task['id']}", json=body)
        assert_problem(response, 422)


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": -1},
        {"page_size": 501},
        {"page_size": "ten"},
        {"state": "done"},
        {"priority": "urgent"},
        {"order_by": "title"},
        {"due_before": "yesterday"},
        {"overdue": "maybe"},
        {"query": "q" * 201},
        {"page_token": "p" * 2049},
        {"query": "nul\x00byte"},
        {"tag": "\x00"},
    ],
)
async def test_invalid_list_parameters_are_422(
    alice_http: httpx.AsyncClient, params: dict[str, object]
) -> None:
    problem = assert_problem(await alice_http.get("/api/tasks", params=params), 422)
    assert next(iter(params)) in [e["field"] for e in problem["errors"]]


async def test_forged_page_token_is_400(alice_http: httpx.AsyncClient) -> None:
    response = await alice_http.get("/api/tasks", params={"page_token": "bm90LWEtdG9rZW4"})
    assert_problem(response, 400)


async def test_oversized_idempotency_key_is_422(alice_http: httpx.AsyncClient) -> None:
    response = await alice_http.post(
        "/api/tasks", json={"title": "t"}, headers={"Idempotency-Key": "k" * 129}
    )
    assert_problem(response, 422)


async def test_invalid_auth_bodies_are_422(http: httpx.AsyncClient) -> None:
    for path, body in [
        ("/api/auth/signup", {"email": "a@example.com"}),
        ("/api/auth/signup", {"email": "a@example.com", "password": "p" * 129}),
        ("/api/auth/login", {"email": "a@example.com", "password": "x", "admin": True}),
        ("/api/auth/refresh", {"refresh_token": 5}),
        ("/api/auth/login", {"email": "a\u0000@example.com", "password": "x"}),
    ]:
        assert_problem(await http.post(path, json=body), 422)


async def test_body_over_1_mib_is_413_by_content_length(alice_http: httpx.AsyncClient) -> None:
    body = json.dumps({"title": "big", "notes": "n" * (1024 * 1024)}).encode()
    response = await alice_http.post(
        "/api/tasks", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_streamed_body_over_1_mib_is_413(alice_http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "big", "notes": "'
        for _ in range(20):
            yield b"n" * 65536
        yield b'"}'

    # No Content-Length: the body is sent chunked and counted as it arrives.
    response = await alice_http.post(
        "/api/tasks", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_unknown_route_and_method_are_problems(alice_http: httpx.AsyncClient) -> None:
    assert_problem(await alice_http.get("/api/nothing-here"), 404)
    assert_problem(await alice_http.put("/api/tasks", json={}), 405)


def test_no_stack_trace_helpers_leak(tmp_path: Path) -> None:
    # Guard for the helpers themselves: the problem assertion rejects tracebacks.
    response = httpx.Response(
        500,
        headers={"content-type": "application/problem+json", "x-request-id": "r"},
        json={
            "type": "urn:todo-assistant:problem:x",
            "title": "t",
            "status": 500,
            "detail": "Traceback (most recent call last)",
            "request_id": "r",
        },
    )
    with pytest.raises(AssertionError):
        assert_problem(response, 500)
