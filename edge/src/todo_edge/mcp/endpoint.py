"""`/mcp`: the bearer-token gate in front of the MCP SDK's Streamable HTTP session manager, and
the OAuth 2.0 protected-resource metadata (RFC 9728) that MCP clients discover it by.

Every request to `/mcp` must carry `Authorization: Bearer <access token>`, the same token the
REST API takes, verified by the edge's one verifier (`identity.Identity`: signature, issuer,
audience, expiry, revocation; an external issuer's token is exchanged first). No token, or a
rejected one, is a 401 problem whose `WWW-Authenticate` names the metadata document
(`Bearer resource_metadata="…/.well-known/oauth-protected-resource/mcp"`), as the MCP
authorization spec asks. Each request then counts against the caller's per-user rate limit
(the REST API's: 429 + `Retry-After` past it).

The session manager runs stateless with JSON responses: each POST is served on its own, so any
edge replica can answer any request (nothing about a client is kept in one process's memory)
and no SSE stream sits open behind a proxy. The caller (verified principal and a tasks stub
bound to their token, with the call deadline) goes on the request's state for the tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.security import HTTPBearer
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.auth import ProtectedResourceMetadata
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from todo_common.errors import Unauthenticated
from todo_common.tokens import Principal

from todo_edge.dependencies import current_user
from todo_edge.problems import info_from_domain_error, problem_from_rpc, problem_response
from todo_edge.settings import EdgeSettings

if TYPE_CHECKING:
    from todo.tasks.v1.tasks_service_pb2_grpc import TaskServiceAsyncStub

    from todo_edge.state import EdgeState

MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"
CALLER_STATE_KEY = "mcp_caller"
# Reads `Authorization: Bearer …` (None when absent or another scheme: a 401 below).
_BEARER = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class McpCaller:
    """Who is calling the tools: the verified principal, and tasks bound to their token."""

    principal: Principal
    tasks: TaskServiceAsyncStub


def caller_of(ctx: Context[Any, Any]) -> McpCaller:
    """The verified caller of the tool call `ctx` belongs to (set by `McpEndpoint`)."""
    request = ctx.request_context.request
    state: dict[str, Any] = getattr(request, "scope", {}).get("state") or {}
    caller = state.get(CALLER_STATE_KEY)
    if not isinstance(caller, McpCaller):
        # Only reachable if the server were served without the gate.
        raise ToolError("Not signed in.")
    return caller


def public_base_url(request: Request, settings: EdgeSettings) -> str:
    """The edge's base URL as clients reach it: configured, or this request's."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def resource_metadata_url(base_url: str) -> str:
    """Where the metadata of the `/mcp` resource is (RFC 9728 §3.1: the well-known path with
    the resource's path after it)."""
    return f"{base_url}{METADATA_PATH}{MCP_PATH}"


class McpEndpoint:
    """The ASGI app at `/mcp`: authenticate, rate limit, then the SDK's session manager."""

    def __init__(self, server: MCPServer[Any]) -> None:
        # Builds the SDK's session manager (the Starlette app it returns is not used: the edge
        # routes `/mcp` itself, behind its own gate). No DNS-rebinding Host check: nothing
        # ambient authenticates here (no cookies), only an explicit bearer token.
        server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.server = server
        self.sessions = server.session_manager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The session manager's task group, for the app's lifespan."""
        async with self.sessions.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state: EdgeState = request.app.state.edge
        settings = state.settings
        try:
            # The REST API's own dependency: the token verified, then the per-user rate limit.
            principal = await current_user(request, state, await _BEARER(request))
        except Unauthenticated as error:
            problem = problem_from_rpc(info_from_domain_error(error))
            challenge = problem.headers["WWW-Authenticate"]
            metadata = resource_metadata_url(public_base_url(request, settings))
            separator = " " if challenge == "Bearer" else ", "
            problem.headers["WWW-Authenticate"] = (
                f'{challenge}{separator}resource_metadata="{metadata}"'
            )
            await problem_response(problem)(scope, receive, send)
            return
        # The SDK's own notion of the caller (it ties a stateful session to its credential).
        scope["user"] = AuthenticatedUser(
            AccessToken(
                token=principal.token,
                client_id=principal.user_id,
                scopes=[],
                expires_at=int(principal.expires_at) or None,
                subject=principal.user_id,
            )
        )
        scope.setdefault("state", {})[CALLER_STATE_KEY] = McpCaller(
            principal, state.backends.tasks_for(principal.token)
        )
        await self.sessions.handle_request(scope, receive, send)


metadata_router = APIRouter(tags=["mcp"])

_METADATA_EXAMPLE = {
    "resource": "https://todo.example.com/mcp",
    "authorization_servers": ["https://todo.example.com"],
    "jwks_uri": "https://todo.example.com/.well-known/jwks.json",
    "bearer_methods_supported": ["header"],
    "resource_name": "Todo Assistant tasks",
    "resource_documentation": "https://todo.example.com/docs",
}


@metadata_router.get(
    METADATA_PATH + MCP_PATH,
    summary="OAuth protected-resource metadata of the MCP server",
    responses={200: {"content": {"application/json": {"example": _METADATA_EXAMPLE}}}},
)
@metadata_router.get(
    METADATA_PATH,
    summary="OAuth protected-resource metadata (RFC 9728)",
    responses={200: {"content": {"application/json": {"example": _METADATA_EXAMPLE}}}},
)
async def protected_resource_metadata(request: Request) -> JSONResponse:
    """What an MCP client needs to get a token for `/mcp`: the resource, the authorization
    server(s) that issue its tokens (the edge's `/api/auth` unless configured otherwise), the
    keys that verify them, and that the token goes in the `Authorization` header."""
    settings: EdgeSettings = request.app.state.settings
    base = public_base_url(request, settings)
    servers = settings.mcp_authorization_servers or [base]
    # Validated from strings: the SDK's model keeps a path-less URL as written (no slash added).
    metadata = ProtectedResourceMetadata.model_validate(
        {
            "resource": base + MCP_PATH,
            "authorization_servers": servers,
            "jwks_uri": base + "/.well-known/jwks.json",
            "resource_name": "Todo Assistant tasks",
            "resource_documentation": base + "/docs",
        }
    )
    return JSONResponse(
        metadata.model_dump(mode="json", exclude_none=True),
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"},
    )
