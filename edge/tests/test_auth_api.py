"""/api/auth and the JWKS over real HTTP against the real auth service."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from todo_testkit.auth import DEFAULT_TEST_PASSWORD, SignedUpUser, running_auth_service
from todo_testkit.edge import EdgeHandle, assert_problem, edge_settings_for, running_edge

COOKIE = "todo_refresh"


def _email() -> str:
    return f"edge-{uuid.uuid4().hex[:12]}@example.com"


def _set_cookie(response: httpx.Response) -> str:
    headers = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(headers) == 1, headers
    return headers[0]


def _refresh_cookie_value(response: httpx.Response) -> str:
    return _set_cookie(response).split(";", 1)[0].split("=", 1)[1]


async def _login(http: httpx.AsyncClient, user: SignedUpUser) -> httpx.Response:
    """POST /api/auth/login with the user's real email and password."""
    return await http.post("/api/auth/login", json={"email": user.email, "password": user.password})


def _refresh_cookie(value: str) -> dict[str, str]:
    """Headers sending a refresh cookie by hand: it is Secure, and the test server is plain
    http, so a client would not send it by itself."""
    return {"Cookie": f"{COOKIE}={value}"}


async def test_signup_returns_token_and_sets_refresh_cookie(http: httpx.AsyncClient) -> None:
    email = _email()
    response = await http.post(
        "/api/auth/signup",
        json={
            "email": f"  {email.upper()} ",
            "password": DEFAULT_TEST_PASSWORD,
            "display_name": "Al",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["user"]["email"] == email
    assert body["user"]["display_name"] == "Al"
    assert body["expires_at"].endswith("Z")
    assert "refresh_token" not in body
    cookie = _set_cookie(response).lower()
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("httponly", "secure", "samesite=lax", "path=/api/auth", "max-age="):
        assert attribute in cookie, cookie
    me = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]
    assert response.headers["cache-control"] == "no-store"


async def test_signup_twice_is_409(http: httpx.AsyncClient, alice: SignedUpUser) -> None:
    response = await http.post(
        "/api/auth/signup", json={"email": alice.email, "password": DEFAULT_TEST_PASSWORD}
    )
    assert_problem(response, 409)


async def test_weak_password_is_400_with_field_error(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/auth/signup", json={"email": _email(), "password": "short"})
    problem = assert_problem(response, 400)
    assert "password" in [e["field"] for e in problem["errors"]]


async def test_login_returns_token_and_cookie(http: httpx.AsyncClient, alice: SignedUpUser) -> None:
    response = await _login(http, alice)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == alice.user_id
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == alice.user_id
    assert "httponly" in _set_cookie(response).lower()


async def test_wrong_password_and_unknown_email_look_the_same(
    http: httpx.AsyncClient, alice: SignedUpUser
) -> None:
    wrong = await http.post("/api/auth/login", json={"email": alice.email, "password": "nope-nope"})
    unknown = await http.post("/api/auth/login", json={"email": _email(), "password": "nope-nope"})
    a, b = assert_problem(wrong, 401), assert_problem(unknown, 401)
    # A 401 always names the scheme; `invalid_token` is only for a rejected bearer token.
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"
    assert {k: v for k, v in a.items() if k != "request_id"} == {
        k: v for k, v in b.items() if k != "request_id"
    }


async def test_refresh_with_cookie_rotates_and_old_one_is_rejected(
    http: httpx.AsyncClient, alice: SignedUpUser
) -> None:
    first = _refresh_cookie_value(await _login(http, alice))
    refreshed = await http.post("/api/auth/refresh", headers=_refresh_cookie(first))
    assert refreshed.status_code == 200, refreshed.text
    second = _refresh_cookie_value(refreshed)
    assert second != first
    token = refreshed.json()["access_token"]
    me = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == alice.user_id
    # Reusing the rotated token is refused (and revokes the family).
    reuse = await http.post("/api/auth/refresh", headers=_refresh_cookie(first))
    assert_problem(reuse, 401)
    after = await http.post("/api/auth/refresh", headers=_refresh_cookie(second))
    assert_problem(after, 401)


async def test_refresh_with_body(http: httpx.AsyncClient, alice: SignedUpUser) -> None:
    response = await http.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


async def test_refresh_without_token_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/auth/refresh")
    assert_problem(response, 401, "REFRESH_TOKEN_MISSING")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_logout_revokes_and_clears_the_cookie(
    http: httpx.AsyncClient, alice: SignedUpUser
) -> None:
    refresh = _refresh_cookie_value(await _login(http, alice))
    response = await http.post("/api/auth/logout", headers=_refresh_cookie(refresh))
    assert response.status_code == 204
    cleared = _set_cookie(response).lower()
    assert cleared.startswith(f'{COOKIE}="";') or cleared.startswith(f"{COOKIE}=;")
    assert "max-age=0" in cleared
    assert "path=/api/auth" in cleared
    again = await http.post("/api/auth/refresh", headers=_refresh_cookie(refresh))
    assert_problem(again, 401)


async def test_me(alice_http: httpx.AsyncClient, alice: SignedUpUser) -> None:
    response = await alice_http.get("/api/auth/me")
    assert response.status_code == 200
    assert response.json()["email"] == alice.email
    assert response.json()["id"] == alice.user_id


async def test_jwks_serves_the_keys_that_verify_tokens(
    http: httpx.AsyncClient, alice: SignedUpUser
) -> None:
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    keys = {key["kid"]: key for key in response.json()["keys"]}
    kid = jwt.get_unverified_header(alice.access_token)["kid"]
    public_key = OKPAlgorithm.from_jwk(json.dumps(keys[kid]))
    claims = jwt.decode(
        alice.access_token, public_key, algorithms=["EdDSA"], options={"verify_aud": False}
    )
    assert claims["sub"] == alice.user_id


# ---- external issuer: tokens exchanged via AuthService.ExchangeToken ----------------------

EXTERNAL_ISSUER = "https://id.example.test"


@pytest.fixture(scope="module")
async def external_setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[EdgeHandle, Ed25519PrivateKey]]:
    """An auth server trusting an external issuer (JWKS file), and an edge exchanging its
    tokens."""
    folder: Path = tmp_path_factory.mktemp("external")
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "ext-1", "alg": "EdDSA", "use": "sig"})
    jwks_file = folder / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [jwk]}))
    issuers = [{"issuer": EXTERNAL_ISSUER, "jwks_file": str(jwks_file), "algorithms": ["EdDSA"]}]
    async with running_auth_service(folder, external_issuers=issuers) as auth:
        settings = edge_settings_for(auth, external_issuers=[EXTERNAL_ISSUER])
        async with running_edge(settings) as edge:
            yield edge, key


