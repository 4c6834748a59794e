"""The model picker in a real browser (issue 16, item 3): an agent that runs two models — the
offline one (its default) and `paced-model`, an extra model (AGENT_EXTRA_MODELS) served by the
project's paced OpenAI-compatible server (bench/paced_model.py) on a free port — behind the
page's built-in chat client (the ChatKit CDN is blocked, as in CI).

The composer's picker lists both models, the default chosen; a message sent with the other
one picked is answered by it (the paced server is asked, and the text it streams is the reply);
picking the default again answers offline, without asking the paced server."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.async_api import Page, expect
from todo_testkit.stack import SERVICES, Stack, running_stack

# This module starts a stack of its own (and a model server), which takes long on a busy machine.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
EXTRA_MODEL = "paced-model"
# What the paced server streams, chunk by chunk: a text the offline model never writes.
CHUNK_TEXT = "Picked-model-word{i} "
REPLY = "Picked-model-word1 Picked-model-word2 Picked-model-word3"

OpenPage = Callable[..., Awaitable[Any]]


def _bench_module(name: str) -> ModuleType:
    """bench/<name>.py (the benchmarks are no installed package)."""
    module_name = f"bench.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@dataclass
class PickerApp:
    """What conftest's `open_page` opens (its `App`'s fields): this module's own stack."""

    url: str
    stack: Stack
    model: Any  # bench.paced_model.PacedModel


@pytest.fixture(scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PickerApp]:
    """The four processes, the agent able to run `paced-model` besides its offline default;
    overrides conftest's `app` for this module's `open_page`."""
    paced = _bench_module("paced_model")
    reply = paced.PacedReply(think=0.0, chunks=3, interval=0.0, chunk_text=CHUNK_TEXT)
    async with paced.paced_model(reply) as model:
        env = {
            "AGENT_MODEL": "offline",
            "AGENT_EXTRA_MODELS": EXTRA_MODEL,
            "OPENAI_BASE_URL": model.url,
            "OPENAI_API_KEY": paced.API_KEY,
        }
        folder = tmp_path_factory.mktemp("picker-stack")
        async with running_stack(
            *SERVICES, folder=folder, environment="development", env=env
        ) as stack:
            yield PickerApp(url=stack["edge"].url, stack=stack, model=model)


async def signed_up(page: Page, email: str) -> None:
    """An account made through the REST API in the page's own cookie jar, then the page
    reloaded: it opens signed in (the refresh cookie), the chat ready."""
    created = await page.request.post(
        "/api/auth/signup",
        data={"email": email, "password": "correct horse battery staple", "display_name": "Ada"},
    )
    assert created.status == 201, await created.text()
    await page.reload()
    await page.wait_for_selector("body[data-ready=true]")
    await expect(page.locator("#user-name")).to_have_text("Ada")


async def test_the_picker_lists_both_models_and_the_picked_one_answers(
    open_page: OpenPage, app: PickerApp, new_email: Callable[[], str]
) -> None:
    session = await open_page()
    page, shot = session.page, session.shot
    await signed_up(page, new_email())
    chat = page.locator("#chat-panel")
    await expect(page.locator("#chat-host")).to_have_attribute("data-mode", "builtin")

    picker = chat.get_by_label("Model", exact=True)
    await expect(picker.locator("option")).to_have_text(["Offline assistant", EXTRA_MODEL])
    await expect(picker).to_have_value("offline")  # the default is chosen
    await shot("picker-lists-both-models")

    before = await app.model.stats()
    await picker.select_option(EXTRA_MODEL)
    composer = chat.get_by_label("Message", exact=True)
    await composer.fill("hello there")
    await composer.press("Enter")
    log = chat.get_by_role("log")
    reply = log.locator(".msg.assistant").last
    await expect(reply).to_contain_text(REPLY)
    await expect(log).to_have_attribute("aria-busy", "false")
    await shot("the-picked-model-answered")

    # The paced server answered that turn (and, on a first turn, maybe its title too).
    assert (await app.model.stats())["text_replies"] > before["text_replies"]
    after_picked = await app.model.stats()

    # The default again: the offline model answers, the paced server is not asked.
    await picker.select_option("offline")
    await composer.fill("add buy milk")
    await composer.press("Enter")
    await expect(page.locator("#task-list li", has_text="Buy milk")).to_be_visible()
    await expect(log).to_have_attribute("aria-busy", "false")
    await expect(log.locator(".msg.assistant").last).not_to_contain_text("Picked-model-word")
    # The turn is over (its task is listed, the log idle): the paced server was not asked.
    assert (await app.model.stats())["requests"] == after_picked["requests"]
    await shot("the-default-answered-again")


# The CDN's ChatKit stand-in: it keeps the composer options the page gives it.
COMPOSER_KEEPING_CHATKIT = """
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) { window.chatkitComposer = options.composer; }
});
"""


async def test_the_chatkit_component_gets_both_models(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(chatkit_script=COMPOSER_KEEPING_CHATKIT)
    page = session.page
    await signed_up(page, new_email())
    await expect(page.locator("#chat-host")).to_have_attribute("data-mode", "chatkit")
    await page.wait_for_function("() => window.chatkitComposer !== undefined")
    models = await page.evaluate("() => window.chatkitComposer.models")
    assert [(model["id"], model["default"]) for model in models] == [
        ("offline", True),
        (EXTRA_MODEL, False),
    ]
    assert all(model["label"] for model in models)
