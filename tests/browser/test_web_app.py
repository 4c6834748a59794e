"""The web page in a real browser, the way a person uses it, against real processes (offline):
sign up, chat a task into existence, see it in the tasks panel, complete it with the card's
button, reload and find the conversation intact, sign out; the tasks panel on its own at phone
width; a deleted task brought back with Undo; and a rejected token sending the person back
to sign in."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Locator, Page, Route, expect
from todo_testkit.waiting import eventually

# The first test also waits for the four processes to start, which takes long on a busy machine.
pytestmark = pytest.mark.timeout(300)

PASSWORD = "correct horse battery staple"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# `await open_page(viewport=…)` → a BrowserSession (conftest): page, context, shot(step).
OpenPage = Callable[..., Awaitable[Any]]


async def sign_up(page: Page, email: str, name: str = "Ada") -> None:
    await page.get_by_role("button", name="Create an account").click()
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator("#app-view")).to_be_visible()
    await expect(page.locator("#user-name")).to_have_text(name)
    # The live feed is connected and the list fetch it starts with is done, so no request of
    # the page's own is still on its way when a test changes what the server answers.
    await page.wait_for_selector("body[data-feed=live]")
    await expect(page.locator("#task-list")).to_have_attribute("aria-busy", "false")


async def reload(page: Page) -> None:
    """Reloads once no token renewal is in flight (the page holds a Web Lock meanwhile):
    a renewal cut off by the reload could leave the browser with an already-rotated refresh
    token, whose reuse revokes the session — a real race, but not the one under test."""
    await page.wait_for_function("async () => (await navigator.locks.query()).held.length === 0")
    await page.reload()
    await page.wait_for_selector("body[data-ready=true]")


def task_row(page: Page, title: str) -> Locator:
    return page.locator("#task-list li", has=page.get_by_text(title, exact=True))


async def assert_buttons_inside(card: Locator) -> None:
    """Every button of a task card lies within the card's box (none spills past its edge)."""
    box = await card.bounding_box()
    assert box is not None
    buttons = card.get_by_role("button")
    assert await buttons.count() > 0
    for index in range(await buttons.count()):
        inner = await buttons.nth(index).bounding_box()
        assert inner is not None
        assert inner["x"] >= box["x"] and inner["y"] >= box["y"], (inner, box)
        assert inner["x"] + inner["width"] <= box["x"] + box["width"], (inner, box)
        assert inner["y"] + inner["height"] <= box["y"] + box["height"], (inner, box)


