"""The edge's FastAPI app factory: routers, error handlers, middleware, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from todo_edge.api import auth, chat, chatkit, events, ops, tasks, undo, web
from todo_edge.mcp.endpoint import MCP_PATH, McpEndpoint, metadata_router
from todo_edge.mcp.tools import build_mcp_server
from todo_edge.metrics import EdgeMetrics, MetricsServer
from todo_edge.middleware import (
    BodyLimitMiddleware,
    HeaderLimitMiddleware,
    ProblemCORSMiddleware,
    RequestContextMiddleware,
)
from todo_edge.problems import install_problem_handlers
from todo_edge.settings import EdgeSettings
from todo_edge.state import EdgeState

DESCRIPTION = """\
The Todo Assistant HTTP API. Sign up or log in under `/api/auth` to get an access token, then
send it as `Authorization: Bearer <token>` to `/api/tasks`.

Errors are `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`,
`reason`, field `errors` and the `request_id` (also in the `X-Request-ID` header).
422 means the request does not match this schema; 400 means the body is not JSON or the
service rejected a value (e.g. a blank title).
"""


def create_app(settings: EdgeSettings) -> FastAPI:
    """Builds the app. Backend channels are opened by its lifespan and closed after it."""
    metrics = EdgeMetrics()
    mcp = McpEndpoint(build_mcp_server())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await EdgeState.start(settings, metrics)
        app.state.edge = state
        metrics_server = None
        if settings.metrics_port is not None:
            metrics_server = MetricsServer.start(
                metrics, settings.metrics_host, settings.metrics_port
            )
        app.state.metrics_port = metrics_server.port if metrics_server else None
        try:
            async with mcp.running():
                yield
        finally:
            if metrics_server is not None:
                metrics_server.stop()
            await state.stop()

    app = FastAPI(
        title="Todo Assistant API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.include_router(auth.router)
    app.include_router(auth.jwks_router)
    app.include_router(tasks.router)
    app.include_router(undo.router)
    app.include_router(events.router)
    app.include_router(ops.router)
    app.include_router(chatkit.router)
    app.include_router(web.router)
    app.include_router(chat.router)
    app.include_router(metadata_router)
    # The MCP server (Streamable HTTP: POST, plus GET and DELETE, which it answers itself).
    app.router.routes.append(
        Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    )
    # Last added runs first: request context wraps everything (also 431, CORS and 413 answers).
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        ProblemCORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Accept-Language",
            "If-Match",
            "Idempotency-Key",
            "Last-Event-ID",
            "X-Request-ID",
            "X-Time-Zone",
            # MCP clients in a browser (Streamable HTTP).
            "Mcp-Protocol-Version",
            "Mcp-Session-Id",
        ],
        expose_headers=[
            "ETag",
            "Location",
            "Retry-After",
            "X-Request-ID",
            "Mcp-Session-Id",
            "WWW-Authenticate",
        ],
        max_age=600,
    )
    app.add_middleware(HeaderLimitMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, hsts=settings.cookie_secure)
    return app
