"""The one place errors become HTTP responses: `application/problem+json` (RFC 9457).

Every failure an HTTP client can see goes through `problem_response`: gRPC errors from the
backends (decoded with `todo_common.errors.parse_rpc_error`), domain errors raised at the edge
itself (bad token, rate limit), request validation errors, HTTP errors, and anything
unexpected (500 with a generic detail; the stack goes to the log, never to the client).

Status scheme:
- 400 the body is not valid JSON, or a backend rejected the request (INVALID_ARGUMENT, e.g. a
  blank title or a page token from another query);
- 422 the request does not match the API schema (wrong types, unknown fields, strings too long,
  negative page size) — checked by the edge before any backend is called;
  both carry `errors: [{field, message}]`;
- 401 (+ `WWW-Authenticate: Bearer`), 403, 404, 409, 412 (stale `If-Match`), 429
  (+ `Retry-After`), 503 (a backend is unavailable), 504 (a backend missed its deadline),
  500 (a bug: generic detail), 502 (a backend answered something unexpected).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from todo_common.errors import DomainError, FieldViolation, RpcErrorInfo, parse_rpc_error
from todo_common.logs import request_id_var

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
# URNs: stable identifiers that do not pretend to be documentation pages.
PROBLEM_TYPE_BASE = "urn:todo-assistant:problem:"

# Set on `request.state` by routes that honour `If-Match`: a stale etag is then 412, not 409.
CONDITIONAL_STATE_KEY = "conditional_request"


@dataclass
class Problem:
    """An RFC 9457 problem: what went wrong, in a form a client can act on."""

    status: int
    title: str
    detail: str
    slug: str
    errors: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body, with the request id of the current request."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extensions)
        body["request_id"] = request_id_var.get()
        return body


def problem_response(problem: Problem) -> JSONResponse:
    """The HTTP response of a problem."""
    return JSONResponse(
        jsonable_encoder(problem.body()),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _title(status: int) -> str:
    return HTTPStatus(status).phrase


def _slug(reason: str, status: int) -> str:
    if reason:
        return reason.lower().replace("_", "-")
    return _title(status).lower().replace(" ", "-")


def _field_errors(violations: Sequence[FieldViolation]) -> list[dict[str, str]]:
    # Backends name fields by their proto path (`task.title`); the REST body is the task itself.
    return [{"field": v.field.removeprefix("task."), "message": v.description} for v in violations]


_GENERIC_DETAIL = {
    500: "Something went wrong on our side. Try again later; quote the request id if it persists.",
    502: "A backend service answered unexpectedly. Try again later.",
    503: "A backend service is unavailable right now. Try again shortly.",
    504: "A backend service did not answer in time. Try again shortly.",
}


def _status_for(info: RpcErrorInfo, conditional: bool) -> int:
    code = info.code
    if code == grpc.StatusCode.ABORTED:
        # A stale etag: the client's If-Match failed (412); without If-Match it is a plain
        # concurrency conflict (409).
        return 412 if conditional else 409
    return {
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.OUT_OF_RANGE: 400,
        grpc.StatusCode.UNAUTHENTICATED: 401,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.ALREADY_EXISTS: 409,
        # The resource is not in a state the request needs (not about the client's etag).
        grpc.StatusCode.FAILED_PRECONDITION: 409,
        grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
        grpc.StatusCode.CANCELLED: 503,
        grpc.StatusCode.UNAVAILABLE: 503,
        grpc.StatusCode.DEADLINE_EXCEEDED: 504,
        grpc.StatusCode.UNIMPLEMENTED: 502,
        grpc.StatusCode.DATA_LOSS: 502,
        grpc.StatusCode.UNKNOWN: 502,
        grpc.StatusCode.INTERNAL: 502,
    }.get(code, 500)


def problem_from_rpc(info: RpcErrorInfo, *, conditional: bool = False) -> Problem:
    """Maps a decoded gRPC error (or an edge-side domain error) to a problem."""
    status = _status_for(info, conditional)
    headers: dict[str, str] = {}
    if status == 401:
        # RFC 6750: `invalid_token` only when a bearer token was sent and rejected; no error
        # code when none was sent (or when the failure is a password or refresh token).
        rejected = info.reason.startswith(("TOKEN_", "EXTERNAL_")) and not info.reason.endswith(
            "_MISSING"
        )
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if rejected else "Bearer"
    if status in (429, 503) and info.retry_after_seconds is not None:
        headers["Retry-After"] = str(max(1, math.ceil(info.retry_after_seconds)))
    elif status == 429:
        headers["Retry-After"] = "1"
    # Details of 5xx are ours (or a backend's) to know, not the client's.
    detail = _GENERIC_DETAIL.get(status) or info.message or _title(status)
    if status < 500 and info.message:
        detail = info.message
    extensions: dict[str, Any] = {}
    if info.reason and status < 500:
        extensions["reason"] = info.reason
    if status == 429 and info.retry_after_seconds is not None:
        extensions["retry_after_seconds"] = info.retry_after_seconds
    return Problem(
        status=status,
        title=_title(status),
        detail=detail,
        slug=_slug(info.reason if status < 500 else "", status),
        errors=_field_errors(info.field_violations),
        headers=headers,
        extensions=extensions,
    )


def info_from_domain_error(error: DomainError) -> RpcErrorInfo:
    """The RpcErrorInfo a client would decode had `error` crossed a gRPC hop."""
    return RpcErrorInfo(
        code=error.code,
        message=error.message,
        reason=error.reason,
        metadata=dict(error.metadata),
        field_violations=list(error.field_violations),
        retry_after_seconds=error.retry_after_seconds,
    )


def _is_conditional(request: Request) -> bool:
    return bool(getattr(request.state, CONDITIONAL_STATE_KEY, False))


def _validation_field(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def problem_from_validation(error: RequestValidationError) -> Problem:
    """422 (schema) or 400 (unparseable JSON) with one entry per invalid field."""
    errors = list(error.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return Problem(
            status=400,
            title=_title(400),
            detail="The request body is not valid JSON.",
            slug="malformed-json",
            extensions={"reason": "MALFORMED_JSON"},
        )
    return Problem(
        status=422,
        title=_title(422),
        detail="The request does not match the API schema; see `errors`.",
        slug="validation-failed",
        errors=[
            {"field": _validation_field(e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in errors
        ],
        extensions={"reason": "VALIDATION_FAILED"},
    )


def problem_from_http(error: StarletteHTTPException) -> Problem:
    """A problem for an HTTPException (404 for unknown routes, 405, 413...)."""
    status = error.status_code
    detail = error.detail if isinstance(error.detail, str) else _title(status)
    if status >= 500:
        detail = _GENERIC_DETAIL.get(status, _GENERIC_DETAIL[500])
    return Problem(
        status=status,
        title=_title(status),
        detail=detail,
        slug=_title(status).lower().replace(" ", "-"),
        headers=dict(error.headers or {}),
    )


def internal_error_problem() -> Problem:
    """The answer to a bug: generic, with the request id to find the logged stack."""
    return Problem(status=500, title=_title(500), detail=_GENERIC_DETAIL[500], slug="internal")


def install_problem_handlers(app: FastAPI) -> None:
    """Routes every error type through the mapping above."""

    async def on_rpc_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, grpc.aio.AioRpcError)
        info = parse_rpc_error(exc)
        problem = problem_from_rpc(info, conditional=_is_conditional(request))
        level = logging.WARNING if problem.status >= 500 else logging.INFO
        log.log(
            level,
            "backend call failed",
            extra={"code": info.code.name, "reason": info.reason, "status": problem.status},
        )
        return problem_response(problem)

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        info = info_from_domain_error(exc)
        return problem_response(problem_from_rpc(info, conditional=_is_conditional(request)))

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(problem_from_validation(exc))

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(problem_from_http(exc))

    app.add_exception_handler(grpc.aio.AioRpcError, on_rpc_error)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


# OpenAPI: the problem schema and the responses each route documents.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "request_id"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "reason": {"type": "string", "description": "Machine-readable cause (UPPER_SNAKE)."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "request_id": {"type": "string"},
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses."""
    example_reason = {
        401: "TOKEN_EXPIRED",
        404: "TASK_NOT_FOUND",
        412: "ETAG_MISMATCH",
        429: "RATE_LIMITED",
    }
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        example = {
            "type": PROBLEM_TYPE_BASE + _slug(example_reason.get(status, ""), status),
            "title": _title(status),
            "status": status,
            "detail": _GENERIC_DETAIL.get(status, _title(status)),
            "request_id": "4f6c1d9a2b7e4c0f8a1b2c3d4e5f6a7b",
        }
        responses[status] = {
            "description": _title(status),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA, "example": example}},
        }
    return responses
