"""Browser test fixtures: every process started the `make run` way (auth, tasks, agent with the
offline model, edge — real subprocesses on free ports, migrated databases in a temporary folder,
plain-http cookies, UTC), and headless Debian Chromium driven through Playwright's driver.

The ChatKit web component's CDN is blocked for every page, as it is on a machine without
internet: the page must fall back to its built-in chat client. Screenshots of each step go to
test-output/browser/ at the repository root.

Without /usr/bin/chromium the tests skip with a message saying how to install it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect
from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.processes import ServiceProcess, run_command, start_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHATKIT_CDN = "https://cdn.platform.openai.com/**"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "browser"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

ACCESS_TOKEN_TTL_SECONDS = 66

# How long one UI expectation may wait (the machine may be busy running other suites).
EXPECT_TIMEOUT_MS = 15_000


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            "browser tests need Debian's Chromium at /usr/bin/chromium "
            "(apt-get install chromium); .ci/run installs it in CI"
        )


@dataclass
class Stack:
    """The running processes; `edge_url` is what a person would open."""

    edge_url: str
    processes: dict[str, ServiceProcess]
    log_dir: Path
    # The environment the services were started with (to restart one).
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """auth, tasks, agent (offline) and edge as real processes, like `make run`.

    BROWSER_TEST_URL=http://127.0.0.1:8000 runs the tests against an already running stack
    instead (e.g. `make run`), which makes iterating on the page quick."""
    _require_chromium()
    existing = os.environ.get("BROWSER_TEST_URL", "").strip().rstrip("/")
    if existing:
        yield Stack(edge_url=existing, processes={}, log_dir=Path("."))
        return
    folder = tmp_path_factory.mktemp("browser-stack")
    log_dir = folder / "logs"
    databases: dict[str, IsolatedDatabase] = {
        name: new_database(name, folder) for name in ("auth", "tasks", "edge")
    }
    env: dict[str, str] = {
        "TZ": "UTC",
        "JWT_ISSUER": "todo-auth",
        "JWT_AUDIENCE": "todo-api",
        "EDGE_COOKIE_SECURE": "false",
        "AGENT_MODEL": "offline",
        # Short-lived access tokens, so the page's renewal (a minute before expiry, at the
        # earliest 5 s after the last one) happens during the tests.
        "AUTH_ACCESS_TOKEN_TTL_SECONDS": str(ACCESS_TOKEN_TTL_SECONDS),
    }
    for name in ("auth", "tasks", "agent", "edge"):
        env[f"{name.upper()}_ENVIRONMENT"] = "development"
    for name, database in databases.items():
        env[f"{name.upper()}_DATABASE_URL"] = database.url
        env[f"{name.upper()}_DATABASE_SCHEMA"] = database.schema
    running: dict[str, ServiceProcess] = {}
    try:

        async def migrate_and_start_auth() -> None:
            await run_command("auth", "migrate", env=env)
            running["auth"] = await start_service("auth", env, log_dir)

        # Migrations are independent; the services start in dependency order (each needs the
        # address its predecessor bound).
        await asyncio.gather(
            migrate_and_start_auth(),
            run_command("tasks", "migrate", env=env),
            run_command("edge", "migrate", env=env),
        )
        env["JWT_AUTH_ADDRESS"] = env["EDGE_AUTH_ADDRESS"] = running["auth"].address
        running["tasks"] = await start_service("tasks", env, log_dir)
        env["AGENT_TASKS_ADDRESS"] = env["EDGE_TASKS_ADDRESS"] = running["tasks"].address
        running["agent"] = await start_service("agent", env, log_dir)
        env["EDGE_AGENT_ADDRESS"] = running["agent"].address
        running["edge"] = await start_service("edge", env, log_dir)
        yield Stack(edge_url=running["edge"].url, processes=running, log_dir=log_dir, env=env)
    finally:
        for process in reversed(list(running.values())):
            await process.stop()
        for database in databases.values():
            await drop_database(database)


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """test-output/browser/, emptied once per run so it only holds this run's steps."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the run."""
    _require_chromium()
    playwright = await async_playwright().start()
    try:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()
    finally:
        await playwright.stop()


Shot = Callable[[str], Awaitable[None]]


@dataclass
class BrowserSession:
    """A page in a fresh browser context (own cookies), and a screenshot helper."""

    page: Page
    context: BrowserContext
    shot: Shot
    url: str


@pytest.fixture
async def open_page(
    browser: Browser, stack: Stack, screenshot_dir: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Awaitable[BrowserSession]]]:
    """`await open_page(viewport=PHONE)` → a page on the app, in a context of its own."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    contexts: list[BrowserContext] = []
    test_name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    counter = 0

    async def factory(
        viewport: dict[str, int] = DESKTOP,
        chatkit_script: str | None = None,
        color_scheme: str = "light",
    ) -> BrowserSession:
        """A signed-out page. `chatkit_script` is served as the CDN's ChatKit script;
        without it the CDN is unreachable, as on this machine and in CI."""

        async def cdn(route: Route) -> None:
            if chatkit_script is None:
                await route.abort("internetdisconnected")
            else:
                await route.fulfill(status=200, content_type="text/javascript", body=chatkit_script)

        context = await browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            base_url=stack.edge_url,
            locale="en-GB",
            timezone_id="UTC",
            color_scheme=color_scheme,  # type: ignore[arg-type]
        )
        contexts.append(context)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        await context.route(CHATKIT_CDN, cdn)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        async def shot(step: str) -> None:
            nonlocal counter
            counter += 1
            name = f"{test_name}-{counter:02d}-{step}.png"
            await page.screenshot(path=str(screenshot_dir / name), full_page=True)
            assert not errors, f"JavaScript errors on the page: {errors}"

        await page.goto("/")
        await page.wait_for_selector("body[data-ready=true]")
        return BrowserSession(page=page, context=context, shot=shot, url=stack.edge_url)

    yield factory
    for context in contexts:
        await context.close()


@pytest.fixture
def new_email(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Addresses no other test (or earlier run on a shared database) uses."""
    counter = iter(range(1, 1000))
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return lambda: f"{base}-{os.getpid()}-{next(counter)}-{uuid.uuid4().hex[:6]}@example.com"
