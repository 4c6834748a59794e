"""The gRPC → HTTP status table of `todo_edge.problems` (the one place errors are mapped)."""

from __future__ import annotations

import grpc
import httpx
import pytest
from todo_common.errors import FieldViolation, RpcErrorInfo
from todo_edge.app import create_app
from todo_edge.problems import problem_from_rpc
from todo_edge.settings import EdgeSettings

TABLE = [
    (grpc.StatusCode.INVALID_ARGUMENT, False, 400),
    (grpc.StatusCode.UNAUTHENTICATED, False, 401),
    (grpc.StatusCode.PERMISSION_DENIED, False, 403),
    (grpc.StatusCode.NOT_FOUND, False, 404),
    (grpc.StatusCode.ALREADY_EXISTS, False, 409),
    (grpc.StatusCode.ABORTED, False, 409),
    (grpc.StatusCode.ABORTED, True, 412),
    (grpc.StatusCode.FAILED_PRECONDITION, False, 409),
    (grpc.StatusCode.FAILED_PRECONDITION, True, 409),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, False, 429),
    (grpc.StatusCode.UNAVAILABLE, False, 503),
    (grpc.StatusCode.DEADLINE_EXCEEDED, False, 504),
    (grpc.StatusCode.INTERNAL, False, 502),
    (grpc.StatusCode.UNKNOWN, False, 502),
    (grpc.StatusCode.UNIMPLEMENTED, False, 502),
    (grpc.StatusCode.DATA_LOSS, False, 502),
]


@pytest.mark.parametrize(("code", "conditional", "status"), TABLE)
def test_status_mapping(code: grpc.StatusCode, conditional: bool, status: int) -> None:
    problem = problem_from_rpc(RpcErrorInfo(code, "message"), conditional=conditional)
    assert problem.status == status


def test_server_errors_hide_the_backend_message() -> None:
    problem = problem_from_rpc(
        RpcErrorInfo(grpc.StatusCode.INTERNAL, "psycopg: relation tasks does not exist")
    )
    assert "psycopg" not in problem.detail
    assert "reason" not in problem.body()


def test_client_errors_keep_message_reason_and_field_violations() -> None:
    info = RpcErrorInfo(
        grpc.StatusCode.INVALID_ARGUMENT,
        "The request has invalid fields.",
        reason="INVALID_ARGUMENT",
        field_violations=[FieldViolation("task.title", "must not be blank")],
    )
    body = problem_from_rpc(info).body()
    assert body["detail"] == "The request has invalid fields."
    assert body["reason"] == "INVALID_ARGUMENT"
    assert body["errors"] == [{"field": "title", "message": "must not be blank"}]
    assert body["type"] == "urn:todo-assistant:problem:invalid-argument"


def test_retry_after_is_rounded_up_to_whole_seconds() -> None:
    info = RpcErrorInfo(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", retry_after_seconds=2.2)
    assert problem_from_rpc(info).headers["Retry-After"] == "3"
    bare = RpcErrorInfo(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down")
    assert problem_from_rpc(bare).headers["Retry-After"] == "1"


async def test_a_bug_is_a_generic_500_problem_with_headers_and_no_stack() -> None:
    app = create_app(EdgeSettings(environment="test"))

    async def broken() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/broken", broken)
    # The lifespan is not needed by this route; the middleware stack is what is under test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        response = await client.get("/broken", headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "bug-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.json()
    assert body["request_id"] == "bug-1"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
