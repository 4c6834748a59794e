"""Operational routes: liveness and readiness (every backend's grpc.health.v1). Metrics are
not here: they have a port of their own (`todo_edge.metrics.MetricsServer`)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from starlette.responses import JSONResponse

from todo_edge.dependencies import State
from todo_edge.problems import Problem, problem_response, problem_responses

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    """Answers 200 while the process runs; says nothing about the backends."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: every backend is SERVING",
    responses={
        200: {
            "description": "Ready",
            "content": {
                "application/json": {
                    "example": {
                        "status": "ready",
                        "backends": {"auth": "SERVING", "tasks": "SERVING"},
                    }
                }
            },
        },
        **problem_responses(503),
    },
)
async def readyz(state: State) -> Response:
    """200 when every backend's health service says SERVING; 503 naming those that do not."""
    names = state.settings.readiness_backends
    statuses = await asyncio.gather(*(state.backends.health(name) for name in names))
    backends = dict(zip(names, statuses, strict=True))
    down = [name for name, status in backends.items() if status != "SERVING"]
    if not down:
        return JSONResponse({"status": "ready", "backends": backends})
    return problem_response(
        Problem(
            status=503,
            title="Service Unavailable",
            detail="Not ready: " + ", ".join(f"{n} is {backends[n]}" for n in down) + ".",
            slug="not-ready",
            extensions={"reason": "NOT_READY", "backends": backends, "not_serving": down},
        )
    )
