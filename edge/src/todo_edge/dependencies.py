"""FastAPI dependencies: the app state, the verified caller, backend clients.

Every dependency is `async def`, even those that never await: FastAPI runs a plain `def`
dependency in a worker thread, and the hand-off to the thread pool and back cost ~20 % of the
edge's CPU on GET /api/tasks/{id} (profiled with py-spy)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from todo.auth.v1 import auth_service_pb2_grpc
from todo.tasks.v1 import tasks_service_pb2_grpc
from todo_common.errors import Unauthenticated
from todo_common.tokens import Principal

from todo_edge.ratelimit import enforce
from todo_edge.state import EdgeState

# auto_error=False: a missing token is our own 401 problem (with WWW-Authenticate), not
# FastAPI's 403. The scheme still documents bearer auth in the OpenAPI spec.
_bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login.")


async def edge_state(request: Request) -> EdgeState:
    """The running app's state."""
    state: EdgeState = request.app.state.edge
    return state


State = Annotated[EdgeState, Depends(edge_state)]


async def current_user(
    request: Request,
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller, rate limited per user."""
    if credentials is None:
        header = request.headers.get("authorization")
        raise Unauthenticated(
            "Missing access token: send `Authorization: Bearer <token>`."
            if not header
            else "Malformed authorization: expected `Bearer <token>`.",
            reason="TOKEN_MISSING",
        )
    principal = await state.identity.principal(credentials.credentials)
    settings = state.settings
    await enforce(
        state.limiter,
        f"user:{principal.user_id}",
        settings.requests_per_user,
        settings.rate_limit_window_seconds,
        "requests",
    )
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


async def presented_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The bearer token the request presents, NOT verified here (None without one): for calls
    that hand it to the auth service, which checks it, such as logout (an expired access token
    must still be able to end its session)."""
    return credentials.credentials if credentials is not None else None


PresentedToken = Annotated[str | None, Depends(presented_token)]


async def _tasks_client(state: State, user: CurrentUser) -> tasks_service_pb2_grpc.TaskServiceStub:
    return state.backends.tasks_for(user.token)


async def _auth_client(state: State) -> auth_service_pb2_grpc.AuthServiceStub:
    return state.backends.auth_for(None)


async def _caller_auth_client(
    state: State, user: CurrentUser
) -> auth_service_pb2_grpc.AuthServiceStub:
    return state.backends.auth_for(user.token)


# Backend stubs bound to the request: the verified caller's token (the channel sends it and
# the request id) and the call's deadline, so routes pass neither.
TasksClient = Annotated[tasks_service_pb2_grpc.TaskServiceStub, Depends(_tasks_client)]
# For calls that carry their own credentials (sign-in, refresh, …) or need none (JWKS).
AuthClient = Annotated[auth_service_pb2_grpc.AuthServiceStub, Depends(_auth_client)]
CallerAuthClient = Annotated[auth_service_pb2_grpc.AuthServiceStub, Depends(_caller_auth_client)]
