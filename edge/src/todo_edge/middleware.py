"""Pure ASGI middleware of the edge (no BaseHTTPMiddleware: it buffers and costs latency, and
the ChatKit SSE stream must pass through untouched).

- `RequestContextMiddleware` (outermost): request id (taken from `X-Request-ID` if sane, else
  generated) for every log line and every backend call, echoed on the response; security
  headers on every response; one access-log line and the HTTP metrics per request; and the
  last-resort 500 problem for bugs, so even those carry the request id and headers.
- `HeaderLimitMiddleware`: a header over 16 KiB, or headers over 64 KiB in all, are 431 (the
  edge's HTTP protocol already refused heads that arrived over the total; see `http_protocol`).
- `BodyLimitMiddleware`: bodies over the limit are 413, by `Content-Length` up front and by
  counting streamed bytes (chunked uploads have no length).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from todo_common.logs import request_id_var

from todo_edge.http_protocol import (
    MAX_HEADER_BYTES,
    MAX_REQUEST_HEAD_BYTES,
    header_fields_too_large,
)
from todo_edge.metrics import EdgeMetrics
from todo_edge.problems import Problem, internal_error_problem, problem_response

log = logging.getLogger("todo_edge.access")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# API responses are JSON: nothing in them may run, frame or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The Swagger UI page at /docs loads its script and styles from a CDN and runs an inline
# bootstrap script; it still may not be framed.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


def _encode(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


def security_headers(hsts: bool) -> list[tuple[str, str]]:
    """Headers on every response (CSP is chosen per path)."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if hsts:
        # Browsers honour it only over HTTPS, i.e. where the secure cookie is also used.
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


class RequestContextMiddleware:
    """Request id, security headers, access log, HTTP metrics and the last-resort 500."""

    def __init__(self, app: ASGIApp, metrics: EdgeMetrics, hsts: bool) -> None:
        self.app = app
        self.metrics = metrics
        self._static_headers = _encode(security_headers(hsts))
        self._api_csp = _encode([("Content-Security-Policy", API_CSP)])
        self._docs_csp = _encode([("Content-Security-Policy", DOCS_CSP)])
        self._no_store = _encode([("Cache-Control", "no-store")])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = (
            supplied if supplied and _REQUEST_ID_PATTERN.match(supplied) else uuid.uuid4().hex
        )
        request_id_var.set(request_id)
        path: str = scope.get("path", "")
        csp = self._docs_csp if path.startswith(DOCS_PATHS) else self._api_csp
        extra_headers = [
            (b"x-request-id", request_id.encode()),
            *self._static_headers,
            *csp,
        ]
        status = 500
        started_response = False
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra_headers if h[0] not in present)
                if b"cache-control" not in present:
                    # Responses carry tokens and personal data: keep them out of caches.
                    headers.extend(self._no_store)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error", extra={"method": scope.get("method"), "path": path})
            if started_response:
                raise
            await problem_response(internal_error_problem())(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.http_requests.labels(method, template, str(status)).inc()
            self.metrics.http_latency.labels(method, template).observe(elapsed)
            log.info(
                "http",
                extra={
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )


class HeaderLimitMiddleware:
    """431 for a request with one header over `MAX_HEADER_BYTES` or all of them over
    `MAX_REQUEST_HEAD_BYTES` (name and value counted), before any route reads them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        total = 0
        for name, value in scope["headers"]:
            size = len(name) + len(value)
            total += size
            if size > MAX_HEADER_BYTES:
                shown = name.decode("latin-1")[:64]
                problem = header_fields_too_large(
                    f"The `{shown}` header is larger than {MAX_HEADER_BYTES} bytes."
                )
                problem.extensions["header"] = shown
                await problem_response(problem)(scope, receive, send)
                return
        if total > MAX_REQUEST_HEAD_BYTES:
            problem = header_fields_too_large(
                f"The request's headers are larger than {MAX_REQUEST_HEAD_BYTES} bytes in all."
            )
            await problem_response(problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for request bodies larger than `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> Problem:
        return Problem(
            status=413,
            title="Content Too Large",
            detail=f"The request body is larger than {self.max_bytes} bytes.",
            slug="content-too-large",
            extensions={"reason": "BODY_TOO_LARGE"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0 or declared > self.max_bytes:
                response = problem_response(self._too_large())
                if declared < 0:
                    response = problem_response(
                        Problem(400, "Bad Request", "Invalid Content-Length.", "bad-request")
                    )
                await response(scope, receive, send)
                return
        received = 0
        limit = self.max_bytes

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPException from body reading; the problem handler
                    # renders it.
                    raise HTTPException(413, f"The request body is larger than {limit} bytes.")
            return message

        await self.app(scope, counting_receive, send)


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, with refused preflights answered as problems too."""

    def preflight_response(self, request_headers: Headers) -> Response:
        """The preflight answer; a refusal is a 400 problem naming what was not allowed."""
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refusal = bytes(response.body).decode()
        problem = problem_response(
            Problem(
                status=400,
                title="Bad Request",
                detail=f"{refusal} for this API.",
                slug="cors-refused",
                extensions={"reason": "CORS_REFUSED"},
            )
        )
        # Keep the CORS headers Starlette computed (never an allowed origin here).
        for name, value in response.headers.items():
            if name.lower().startswith("access-control-") or name.lower() == "vary":
                problem.headers[name] = value
        return problem
