"""`/api/auth/*` and the JWKS: sign-up, login, refresh, logout, me, account deletion.

Login and sign-up return the access token in JSON and set the refresh token as an HttpOnly,
SameSite=Lax cookie scoped to /api/auth (Secure unless configured off for plain-http
localhost), so browser scripts never see it. Refresh and logout read the cookie, or a body
for clients without cookies. Sign-in and sign-up are rate limited per account and per client
address.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from starlette.responses import JSONResponse
from todo.auth.v1 import auth_service_pb2
from todo.tasks.v1 import tasks_service_pb2
from todo_common.errors import Unauthenticated

from todo_edge.chatkit.erasure import erase_owner
from todo_edge.dependencies import (
    AuthClient,
    CallerAuthClient,
    CurrentUser,
    PresentedToken,
    State,
    TasksClient,
)
from todo_edge.problems import problem_responses
from todo_edge.ratelimit import enforce
from todo_edge.schemas import (
    JwksOut,
    LoginBody,
    RefreshBody,
    SessionOut,
    SignUpBody,
    UserOut,
    user_to_json,
)
from todo_edge.settings import EdgeSettings
from todo_edge.state import EdgeState

COOKIE_PATH = "/api/auth"

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/auth", tags=["auth"])
jwks_router = APIRouter(tags=["auth"])


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _limit_credential_attempts(state: EdgeState, request: Request, email: str) -> None:
    settings = state.settings
    window = settings.rate_limit_window_seconds
    account = email.strip().lower()
    await enforce(
        state.limiter,
        f"auth:address:{_client_address(request)}",
        settings.auth_attempts_per_address,
        window,
        "sign-in attempts from this address",
    )
    await enforce(
        state.limiter,
        f"auth:account:{account}",
        settings.auth_attempts_per_account,
        window,
        "sign-in attempts for this account",
    )


def _session_response(
    settings: EdgeSettings,
    tokens: auth_service_pb2.TokenPair,
    user: auth_service_pb2.User | None,
    status_code: int = 200,
) -> JSONResponse:
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_at": tokens.access_token_expire_time.ToJsonString(),
        "user": user_to_json(user) if user is not None else None,
    }
    response = JSONResponse(body, status_code=status_code)
    max_age = None
    if tokens.HasField("refresh_token_expire_time"):
        import time

        max_age = max(0, int(tokens.refresh_token_expire_time.seconds - time.time()))
    response.set_cookie(
        settings.refresh_cookie_name,
        tokens.refresh_token,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


def _presented_refresh_token(
    request: Request, state: State, body: Annotated[RefreshBody | None, Body()] = None
) -> str | None:
    """The refresh token from the body, else the cookie; None without either."""
    if body is not None:
        return body.refresh_token
    return request.cookies.get(state.settings.refresh_cookie_name) or None


# The refresh token a request presents (refresh and logout read it the same way).
PresentedRefreshToken = Annotated[str | None, Depends(_presented_refresh_token)]


def _required_refresh_token(token: str | None) -> str:
    if token is None:
        raise Unauthenticated(
            'No refresh token: send the refresh cookie or `{"refresh_token": …}`.',
            reason="REFRESH_TOKEN_MISSING",
        )
    return token


def _cookie_cleared(settings: EdgeSettings) -> Response:
    """A 204 that also deletes the refresh cookie (the session it belonged to is over)."""
    response = Response(status_code=204)
    response.delete_cookie(
        settings.refresh_cookie_name,
        path=COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.post(
    "/signup",
    status_code=201,
    response_model=SessionOut,
    summary="Create an account and sign in",
    responses=problem_responses(400, 409, 422, 429, 503),
)
async def sign_up(body: SignUpBody, request: Request, state: State, auth: AuthClient) -> Response:
    """Creates the account and returns an access token; the refresh token is set as a cookie."""
    await _limit_credential_attempts(state, request, body.email)
    reply = await auth.SignUp(
        auth_service_pb2.SignUpRequest(
            email=body.email, password=body.password, display_name=body.display_name
        )
    )
    return _session_response(state.settings, reply.tokens, reply.user, status_code=201)


@router.post(
    "/login",
    response_model=SessionOut,
    summary="Sign in with email and password",
    responses=problem_responses(401, 422, 429, 503),
)
async def login(body: LoginBody, request: Request, state: State, auth: AuthClient) -> Response:
    """Returns an access token; the refresh token is set as an HttpOnly cookie."""
    await _limit_credential_attempts(state, request, body.email)
    reply = await auth.SignIn(
        auth_service_pb2.SignInRequest(email=body.email, password=body.password)
    )
    return _session_response(state.settings, reply.tokens, reply.user)


@router.post(
    "/refresh",
    response_model=SessionOut,
    summary="Exchange the refresh token for a new access token",
    responses=problem_responses(401, 422, 503),
)
async def refresh(state: State, auth: AuthClient, presented: PresentedRefreshToken) -> Response:
    """Rotates the refresh token (cookie, or body for clients without cookies). Reusing an
    old refresh token revokes the whole session."""
    token = _required_refresh_token(presented)
    reply = await auth.Refresh(auth_service_pb2.RefreshRequest(refresh_token=token))
    return _session_response(state.settings, reply.tokens, None)


@router.post(
    "/logout",
    status_code=204,
    summary="Sign out (end the session)",
    responses=problem_responses(401, 422, 503),
)
async def logout(
    state: State, bearer: PresentedToken, refresh_token: PresentedRefreshToken
) -> Response:
    """Ends the session of the bearer access token and/or of the refresh token (cookie, or
    body), and clears the cookie. Every service refuses that session's access tokens within
    seconds. The auth service checks the bearer token itself: an expired one still names its
    session, a forged one ends nothing. Without either token → 401."""
    if refresh_token is None and bearer is None:
        raise Unauthenticated(
            "Nothing to sign out: send the access token (`Authorization: Bearer …`), the "
            'refresh cookie or `{"refresh_token": …}`.',
            reason="SESSION_MISSING",
        )
    await state.backends.auth_for(bearer).SignOut(
        auth_service_pb2.SignOutRequest(refresh_token=refresh_token or "")
    )
    return _cookie_cleared(state.settings)


@router.get(
    "/me",
    response_model=UserOut,
    summary="The signed-in user",
    responses=problem_responses(401, 429, 503),
)
async def me(auth: CallerAuthClient) -> Response:
    """Returns the account the access token belongs to."""
    reply = await auth.GetMe(auth_service_pb2.GetMeRequest())
    return JSONResponse(user_to_json(reply.user))


@router.delete(
    "/me",
    status_code=204,
    summary="Delete the account and everything it owns",
    responses=problem_responses(401, 429, 503),
)
async def delete_account(user: CurrentUser, state: State, tasks: TasksClient) -> Response:
    """Deletes the signed-in user's tasks, chat threads (with their items and feedback) and
    then the account itself, which ends every session at once. Each step is safe to repeat,
    so a request that failed half-way can simply be sent again with the same token."""
    await tasks.PurgeTasks(tasks_service_pb2.PurgeTasksRequest())
    threads = await erase_owner(state.database, user.user_id)
    await state.backends.auth_for(user.token).DeleteAccount(auth_service_pb2.DeleteAccountRequest())
    log.info("account deleted", extra={"user_id": user.user_id, "threads": threads})
    return _cookie_cleared(state.settings)


@jwks_router.get(
    "/.well-known/jwks.json",
    response_model=JwksOut,
    summary="Public keys that verify access tokens",
    responses=problem_responses(503),
)
async def jwks(auth: AuthClient) -> Response:
    """The JSON Web Key Set of the auth service (EdDSA / Ed25519 keys)."""
    reply = await auth.GetJwks(auth_service_pb2.GetJwksRequest())
    keys = [
        {
            "kty": k.kty,
            "crv": k.crv,
            "x": k.x,
            "kid": k.kid,
            "alg": k.alg,
            "use": k.use,
        }
        for k in reply.keys
    ]
    # Public keys: caches may keep them for a few minutes (rotation keeps old keys longer).
    return JSONResponse({"keys": keys}, headers={"Cache-Control": "public, max-age=300"})
