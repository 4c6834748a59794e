"""The web page routes: `/` with its own Content-Security-Policy and inline configuration, and
`/static/…` serving only the page's own files (the page itself is tested in a real browser in
tests/browser)."""

from __future__ import annotations

import json
import re

import httpx
from todo_edge.api.web import CHATKIT_SCRIPT_URL, PAGE_CSP, render_index
from todo_edge.middleware import API_CSP
from todo_edge.settings import EdgeSettings
from todo_testkit.edge import EdgeHandle, assert_problem


def _inline_config(html: str) -> dict[str, object]:
    match = re.search(
        r'<script type="application/json" id="todo-config">(.*?)</script>', html, re.S
    )
    assert match, "the page has no inline configuration"
    config: dict[str, object] = json.loads(match.group(1))
    return config


async def test_page_has_its_own_csp_that_allows_the_chatkit_script(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert csp == PAGE_CSP
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert "https://cdn.platform.openai.com" in directives["script-src"]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    # The middleware's other security headers are still there.
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]
    config = _inline_config(response.text)
    chatkit = config["chatkit"]
    assert {key: chatkit[key] for key in ("apiUrl", "domainKey", "scriptUrl")} == {
        "apiUrl": "/chatkit",
        "domainKey": "domain_pk_local_placeholder",
        "scriptUrl": CHATKIT_SCRIPT_URL,
    }
    # The start screen's prompts and the composer's tools come from the edge's one list.
    assert [p["label"] for p in chatkit["startPrompts"]] == [
        "Plan my day",
        "What's overdue?",
        "Brain dump",
    ]
    assert [t["id"] for t in chatkit["composerTools"]] == ["brain_dump", "plan_day", "find_tasks"]


async def test_api_responses_keep_the_strict_api_csp(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.headers["content-security-policy"] == API_CSP
    missing = await http.get("/api/tasks")
    assert missing.headers["content-security-policy"] == API_CSP


def test_domain_key_comes_from_settings_and_cannot_break_out_of_the_script() -> None:
    settings = EdgeSettings(chatkit_domain_key="domain_pk_</script><script>alert(1)</script>")
    html = render_index(settings)
    assert "</script><script>alert(1)" not in html
    config = _inline_config(html)
    assert config["chatkit"]["domainKey"] == settings.chatkit_domain_key  # type: ignore[index]


async def test_static_files_are_served_with_their_types(http: httpx.AsyncClient) -> None:
    script = await http.get("/static/js/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "no-cache"
    assert "etag" in script.headers
    style = await http.get("/static/app.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    head = await http.head("/static/app.css")
    assert head.status_code == 200


async def test_static_serves_nothing_outside_its_folder(http: httpx.AsyncClient) -> None:
    for path in (
        "/static/../api/web.py",
        "/static/%2e%2e/api/web.py",
        "/static/..%2f..%2fsettings.py",
        "/static/%2e%2e/index.html",
        "/static/js/missing.js",
        "/static/js",
        "/static/",
        "/static/js/main.py",
    ):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert_problem(response, 404)


async def test_page_routes_are_not_in_the_api_schema(edge_service: EdgeHandle) -> None:
    async with edge_service.client() as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    assert "/" not in paths
    assert not any(path.startswith("/static") for path in paths)
