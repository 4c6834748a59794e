"""CORS, security headers, request ids, rate limits (memory and Redis)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from todo_edge.ratelimit import MemoryRateLimiter, RedisRateLimiter
from todo_testkit.auth import AuthServiceHandle, SignedUpUser, SignUp
from todo_testkit.edge import EdgeHandle, assert_problem, edge_settings_for, running_edge
from todo_testkit.ports import free_port
from todo_testkit.tasks import TasksServiceHandle

ALLOWED = "https://app.example.com"
DISALLOWED = "https://evil.example.net"


# ---- CORS -------------------------------------------------------------------------------


async def test_preflight_from_an_allowed_origin(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/api/tasks",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, accept-language",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "accept-language", "if-match"):
        assert header in allowed_headers
    assert "PATCH" in response.headers["access-control-allow-methods"]


async def test_preflight_from_a_disallowed_origin_grants_nothing(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/api/tasks",
        headers={"Origin": DISALLOWED, "Access-Control-Request-Method": "POST"},
    )
    problem = assert_problem(response, 400, "CORS_REFUSED")
    assert "origin" in problem["detail"]
    assert "access-control-allow-origin" not in response.headers


async def test_simple_requests_echo_only_allowed_origins(
    alice_http: httpx.AsyncClient,
) -> None:
    allowed = await alice_http.get("/api/tasks", headers={"Origin": ALLOWED})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    denied = await alice_http.get("/api/tasks", headers={"Origin": DISALLOWED})
    assert "access-control-allow-origin" not in denied.headers


def test_wildcard_origin_is_refused_by_settings(auth_service: AuthServiceHandle) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        edge_settings_for(auth_service, cors_origins=["*"])


# ---- headers on every response ------------------------------------------------------------

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


async def test_security_headers_on_every_kind_of_response(
    alice_http: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    responses = [
        await alice_http.get("/api/tasks"),  # 200
        await alice_http.post("/api/tasks", json={"title": "t"}),  # 201
        await http.get("/api/tasks"),  # 401
        await alice_http.get("/no/such/route"),  # 404
        await alice_http.post("/api/tasks", json={"bad": 1}),  # 422
        await alice_http.post(
            "/api/tasks",
            content=b"x" * (2 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
        ),  # 413
        await http.get("/healthz"),
    ]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.status_code, name)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-request-id"]


async def test_docs_page_gets_a_csp_that_lets_it_load(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "cdn.jsdelivr.net" in response.headers["content-security-policy"]


async def test_request_id_is_echoed_or_generated(alice_http: httpx.AsyncClient) -> None:
    supplied = await alice_http.get("/api/tasks", headers={"X-Request-ID": "trace-abc.123"})
    assert supplied.headers["x-request-id"] == "trace-abc.123"
    generated = await alice_http.get("/api/tasks")
    assert len(generated.headers["x-request-id"]) == 32
    # Not sane (spaces, too long): replaced, never reflected.
    for bad in ["has spaces", "x" * 200, "<script>"]:
        response = await alice_http.get("/api/tasks", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32
    problem = await alice_http.get("/api/tasks/missing-id", headers={"X-Request-ID": "rid-404"})
    assert problem.json()["request_id"] == "rid-404"


# ---- rate limits --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def strict_edge(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle
) -> AsyncIterator[EdgeHandle]:
    """An edge with tiny limits: 2 attempts per account, 4 per address, 3 requests per user."""
    settings = edge_settings_for(
        auth_service,
        tasks_service,
        auth_attempts_per_account=2,
        auth_attempts_per_address=4,
        requests_per_user=3,
        rate_limit_window_seconds=3600,
    )
    async with running_edge(settings) as edge:
        yield edge


def _assert_429(response: httpx.Response) -> None:
    assert_problem(response, 429, "RATE_LIMITED")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 3600


async def test_login_is_limited_per_account(strict_edge: EdgeHandle, sign_up: SignUp) -> None:
    user = await sign_up()
    credentials = {"email": user.email, "password": user.password}
    # Different client addresses would not help: the account's own counter runs out.
    async with strict_edge.client() as client:
        for _ in range(2):
            assert (await client.post("/api/auth/login", json=credentials)).status_code == 200
        _assert_429(await client.post("/api/auth/login", json=credentials))
        # Same account, other casing: still the same account.
        shouted = {"email": user.email.upper(), "password": user.password}
        _assert_429(await client.post("/api/auth/login", json=shouted))


async def test_sign_in_and_sign_up_are_limited_per_address(strict_edge: EdgeHandle) -> None:
    async with strict_edge.client(headers={"X-Forwarded-For": "203.0.113.7"}) as client:
        statuses = []
        for _ in range(5):
            email = f"addr-{uuid.uuid4().hex[:10]}@example.com"
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": "wrong-password"}
            )
            statuses.append(response.status_code)
        assert statuses[:4] == [401, 401, 401, 401]
        assert statuses[4] == 429
        signup = await client.post(
            "/api/auth/signup",
            json={"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pw"},
        )
        _assert_429(signup)
    # Another client address still gets through.
    async with strict_edge.client(headers={"X-Forwarded-For": "203.0.113.8"}) as other:
        email = f"addr-{uuid.uuid4().hex[:10]}@example.com"
        response = await other.post("/api/auth/login", json={"email": email, "password": "x"})
        assert response.status_code == 401


async def test_requests_are_limited_per_user(
    strict_edge: EdgeHandle, alice: SignedUpUser, bob: SignedUpUser
) -> None:
    async with strict_edge.client(alice.access_token) as client:
        for _ in range(3):
            assert (await client.get("/api/tasks")).status_code == 200
        _assert_429(await client.get("/api/tasks"))
    async with strict_edge.client(bob.access_token) as client:
        assert (await client.get("/api/tasks")).status_code == 200


async def test_memory_limiter_windows() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert (await limiter.hit("k", 2, 10)).allowed
    assert (await limiter.hit("k", 2, 10)).allowed
    denied = await limiter.hit("k", 2, 10)
    assert not denied.allowed
    assert denied.retry_after_seconds == pytest.approx(10.0)
    now[0] = 1010.0  # next window
    assert (await limiter.hit("k", 2, 10)).allowed


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


redis_needed = pytest.mark.skipif(not _redis_answers(), reason="no Redis on 127.0.0.1:6379")


@redis_needed
async def test_redis_limiter_shares_counters_between_instances() -> None:
    prefix = f"todo:test:{uuid.uuid4().hex}:"
    first = RedisRateLimiter("redis://127.0.0.1:6379/0", prefix=prefix)
    second = RedisRateLimiter("redis://127.0.0.1:6379/0", prefix=prefix)
    try:
        assert (await first.hit("user:x", 2, 60)).allowed
        assert (await second.hit("user:x", 2, 60)).allowed
        denied = await first.hit("user:x", 2, 60)
        assert not denied.allowed
        assert 0 < denied.retry_after_seconds <= 60
        assert (await second.hit("user:y", 2, 60)).allowed
    finally:
        await first.close()
        await second.close()


async def test_redis_limiter_fails_open_when_redis_is_down() -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    try:
        assert (await limiter.hit("user:x", 1, 60)).allowed
    finally:
        await limiter.close()


@redis_needed
async def test_edge_replicas_share_the_per_user_limit_through_redis(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle, alice: SignedUpUser
) -> None:
    settings = edge_settings_for(
        auth_service,
        tasks_service,
        requests_per_user=3,
        rate_limit_window_seconds=3600,
        redis_url="redis://127.0.0.1:6379/0",
    )
    async with (
        running_edge(settings) as one,
        running_edge(settings) as two,
        one.client(alice.access_token) as a,
        two.client(alice.access_token) as b,
    ):
        assert (await a.get("/api/tasks")).status_code == 200
        assert (await b.get("/api/tasks")).status_code == 200
        assert (await a.get("/api/tasks")).status_code == 200
        _assert_429(await b.get("/api/tasks"))