def _external_token(key: Ed25519PrivateKey, subject: str, email: str) -> str:
    now = int(time.time())
    claims = {
        "iss": EXTERNAL_ISSUER,
        "sub": subject,
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "ext-1"})


async def test_external_token_is_exchanged_once_and_cached(
    external_setup: tuple[EdgeHandle, Ed25519PrivateKey],
) -> None:
    edge, key = external_setup
    email = _email()
    token = _external_token(key, f"ext-{uuid.uuid4().hex}", email)
    async with edge.client(token) as client:
        first = await client.get("/api/auth/me")
        assert first.status_code == 200, first.text
        assert first.json()["email"] == email
        second = await client.get("/api/auth/me")
        assert second.json()["id"] == first.json()["id"]
    identity = edge.server.config.app.state.edge.identity  # type: ignore[union-attr]
    assert identity.exchange_count >= 1
    before = identity.exchange_count
    async with edge.client(token) as client:
        assert (await client.get("/api/auth/me")).status_code == 200
    assert identity.exchange_count == before


async def test_external_token_with_a_bad_signature_is_401(
    external_setup: tuple[EdgeHandle, Ed25519PrivateKey],
) -> None:
    edge, _ = external_setup
    forged = _external_token(Ed25519PrivateKey.generate(), "ext-forged", _email())
    async with edge.client(forged) as client:
        response = await client.get("/api/auth/me")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