async def test_chat_adds_a_task_the_card_completes_it_and_history_survives_a_reload(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await shot("sign-in")

    await sign_up(page, new_email())
    chat = page.locator("#chat-panel")
    # Offline: the CDN script cannot load, so the built-in client takes its place.
    await expect(page.locator("#chat-host")).to_have_attribute("data-mode", "builtin")
    await expect(chat.get_by_role("button", name="What's due this week?")).to_be_visible()
    await expect(page.locator("#tasks-empty")).to_be_visible()
    await shot("signed-up")

    composer = chat.get_by_label("Message", exact=True)
    await composer.fill("add buy milk tomorrow, high priority #groceries")
    await composer.press("Enter")
    log = chat.get_by_role("log")
    await expect(log.locator(".msg.user")).to_have_text(
        re.compile("add buy milk tomorrow, high priority #groceries")
    )
    card = log.get_by_role("group", name="Task card")
    await expect(card).to_contain_text("Task added")
    await expect(card).to_contain_text("Buy milk")
    await expect(log.locator(".msg.assistant").last).to_contain_text("Added Buy milk")
    await expect(log).to_have_attribute("aria-busy", "false")
    # The thread got its title from the first message.
    await expect(chat.locator("#chat-thread-title")).to_have_text(
        "Add buy milk tomorrow, high priority #groceries"
    )
    # The chat's `tasks.changed` effect refreshed the tasks panel.
    row = task_row(page, "Buy milk")
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("High")
    await expect(row).to_contain_text("#groceries")
    # A due date without a time reads as the day alone, on the card as in the panel.
    await expect(card).to_contain_text(re.compile(r"Due \w{3} \d{1,2} \w{3}"))
    await expect(card).not_to_contain_text("23:59")
    await assert_buttons_inside(card)
    await shot("task-added-by-chat")

    await card.get_by_role("button", name="Complete “Buy milk”").click()
    await expect(card.get_by_role("button", name="Reopen “Buy milk”")).to_be_visible()
    await expect(card).to_contain_text("Done")
    # Completed: it leaves the panel's Open list, and shows under Done.
    await expect(row).to_have_count(0)
    await page.locator("#task-filter").get_by_text("Done").click()
    await expect(task_row(page, "Buy milk").get_by_role("checkbox")).to_be_checked()
    await shot("completed-with-card-button")

    await reload(page)
    # The refresh cookie restores the session; the conversation comes back as it was.
    await expect(page.locator("#app-view")).to_be_visible()
    log = page.locator("#chat-panel").get_by_role("log")
    await expect(log.locator(".msg.user")).to_have_text(
        re.compile("add buy milk tomorrow, high priority #groceries")
    )
    card = log.get_by_role("group", name="Task card")
    await expect(card.get_by_role("button", name="Reopen “Buy milk”")).to_be_visible()
    await expect(log.locator(".msg.assistant")).to_contain_text(["Added Buy milk"])
    history = page.locator("#chat-panel").get_by_role("button", name="History")
    await history.click()
    threads = page.locator("#chat-panel").get_by_role("list", name="Conversations")
    await expect(threads.get_by_role("button")).to_have_text(
        ["Add buy milk tomorrow, high priority #groceries"]
    )
    await shot("reloaded-history-intact")
    await page.keyboard.press("Escape")

    # A second message goes to the same thread.
    composer = page.locator("#chat-panel").get_by_label("Message", exact=True)
    await composer.fill("help")
    await composer.press("Enter")
    await expect(log.locator(".msg.user")).to_have_count(2)
    await expect(log.locator(".msg.assistant").last).to_contain_text("offline assistant")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.locator("#auth-message")).to_have_text("You are signed out.")
    await expect(page.locator("#task-list li")).to_have_count(0)
    await expect(page.locator("#chat-host")).to_be_empty()
    await shot("signed-out")
    # The refresh token was revoked: a reload stays signed out.
    await reload(page)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_tasks_panel_add_complete_rename_delete_at_phone_width(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(viewport=PHONE, color_scheme="dark")
    page, shot = session.page, session.shot
    await shot("sign-in-phone")
    await sign_up(page, new_email(), name="Bo")
    panel = page.locator("#tasks-panel")

    await panel.get_by_label("New task").fill("Water the plants")
    await panel.get_by_text("Due date, priority, tags").click()
    await panel.get_by_label("Due", exact=True).fill("2031-05-04")
    await panel.get_by_label("Priority").select_option("high")
    await panel.get_by_label("Tags").fill("home, garden")
    await panel.get_by_role("button", name="Add", exact=True).click()
    row = task_row(page, "Water the plants")
    await expect(row).to_contain_text("Due")
    await expect(row).to_contain_text("High")
    await expect(row).to_contain_text("#garden")
    await expect(panel.get_by_label("New task")).to_be_focused()
    await panel.get_by_label("New task").fill("Call mum")
    await panel.get_by_label("New task").press("Enter")
    await expect(task_row(page, "Call mum")).to_be_visible()
    await shot("added")

    # Tag filter.
    await panel.get_by_label("Tag", exact=True).fill("garden")
    await expect(page.locator("#task-list li")).to_have_count(1)
    await panel.get_by_label("Tag", exact=True).fill("")
    await expect(page.locator("#task-list li")).to_have_count(2)

    # Overdue and due-this-week filters (a task due in the past; the others are not due soon).
    await panel.get_by_label("New task").fill("Pay the old bill")
    await panel.get_by_label("Due", exact=True).fill("2020-01-06")
    await panel.get_by_label("New task").press("Enter")
    overdue = task_row(page, "Pay the old bill")
    await expect(overdue).to_contain_text("Overdue")
    await panel.locator("#task-filter").get_by_text("Overdue").click()
    await expect(page.locator("#task-list li")).to_have_count(1)
    await expect(overdue).to_be_visible()
    await panel.locator("#task-filter").get_by_text("This week").click()
    await expect(page.locator("#tasks-empty")).to_have_text("Nothing due this week.")
    await expect(page.locator("#task-list li")).to_have_count(0)
    await panel.locator("#task-filter").get_by_text("Open").click()
    await expect(page.locator("#task-list li")).to_have_count(3)
    await overdue.get_by_role("button", name="Delete “Pay the old bill”").click()
    await expect(page.locator("#task-list li")).to_have_count(2)

    # Inline rename: Enter saves (PATCH with If-Match), Escape would cancel.
    row = page.locator(f'#task-list li[data-task-id="{await row.get_attribute("data-task-id")}"]')
    await row.get_by_role("button", name="Rename “Water the plants”").click()
    rename = row.get_by_label("New title for “Water the plants”")
    await expect(rename).to_be_focused()
    await rename.fill("Water the orchids")
    await shot("renaming")
    await rename.press("Enter")
    row = task_row(page, "Water the orchids")
    await expect(row).to_be_visible()
    await expect(row.get_by_role("button", name="Rename “Water the orchids”")).to_be_focused()

    # Complete with the checkbox (keyboard), then find it under Done and reopen it.
    checkbox = row.get_by_role("checkbox", name="Water the orchids")
    await checkbox.focus()
    await page.keyboard.press("Space")
    await expect(row).to_have_count(0)
    await panel.locator("#task-filter").get_by_text("Done").click()
    done_row = task_row(page, "Water the orchids")
    await expect(done_row.get_by_role("checkbox")).to_be_checked()
    await shot("done-filter")
    await done_row.get_by_role("checkbox").click()
    await expect(done_row).to_have_count(0)
    await panel.locator("#task-filter").get_by_text("Open").click()
    await expect(task_row(page, "Water the orchids")).to_be_visible()

    # Delete.
    await task_row(page, "Call mum").get_by_role("button", name="Delete “Call mum”").click()
    await expect(task_row(page, "Call mum")).to_have_count(0)
    await expect(page.locator("#task-list li")).to_have_count(1)
    await shot("deleted")

    # What the panel shows is what the API has.
    await reload(page)
    await expect(page.locator("#task-list li")).to_have_count(1)
    await expect(task_row(page, "Water the orchids")).to_be_visible()
    # The chat panel is usable at this width too: a task card with its buttons.
    chat = page.locator("#chat-panel")
    await expect(chat.get_by_role("button", name="Help")).to_be_visible()
    await chat.get_by_label("Message", exact=True).fill("list my tasks")
    await chat.get_by_label("Message", exact=True).press("Enter")
    card = chat.get_by_role("group", name="Task card")
    await expect(card.get_by_role("button", name="Complete “Water the orchids”")).to_be_visible()
    await chat.get_by_role("log").scroll_into_view_if_needed()
    await assert_buttons_inside(card)
    await shot("chat-card-phone")


async def test_a_task_deleted_in_the_panel_comes_back_with_undo(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(viewport=DESKTOP)
    page = session.page
    await sign_up(page, new_email(), name="Una")
    panel = page.locator("#tasks-panel")
    await panel.get_by_label("New task").fill("Buy bread")
    await panel.get_by_label("New task").press("Enter")
    row = task_row(page, "Buy bread")
    await expect(row).to_be_visible()

    await row.get_by_role("button", name="Delete “Buy bread”").click()
    await expect(row).to_have_count(0)
    notice = panel.locator("#tasks-undo")
    await expect(notice).to_contain_text("Deleted “Buy bread”.")
    await session.shot("undo-offered")
    await notice.get_by_role("button", name="Undo").click()

    await expect(task_row(page, "Buy bread")).to_be_visible()
    await expect(notice).to_be_hidden()
    # The server has it back, not just the page.
    await reload(page)
    await expect(task_row(page, "Buy bread")).to_be_visible()


async def test_a_rejected_token_sends_the_person_back_to_sign_in(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    email = new_email()
    await sign_up(page, email)

    # The server stops accepting this browser's tokens: the access token is replaced by a
    # forged one on the way out, and the refresh cookie is gone, so renewing fails too.
    async def forge(route: Route) -> None:
        headers = {**route.request.headers, "authorization": "Bearer forged.token.value"}
        await route.continue_(headers=headers)

    await page.route(re.compile(r".*/api/tasks.*"), forge)
    await session.context.clear_cookies()
    await page.get_by_role("button", name="Reload tasks").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.locator("#auth-message")).to_have_text(
        "Your session has ended. Please sign in again."
    )
    await expect(page.locator("#task-list li")).to_have_count(0)
    await shot("sent-back-to-sign-in")

    # Signing in again works and brings the person back to their workspace.
    await page.unroute(re.compile(r".*/api/tasks.*"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("wrong password!")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#auth-message")).to_have_text("The email or password is incorrect.")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#app-view")).to_be_visible()
    await shot("signed-in-again")


async def test_the_built_in_chat_shows_the_assistants_steps(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    await sign_up(page, new_email())
    chat = page.locator("#chat-panel")
    await expect(page.locator("#chat-host")).to_have_attribute("data-mode", "builtin")
    composer = chat.get_by_label("Message", exact=True)
    log = chat.get_by_role("log")

    await composer.fill("add buy milk and call mom")
    await composer.press("Enter")
    await expect(log.locator(".msg.assistant").last).to_contain_text("Call mom")
    # The offline model says what it is, once.
    await expect(log.get_by_role("note")).to_have_text([re.compile("built-in offline assistant")])
    steps = log.get_by_role("group", name="Assistant steps")
    await expect(steps).to_have_count(1)
    # Done: collapsed to its summary; opening it lists the steps with their marks.
    summary = steps.locator("summary")
    await expect(summary).to_have_text("Added 2 tasks")
    await expect(steps.locator("details")).not_to_have_attribute("open", "")
    await summary.click()
    items = steps.get_by_role("listitem")
    await expect(items).to_have_text(
        [re.compile("✓\\s*Added 'Buy milk'"), re.compile("✓\\s*Added 'Call mom'")]
    )
    await expect(items.nth(0)).to_have_attribute("data-state", "done")
    await shot("workflow-done")

    # A failed call is marked failed, with the reason.
    await composer.fill("add " + "x" * 250)
    await composer.press("Enter")
    await expect(steps).to_have_count(2)
    failed = steps.nth(1)
    await expect(failed.locator("summary")).to_contain_text("Couldn't add")
    await failed.locator("summary").click()
    step = failed.get_by_role("listitem")
    await expect(step).to_have_attribute("data-state", "failed")
    await expect(step).to_contain_text("✗")
    await expect(step).to_contain_text("200 characters")
    await expect(log.get_by_role("note")).to_have_count(1)
    await shot("workflow-failed")

    # The steps survive a reload.
    await reload(page)
    log = page.locator("#chat-panel").get_by_role("log")
    steps = log.get_by_role("group", name="Assistant steps")
    await expect(steps.locator("summary")).to_have_text(
        ["Added 2 tasks", re.compile("Couldn't add")]
    )
    await steps.nth(0).locator("summary").click()
    await expect(steps.nth(0).get_by_role("listitem")).to_have_count(2)
    await shot("workflow-reloaded")


# A stand-in for OpenAI's `<openai-chatkit>` (its CDN is unreachable here): it records the
# options the page configures, so the test can drive them like the real component would.
FAKE_CHATKIT_SCRIPT = """
class FakeChatKit extends HTMLElement {
  setOptions(options) {
    window.chatkitOptions = options;
    this.textContent = "ChatKit web component";
  }
}
customElements.define("openai-chatkit", FakeChatKit);
"""


async def test_the_chatkit_web_component_is_configured_for_our_backend(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(viewport=DESKTOP, chatkit_script=FAKE_CHATKIT_SCRIPT)
    page, shot = session.page, session.shot
    await sign_up(page, new_email())
    await expect(page.locator("#chat-host")).to_have_attribute("data-mode", "chatkit")
    await expect(page.locator("openai-chatkit")).to_have_count(1)
    await expect(page.locator("#tasks-empty")).to_be_visible()  # the first load is done
    options = await page.evaluate(
        """() => {
          const o = window.chatkitOptions;
          return {
            url: o.api.url, domainKey: o.api.domainKey, hasFetch: typeof o.api.fetch,
            accent: o.theme.color.accent.primary, scheme: o.theme.colorScheme,
            prompts: o.startScreen.prompts.map((p) => p.label),
            tools: o.composer.tools.map((t) => t.id),
          };
        }"""
    )
    assert options == {
        "url": "/chatkit",
        "domainKey": "domain_pk_local_placeholder",
        "hasFetch": "function",
        "accent": "#2563eb",
        "scheme": "light",
        "prompts": ["Plan my day", "What's overdue?", "Brain dump"],
        "tools": ["brain_dump", "plan_day", "find_tasks"],
    }

    # The component calls the backend through the page's fetch, which adds the bearer token:
    # a message streams back, and a list of threads answers JSON.
    streamed = await page.evaluate(
        """async () => {
          const post = (body) => window.chatkitOptions.api.fetch("/chatkit", {
            method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify(body),
          });
          const input = {content: [{type: "input_text", text: "add water the ferns"}],
                         attachments: [], inference_options: {}};
          const reply = await post({type: "threads.create", params: {input}});
          const text = await reply.text();
          const list = await post({type: "threads.list", params: {}});
          return {status: reply.status, type: reply.headers.get("content-type").split(";")[0],
                  effect: text.includes('"tasks.changed"'),
                  threads: (await list.json()).data.length};
        }"""
    )
    assert streamed == {
        "status": 200,
        "type": "text/event-stream",
        "effect": True,
        "threads": 1,
    }
    # The live feed shows the chat's task in the panel without waiting for the component's
    # `chatkit.effect` event; the event (which refetches only while the feed is down) changes
    # nothing then.
    await expect(task_row(page, "Water the ferns")).to_be_visible()
    await page.evaluate(
        """() => document.querySelector("openai-chatkit").dispatchEvent(
             new CustomEvent("chatkit.effect", {detail: {name: "tasks.changed", data: {}}}))"""
    )
    await expect(task_row(page, "Water the ferns")).to_be_visible()

    # A rate-limited component gets a polite notice.
    await page.evaluate(
        """() => document.querySelector("openai-chatkit").dispatchEvent(
             new CustomEvent("chatkit.error", {detail: {error: new Error("HTTP 429")}}))"""
    )
    await expect(page.locator("#notice")).to_contain_text("busy right now")
    await shot("chatkit-component")


async def test_retry_after_the_assistant_was_unavailable(
    open_page: OpenPage, new_email: Callable[[], str], app: Any
) -> None:
    stack = app.own_stack("stops and restarts the agent process")
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    await sign_up(page, new_email())
    chat = page.locator("#chat-panel")
    log = chat.get_by_role("log")
    async with stack.stopped("agent"):
        composer = chat.get_by_label("Message", exact=True)
        await composer.fill("add buy bread")
        await composer.press("Enter")
        error = chat.locator(".chat-error")
        await expect(error).to_be_visible()
        retry = error.get_by_role("button", name="Retry")
        await expect(retry).to_be_visible()
        # The message is kept in the thread; only the answer is missing.
        await expect(log.locator(".msg.user")).to_have_text([re.compile("add buy bread")])
        await expect(log.locator(".msg.assistant")).to_have_count(0)
        await shot("assistant-unavailable")

    # The agent is serving again, but the edge's channel to it reconnects on its own back-off
    # (at most about a second): a retry in that window fails fast, as it should. So wait for
    # the state that matters — the edge's /readyz checks the agent through that same channel —
    # and then a single retry must answer.
    async def edge_reaches_the_agent() -> bool:
        async with httpx.AsyncClient(base_url=app.url, timeout=5) as http:
            return (await http.get("/readyz")).status_code == 200

    await eventually(edge_reaches_the_agent, within=30, what="the edge to reach the agent again")
    await retry.click()
    await expect(log.locator(".msg.assistant")).to_contain_text(["Added Buy bread"])
    await expect(error).to_be_hidden()
    await expect(log.locator(".msg.user")).to_have_count(1)
    await expect(task_row(page, "Buy bread")).to_be_visible()
    await shot("retried")


async def test_stop_cancels_a_reply_and_the_chat_goes_on(
    open_page: OpenPage, new_email: Callable[[], str], app: Any
) -> None:
    stack = app.own_stack("pauses the tasks process")
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    await sign_up(page, new_email())
    await expect(page.locator("#tasks-empty")).to_be_visible()
    chat = page.locator("#chat-panel")
    log = chat.get_by_role("log")
    composer = chat.get_by_label("Message", exact=True)
    stop = chat.get_by_role("button", name="Stop")
    # A paused tasks service keeps the assistant's tool call (and so the reply) waiting.
    tasks_pid = stack["tasks"].process.pid
    os.kill(tasks_pid, signal.SIGSTOP)
    try:
        await composer.fill("add call the plumber")
        await composer.press("Enter")
        await expect(chat.locator(".chat-progress")).to_have_text("Adding task…")
        await expect(stop).to_be_visible()
        await expect(chat.get_by_role("button", name="Send")).to_be_hidden()
        await shot("reply-in-progress")
        await stop.click()
        await expect(chat.get_by_role("button", name="Send")).to_be_visible()
        await expect(stop).to_be_hidden()
        await expect(chat.locator(".chat-progress")).to_have_text("Stopped.")
    finally:
        os.kill(tasks_pid, signal.SIGCONT)
    await expect(chat.locator(".chat-error")).to_be_hidden()
    await shot("stopped")
    # The conversation goes on in the same thread.
    await composer.fill("help")
    await composer.press("Enter")
    await expect(log.locator(".msg.assistant").last).to_contain_text("offline assistant")
    await expect(log.locator(".msg.user")).to_have_count(2)

    # A new conversation, then back to the first one through History.
    await chat.get_by_role("button", name="New chat").click()
    await expect(chat.get_by_role("button", name="What's due this week?")).to_be_visible()
    await expect(log.locator(".msg")).to_have_count(0)
    await chat.get_by_role("button", name="Help").click()
    await expect(log.locator(".msg.assistant")).to_have_count(1)
    await expect(chat.locator("#chat-thread-title")).to_have_text("Help")
    await chat.get_by_role("button", name="History").click()
    threads = chat.get_by_role("list", name="Conversations").get_by_role("button")
    # Newest first. (The stopped thread is titled after its first answered message.)
    await expect(threads).to_have_count(2)
    await expect(threads.first).to_have_text("Help")
    await expect(threads.first).to_have_attribute("aria-current", "true")
    await threads.nth(1).click()
    await expect(log.locator(".msg.user")).to_have_text(
        [re.compile("add call the plumber"), re.compile("help")]
    )


async def test_keyboard_only(open_page: OpenPage, new_email: Callable[[], str]) -> None:
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    keyboard = page.keyboard
    await expect(page.get_by_label("Email")).to_be_focused()
    # Focus order on the sign-in form: email, password, submit, then the switch to sign-up.
    await keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    await keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Create an account")).to_be_focused()
    await keyboard.press("Enter")
    await page.get_by_label("Your name").focus()
    await keyboard.type("Kay")
    await keyboard.press("Tab")
    await expect(page.get_by_label("Email")).to_be_focused()
    await keyboard.type(new_email())
    await keyboard.press("Tab")
    await keyboard.type(PASSWORD)
    await keyboard.press("Enter")
    await expect(page.locator("#app-view")).to_be_visible()

    # Signed in: focus starts in "New task"; Enter adds.
    await expect(page.get_by_label("New task")).to_be_focused()
    await keyboard.type("Book the dentist")
    await keyboard.press("Enter")
    row = task_row(page, "Book the dentist")
    await expect(row).to_be_visible()
    # Tab reaches the filters, the task's checkbox and its buttons, in reading order.
    checkbox = row.get_by_role("checkbox", name="Book the dentist")
    for _ in range(12):
        await keyboard.press("Tab")
        if await checkbox.evaluate("el => el === document.activeElement"):
            break
    await expect(checkbox).to_be_focused()
    await keyboard.press("Tab")
    await expect(row.get_by_role("button", name="Rename “Book the dentist”")).to_be_focused()
    await keyboard.press("Enter")
    await keyboard.press("Escape")  # cancels the rename, focus back on the button
    await expect(row.get_by_role("button", name="Rename “Book the dentist”")).to_be_focused()
    await keyboard.press("Tab")
    await expect(row.get_by_role("button", name="Delete “Book the dentist”")).to_be_focused()

    # The chat: a start prompt by keyboard, then the answer in the live log.
    chat = page.locator("#chat-panel")
    await chat.get_by_role("button", name="What's due this week?").focus()
    await keyboard.press("Enter")
    log = chat.get_by_role("log")
    await expect(log.locator(".msg.assistant").last).to_contain_text("due this week")
    await expect(chat.get_by_label("Message", exact=True)).to_be_focused()
    await shot("keyboard")


async def test_the_access_token_is_renewed_before_it_expires(
    open_page: OpenPage, new_email: Callable[[], str], app: Any
) -> None:
    app.own_stack("relies on the short token lifetime the suite gives its auth process")
    session = await open_page(viewport=DESKTOP)
    page = session.page
    # Tokens live 66 s here; the page renews a minute before expiry, through the cookie.
    async with page.expect_response(
        lambda response: (
            response.url.endswith("/api/auth/refresh") and response.request.method == "POST"
        ),
        timeout=30_000,
    ) as renewal:
        await sign_up(page, new_email())
    response = await renewal.value
    assert response.status == 200
    # The renewed token works.
    await page.get_by_label("New task").fill("Renew the passport")
    await page.get_by_label("New task").press("Enter")
    await expect(task_row(page, "Renew the passport")).to_be_visible()
    await expect(page.locator("#tasks-error")).to_be_empty()


async def test_a_change_in_one_tab_shows_in_another_and_a_weekly_task_comes_back(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    """Two tabs of one person, each with its live feed (GET /api/events): what one tab, the
    REST API or a completion does shows in the other without a reload."""
    session = await open_page(viewport=DESKTOP)
    first, shot = session.page, session.shot
    email = new_email()
    await sign_up(first, email)
    second = await session.context.new_page()
    await second.goto("/")
    await second.wait_for_selector("body[data-ready=true]")
    await expect(second.locator("#app-view")).to_be_visible()
    for page in (first, second):
        await page.wait_for_selector("body[data-feed=live]")

    panel = first.locator("#tasks-panel")
    await panel.get_by_label("New task").fill("Call the plumber")
    await panel.get_by_label("New task").press("Enter")
    await expect(task_row(second, "Call the plumber")).to_be_visible()

    # A weekly task made through the REST API shows in both tabs, saying it repeats.
    async with httpx.AsyncClient(base_url=session.url, timeout=15) as http:
        login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        token = login.json()["access_token"]
        created = await http.post(
            "/api/tasks",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "title": "Team sync",
                "due_time": "2031-01-06T09:00:00Z",
                "recurrence": "FREQ=WEEKLY;BYDAY=MO",
                "time_zone": "Europe/London",
            },
        )
        assert created.status_code == 201, created.text
    for page in (first, second):
        await expect(task_row(page, "Team sync")).to_contain_text("Repeats weekly on Mon")
        await expect(task_row(page, "Team sync")).to_contain_text("6 Jan 2031")

    # Completed in the second tab: the next occurrence appears in the first, a week later.
    await task_row(second, "Team sync").get_by_role("checkbox").check()
    await expect(first.locator("#task-list li", has_text="13 Jan 2031")).to_contain_text(
        "Repeats weekly on Mon"
    )
    # The completed occurrence leaves the Open list.
    await expect(task_row(first, "Team sync")).to_have_count(1)
    await shot("next-occurrence-from-the-other-tab")

    # Deleted in the first tab: gone from the second.
    await (
        task_row(first, "Call the plumber")
        .get_by_role("button", name="Delete “Call the plumber”")
        .click()
    )
    await expect(task_row(second, "Call the plumber")).to_have_count(0)
    await second.close()


async def test_a_reminder_arrives_once_as_a_notice_in_the_page(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    """A reminder a few seconds ahead reaches the open page through its live feed and shows
    once, as a notice in the page (the browser was not allowed to notify); a later reminder
    arriving after it shows the first was not repeated. The add form's "Remind me" sets one."""
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    email = new_email()
    await sign_up(page, email)

    async with httpx.AsyncClient(base_url=session.url, timeout=15) as http:
        login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        async def remind(title: str) -> dict[str, Any]:
            moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            created = await http.post(
                "/api/tasks",
                headers=headers,
                json={
                    "title": title,
                    "due_time": (moment + timedelta(hours=1)).isoformat(),
                    "reminders": [{"at": moment.isoformat()}],
                },
            )
            assert created.status_code == 201, created.text
            task: dict[str, Any] = created.json()
            return task

        stretch = await remind("Stretch your legs")
        notices = page.locator("#reminder-notices li")
        first = page.locator(f'#reminder-notices li[data-task-id="{stretch["id"]}"]')
        await expect(first).to_contain_text("Reminder")
        await expect(first).to_contain_text("Stretch your legs — due")
        await shot("reminder-notice")

        water = await remind("Drink water")
        await expect(
            page.locator(f'#reminder-notices li[data-task-id="{water["id"]}"]')
        ).to_be_visible()
        await expect(notices).to_have_count(2)
        await expect(first).to_have_count(1)
        await first.get_by_role("button", name="Dismiss the reminder for Stretch your legs").click()
        await expect(notices).to_have_count(1)

        # The add form's "Remind me" sets a reminder before the due time.
        panel = page.locator("#tasks-panel")
        await panel.get_by_text("Due date, priority, tags, reminder").click()
        await panel.get_by_label("Due", exact=True).fill("2031-01-06")
        await panel.get_by_label("Remind me").select_option(label="An hour before")
        await panel.get_by_label("New task").fill("Renew passport")
        await panel.get_by_label("New task").press("Enter")
        await expect(task_row(page, "Renew passport")).to_be_visible()
        listed = await http.get("/api/tasks", headers=headers, params={"query": "passport"})
        [renew] = listed.json()["tasks"]
        assert renew["reminders"] == [{"before": "PT1H"}]


async def test_an_at_mention_names_a_task_and_the_chat_acts_on_it(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    await sign_up(page, new_email())
    panel = page.locator("#tasks-panel")
    for title in ("Feed the parrot", "Water the ferns"):
        await panel.get_by_label("New task").fill(title)
        await panel.get_by_label("New task").press("Enter")
        await expect(task_row(page, title)).to_be_visible()
    chat = page.locator("#chat-panel")
    await expect(page.locator("#chat-host")).to_have_attribute("data-mode", "builtin")

    # "@parr" searches the person's tasks; picking one puts "@Feed the parrot" in the message.
    composer = chat.get_by_label("Message", exact=True)
    await composer.press_sequentially("complete @parr")
    suggestion = chat.get_by_role("listbox", name="Tasks").get_by_role("button")
    await expect(suggestion).to_have_text(["@Feed the parrot"])
    await shot("mention-suggestions")
    await suggestion.click()
    await expect(composer).to_have_value("complete @Feed the parrot ")
    await composer.press("Enter")

    log = chat.get_by_role("log")
    await expect(log.locator(".msg.user .mention-tag")).to_have_text("@Feed the parrot")
    await expect(log.get_by_role("group", name="Task card")).to_contain_text("Task completed")
    await expect(log).to_have_attribute("aria-busy", "false")
    # The assistant's text shows no task id.
    reply = await log.locator(".msg.assistant").last.inner_text()
    assert "[id" not in reply and not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", reply)
    await expect(task_row(page, "Feed the parrot")).to_have_count(0)  # done: off the Open list
    await expect(task_row(page, "Water the ferns")).to_be_visible()

    # A mention in the chat leads to the task in the panel.
    await composer.press_sequentially("show @fer")
    await chat.get_by_role("listbox", name="Tasks").get_by_role("button").click()
    await composer.press("Enter")
    tag = log.locator(".msg.user .mention-tag").last
    await expect(tag).to_have_text("@Water the ferns")
    await tag.click()
    await expect(task_row(page, "Water the ferns")).to_have_class(re.compile("highlighted"))
    await shot("mention-opens-the-task")


async def test_the_chatkit_component_gets_task_entities_and_the_model_list(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    session = await open_page(viewport=DESKTOP, chatkit_script=FAKE_CHATKIT_SCRIPT)
    page = session.page
    await sign_up(page, new_email())
    await expect(page.locator("#chat-host")).to_have_attribute("data-mode", "chatkit")
    panel = page.locator("#tasks-panel")
    await panel.get_by_label("New task").fill("Feed the parrot")
    await panel.get_by_label("New task").press("Enter")
    await expect(task_row(page, "Feed the parrot")).to_be_visible()

    found = await page.evaluate(
        """async () => {
          const entities = window.chatkitOptions.entities;
          const [hit] = await entities.onTagSearch("parrot");
          const none = await entities.onTagSearch("no such words here");
          const preview = await entities.onRequestPreview(hit);
          entities.onClick(hit);
          return {title: hit.title, type: hit.data.type, none: none.length,
                  preview: preview.preview.children[0].value,
                  models: window.chatkitOptions.composer.models || null};
        }"""
    )
    assert found == {
        "title": "Feed the parrot",
        "type": "task",
        "none": 0,
        "preview": "Feed the parrot",
        # One model (offline) runs: no picker is shown.
        "models": None,
    }
    await expect(task_row(page, "Feed the parrot")).to_have_class(re.compile("highlighted"))


async def test_a_bulk_reschedule_is_previewed_and_confirmed_in_the_chat(
    open_page: OpenPage, new_email: Callable[[], str]
) -> None:
    """ "push everything due today to tomorrow": the assistant shows a preview card listing the
    tasks with Confirm / Cancel and changes nothing; Confirm moves exactly those tasks (one
    added after the preview stays), and the card turns into the result."""
    session = await open_page(viewport=DESKTOP)
    page, shot = session.page, session.shot
    email = new_email()
    await sign_up(page, email)
    now = datetime.now(UTC)
    if now.hour == 23 and now.minute >= 50:
        pytest.skip("too close to midnight for 'today' to stay today during the test")
    soon = (now + timedelta(minutes=5)).replace(microsecond=0).isoformat()

    async with httpx.AsyncClient(base_url=session.url, timeout=15) as http:
        login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        async def add(title: str) -> str:
            created = await http.post(
                "/api/tasks", headers=headers, json={"title": title, "due_time": soon}
            )
            assert created.status_code == 201, created.text
            task_id: str = created.json()["id"]
            return task_id

        moved = [await add("Water the plants"), await add("Call the bank")]
        chat = page.locator("#chat-panel")
        composer = chat.get_by_label("Message", exact=True)
        await composer.fill("push everything due today to tomorrow")
        await composer.press("Enter")
        log = chat.get_by_role("log")
        card = log.get_by_role("group", name="Task card").last
        await expect(card).to_contain_text("Reschedule 2 tasks to tomorrow?")
        await expect(card).to_contain_text("Water the plants")
        await expect(card).to_contain_text("Call the bank")
        await expect(log).to_have_attribute("aria-busy", "false")
        await shot("bulk-preview")

        # Nothing has changed yet, and a task added after the preview is not part of it.
        late = await add("Added after the preview")
        listed = (await http.get("/api/tasks", headers=headers)).json()["tasks"]
        assert {task["due_time"][:10] for task in listed} == {soon[:10]}

        await card.get_by_role("button", name=re.compile("^Confirm")).click()
        await expect(card).to_contain_text("Rescheduled 2 tasks to tomorrow")
        await expect(card.get_by_role("button", name=re.compile("^Confirm"))).to_have_count(0)
        await shot("bulk-confirmed")

        tomorrow = (now + timedelta(days=1)).date().isoformat()
        after = {
            task["id"]: task["due_time"][:10]
            for task in (await http.get("/api/tasks", headers=headers)).json()["tasks"]
        }
        assert after == {moved[0]: tomorrow, moved[1]: tomorrow, late: soon[:10]}
