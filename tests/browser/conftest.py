"""Browser test fixtures: every process started the `make run` way (auth, tasks, agent with the
offline model, edge — real subprocesses on free ports, migrated databases in a temporary folder,
plain-http cookies, UTC), and headless Debian Chromium driven through Playwright's driver.

The ChatKit web component's CDN is blocked for every page, as it is on a machine without
internet: the page must fall back to its built-in chat client. Screenshots of each step go to
test-output/browser/ at the repository root.

Without /usr/bin/chromium the tests skip with a message saying how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect
from todo_testkit.stack import SERVICES, Stack, running_stack

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
class App:
    """What the browser tests open: the edge's URL, and the processes behind it when this suite
    started them (not against BROWSER_TEST_URL)."""

    url: str
    stack: Stack | None = None

    def own_stack(self, needs: str) -> Stack:
        """The processes behind the page; skips the test, saying what it `needs` them for,
        when the page is someone else's."""
        if self.stack is None:
            pytest.skip(f"{needs}: needs the processes this suite starts")
        return self.stack


@pytest.fixture(scope="session")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[App]:
    """auth, tasks, agent (offline) and edge as real processes, like `make run`.

    BROWSER_TEST_URL=http://127.0.0.1:8000 runs the tests against an already running stack
    instead (e.g. `make run`), which makes iterating on the page quick."""
    _require_chromium()
    existing = os.environ.get("BROWSER_TEST_URL", "").strip().rstrip("/")
    if existing:
        yield App(url=existing)
        return
    env = {
        # Short-lived access tokens, so the page's renewal (a minute before expiry, at the
        # earliest 5 s after the last one) happens during the tests.
        "AUTH_ACCESS_TOKEN_TTL_SECONDS": str(ACCESS_TOKEN_TTL_SECONDS),
    }
    folder = tmp_path_factory.mktemp("browser-stack")
    async with running_stack(*SERVICES, folder=folder, environment="development", env=env) as stack:
        yield App(url=stack["edge"].url, stack=stack)


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
    browser: Browser, app: App, screenshot_dir: Path, request: pytest.FixtureRequest
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
            base_url=app.url,
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
        return BrowserSession(page=page, context=context, shot=shot, url=app.url)

    yield factory
    for context in contexts:
        await context.close()


@pytest.fixture
def new_email(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Addresses no other test (or earlier run on a shared database) uses."""
    counter = iter(range(1, 1000))
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return lambda: f"{base}-{os.getpid()}-{next(counter)}-{uuid.uuid4().hex[:6]}@example.com"
