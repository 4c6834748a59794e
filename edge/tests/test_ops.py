"""/healthz, /readyz, /metrics, /docs and the OpenAPI document."""

from __future__ import annotations

import httpx
from todo_testkit.auth import AuthServiceHandle
from todo_testkit.edge import EdgeHandle, assert_problem, edge_settings_for, running_edge
from todo_testkit.ports import free_port


async def test_healthz(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_every_backend_serves(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "backends": {"auth": "SERVING", "tasks": "SERVING"},
    }


async def test_readyz_names_the_backend_that_is_down(auth_service: AuthServiceHandle) -> None:
    settings = edge_settings_for(auth_service, tasks_address=f"127.0.0.1:{free_port()}")
    async with running_edge(settings) as edge, edge.client() as client:
        response = await client.get("/readyz")
    body = assert_problem(response, 503, "NOT_READY")
    assert body["not_serving"] == ["tasks"]
    assert body["backends"]["auth"] == "SERVING"
    assert "tasks" in body["detail"]


async def test_metrics_are_not_on_the_public_port(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get("/metrics"), 404)


async def test_metrics_count_routes_by_template_and_grpc_calls_by_method(
    edge_service: EdgeHandle, alice_http: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    task = (await alice_http.post("/api/tasks", json={"title": "measured"})).json()
    await alice_http.get(f"/api/tasks/{task['id']}")
    await alice_http.get("/api/tasks/0193a5b2-7c4e-7d3a-9f21-5b8c2d4e6f10")
    assert edge_service.metrics_url is not None
    assert str(edge_service.port) not in edge_service.metrics_url
    response = await http.get(edge_service.metrics_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'edge_http_requests_total{method="GET",route="/api/tasks/{task_id}",status="200"}' in text
    )
    assert (
        'edge_http_requests_total{method="GET",route="/api/tasks/{task_id}",status="404"}' in text
    )
    assert 'edge_http_requests_total{method="POST",route="/api/tasks",status="201"}' in text
    assert (
        'edge_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/tasks/{task_id}"}'
        in text
    )
    assert (
        'edge_grpc_client_call_duration_seconds_count{code="OK",method="/todo.tasks.v1.TaskService/GetTask"}'
        in text
    )
    assert (
        'edge_grpc_client_call_duration_seconds_count{code="NOT_FOUND",method="/todo.tasks.v1.TaskService/GetTask"}'
        in text
    )
    # Ids never become label values.
    assert task["id"] not in text


async def test_openapi_documents_every_route_with_examples(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        "/api/auth/signup": {"post"},
        "/api/auth/login": {"post"},
        "/api/auth/refresh": {"post"},
        "/api/auth/logout": {"post"},
        "/api/auth/me": {"get", "delete"},
        "/.well-known/jwks.json": {"get"},
        "/api/tasks": {"get", "post"},
        "/api/tasks/{task_id}": {"get", "patch", "delete"},
        "/api/tasks/{task_id}/complete": {"post"},
        "/api/tasks/{task_id}/reopen": {"post"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    schemas = spec["components"]["schemas"]
    for name in ("TaskOut", "TaskCreate", "TaskPatch", "SignUpBody", "SessionOut"):
        assert schemas[name].get("examples"), name
    not_found = paths["/api/tasks/{task_id}"]["get"]["responses"]["404"]
    assert "application/problem+json" in not_found["content"]
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()
    docs = await http.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
