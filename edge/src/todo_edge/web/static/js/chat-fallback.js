// The built-in chat client, used when OpenAI's ChatKit web component cannot load (offline,
// blocked). It speaks the same ChatKit protocol to /chatkit: threads.list / get_by_id /
// items.list for history, threads.create / add_user_message for messages (SSE), retry after an
// error (threads.retry_after_item), widget buttons (threads.sync_custom_action or
// threads.custom_action, as each button's action asks), a Stop button that aborts the
// streaming request (the server keeps the partial answer), the assistant's steps (workflow
// items: a collapsible list, live and on reload) and notices.

import { ApiError, readProblem } from "./session.js";
import { announce, h, icon, ICONS } from "./dom.js";
import { readEvents } from "./sse.js";
import { renderWidget } from "./widgets.js";
import { searchTaskEntities, TASK_ENTITY } from "./task-entities.js";

const THREAD_PAGE = 30;
const ITEM_PAGE = 100;
const MAX_HISTORY_ITEMS = 1000;
const HIDDEN_ITEM_TYPES = new Set(["hidden_context_item", "sdk_hidden_context", "end_of_turn", "client_tool_call"]);

export const START_PROMPTS = [
  { label: "Add a task", prompt: "Add ", send: false },
  { label: "What's due this week?", prompt: "What's due this week?", send: true },
  { label: "Help", prompt: "help", send: true },
];

// ---- workflows (the assistant's steps; `chatkit/workflow.py` on the edge) ----

// ChatKit tasks have no "failed" state: the edge marks a failed step with this icon.
const FAILED_STEP_ICON = "lucide:circle-x";
const STEP_MARKS = { running: "…", done: "✓", failed: "✗" };
const STEP_LABELS = { running: "in progress", done: "done", failed: "failed" };

function stepState(task) {
  if (task.status_indicator === "loading") return "running";
  return task.icon === FAILED_STEP_ICON ? "failed" : "done";
}

/** A workflow item: its summary (or the running step) over a list of steps with marks. */
function renderWorkflow(item, streaming) {
  const workflow = item.workflow || {};
  const tasks = workflow.tasks || [];
  const states = tasks.map(stepState);
  const running = tasks.filter((_, i) => states[i] === "running").pop();
  const heading = workflow.summary?.title || running?.title || tasks[tasks.length - 1]?.title || "Working…";
  const failed = states.includes("failed");
  const steps = h(
    "ol",
    { class: "workflow-steps" },
    tasks.map((task, index) =>
      h(
        "li",
        { class: `workflow-step ${states[index]}`, dataset: { state: states[index] } },
        h("span", { class: "workflow-mark", "aria-hidden": "true" }, STEP_MARKS[states[index]]),
        h(
          "span",
          { class: "workflow-step-text" },
          h("span", { class: "workflow-step-title" }, task.title || ""),
          h("span", { class: "visually-hidden" }, ` (${STEP_LABELS[states[index]]})`),
          states[index] === "failed" && task.content ? h("span", { class: "workflow-reason" }, task.content) : null,
        ),
      ),
    ),
  );
  return h(
    "div",
    { class: `msg workflow${failed ? " has-failed" : ""}`, dataset: { itemId: item.id }, role: "group", "aria-label": "Assistant steps" },
    h(
      "details",
      { class: "workflow-box", open: streaming || Boolean(workflow.expanded) },
      h("summary", { class: "workflow-summary" }, heading),
      steps,
    ),
  );
}

function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function userText(item) {
  return (item.content || [])
    .map((part) => part.text || "")
    .join(" ")
    .trim();
}

function assistantText(item) {
  return (item.content || []).map((part) => part.text || "").join("\n\n");
}

export class FallbackChat {
  /**
   * @param {object} options
   * @param {import("./session.js").Session} options.session
   * @param {HTMLElement} options.root   where the chat UI goes
   * @param {string} options.apiUrl      the ChatKit endpoint (/chatkit)
   * @param {(name: string, data: object) => void} options.onEffect  client effects
   * @param {Array<{id: string, label: string, default?: boolean}>} [options.models]  the picker
   * @param {(taskId: string) => void} [options.onOpenTask]  a task mention was clicked
   */
  constructor({ session, root, apiUrl, onEffect, models, onOpenTask }) {
    this.session = session;
    this.root = root;
    this.apiUrl = apiUrl;
    this.onEffect = onEffect || (() => {});
    this.threads = [];
    this.threadsAfter = null;
    this.threadId = null;
    this.items = new Map(); // item id → { item, el }
    this.streaming = null; // { controller, stopped }
    this.lastUserItemId = null;
    this.loadGeneration = 0;
    this.models = models || [];
    this.onOpenTask = onOpenTask || (() => {});
    this.mentions = []; // { id, title } picked from the @-suggestions for the next message
    this._build();
    this._buildMentionsAndModels();
  }

  get storageKey() {
    return `todo-assistant.thread.${this.session.user?.id || "me"}`;
  }

  // ---- UI ----

  _build() {
    const historyId = "chat-history-panel";
    this.historyButton = h(
      "button",
      {
        type: "button",
        class: "button ghost small",
        "aria-expanded": "false",
        "aria-controls": historyId,
        onclick: () => this._toggleHistory(),
      },
      icon(ICONS.history),
      h("span", { class: "button-label" }, "History"),
    );
    this.newButton = h(
      "button",
      { type: "button", class: "button ghost small", onclick: () => this.newThread() },
      icon(ICONS.plus),
      h("span", { class: "button-label" }, "New chat"),
    );
    this.threadTitle = h("h3", { class: "chat-thread-title", id: "chat-thread-title" }, "New chat");
    this.threadList = h("ul", { class: "thread-list", "aria-label": "Conversations" });
    this.moreThreads = h(
      "button",
      { type: "button", class: "button ghost small wide", hidden: true, onclick: () => this.loadThreads(true) },
      "Show older conversations",
    );
    this.historyPanel = h(
      "div",
      { class: "history-panel", id: historyId, hidden: true },
      h("p", { class: "history-heading" }, "Conversations"),
      this.threadList,
      this.moreThreads,
    );
    this.historyPanel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        this._toggleHistory(false);
        this.historyButton.focus();
      }
    });

    this.log = h("div", {
      class: "chat-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions text",
      "aria-labelledby": "chat-thread-title",
      "aria-busy": "false",
      tabindex: "0",
    });
    this.start = h(
      "div",
      { class: "start-screen" },
      h("p", { class: "start-greeting" }, "Hi! What needs doing?"),
      h(
        "div",
        { class: "start-prompts" },
        START_PROMPTS.map((prompt) =>
          h(
            "button",
            { type: "button", class: "button prompt", onclick: () => this._usePrompt(prompt) },
            prompt.label,
          ),
        ),
      ),
    );
    this.progress = h("p", { class: "chat-progress", role: "status", "aria-live": "polite" });
    this.errorText = h("span", { class: "chat-error-text" });
    this.retryButton = h(
      "button",
      { type: "button", class: "button small", hidden: true, onclick: () => this.retry() },
      icon(ICONS.retry),
      "Retry",
    );
    this.errorBox = h("div", { class: "chat-error", role: "alert", hidden: true }, this.errorText, this.retryButton);

    this.input = h("textarea", {
      id: "chat-input",
      class: "chat-input",
      rows: "1",
      maxlength: "8000",
      placeholder: "Message the assistant…",
      "aria-describedby": "chat-input-hint",
      autocomplete: "off",
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      } else if (event.key === "Escape" && this.streaming) {
        event.preventDefault();
        this.stop();
      }
    });
    this.input.addEventListener("input", () => this._autosize());
    this.sendButton = h("button", { type: "submit", class: "button primary send-button" }, icon(ICONS.send), "Send");
    this.stopButton = h(
      "button",
      { type: "button", class: "button danger-outline stop-button", hidden: true, onclick: () => this.stop() },
      icon(ICONS.stop),
      "Stop",
    );
    this.composer = h(
      "form",
      { class: "composer", "aria-label": "Message the assistant" },
      h("label", { for: "chat-input", class: "visually-hidden" }, "Message"),
      this.input,
      this.sendButton,
      this.stopButton,
      h(
        "p",
        { class: "visually-hidden", id: "chat-input-hint" },
        "Enter sends, Shift+Enter starts a new line, Escape stops a reply.",
      ),
    );
    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });

    const ui = h(
      "div",
      { class: "fallback-chat" },
      h(
        "div",
        { class: "chat-toolbar" },
        this.threadTitle,
        h("div", { class: "chat-toolbar-actions" }, this.historyButton, this.newButton),
      ),
      this.historyPanel,
      h("div", { class: "chat-scroll" }, this.start, this.log),
      this.progress,
      this.errorBox,
      this.composer,
    );
    this.root.replaceChildren(ui);
    this._outsideClick = (event) => {
      if (!this.historyPanel.hidden && !this.historyPanel.contains(event.target) && !this.historyButton.contains(event.target)) {
        this._toggleHistory(false);
      }
    };
    document.addEventListener("click", this._outsideClick);
  }

  destroy() {
    this.streaming?.controller.abort();
    document.removeEventListener("click", this._outsideClick);
    this.root.replaceChildren();
  }

  _autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  _toggleHistory(open = this.historyPanel.hidden) {
    this.historyPanel.hidden = !open;
    this.historyButton.setAttribute("aria-expanded", String(open));
    if (open) {
      this.loadThreads(false);
      (this.threadList.querySelector("[aria-current=true]") || this.threadList.querySelector("button"))?.focus();
    }
  }

  _usePrompt(prompt) {
    if (prompt.send) {
      this.send(prompt.prompt);
    } else {
      this.input.value = prompt.prompt;
      this._autosize();
      this.input.focus();
      this.input.setSelectionRange(this.input.value.length, this.input.value.length);
    }
  }

  _setStreaming(active) {
    this.sendButton.hidden = active;
    this.stopButton.hidden = !active;
    this.newButton.disabled = active;
    this.root.dataset.streaming = active ? "true" : "false";
    if (!active) {
      this.progress.textContent = "";
      this.log.setAttribute("aria-busy", "false");
    }
  }

  _showError(message, retryable) {
    this.errorText.textContent = message;
    this.retryButton.hidden = !(retryable && this.threadId && this.lastUserItemId);
    this.errorBox.hidden = false;
  }

  _clearError() {
    this.errorBox.hidden = true;
    this.errorText.textContent = "";
  }

  _scrollToEnd() {
    const scroller = this.log.parentElement;
    scroller.scrollTop = scroller.scrollHeight;
  }

  _updateStart() {
    this.start.hidden = this.items.size > 0 || this.log.querySelector(".msg") !== null;
  }

  _setTitle(title) {
    this.threadTitle.textContent = title || "New chat";
  }

  // ---- protocol ----

  async _request(type, params) {
    const response = await this.session.fetch(this.apiUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-Time-Zone": timeZone() },
      body: JSON.stringify({ type, params }),
    });
    if (!response.ok) throw new ApiError(response.status, await readProblem(response));
    return response.json();
  }

  /** Runs one streaming operation, dispatching its events. */
  async _stream(type, params, { pendingEl = null } = {}) {
    const controller = new AbortController();
    const run = { controller, stopped: false };
    this.streaming = run;
    this._setStreaming(true);
    this._clearError();
    let failed = null;
    try {
      const response = await this.session.fetch(this.apiUrl, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/event-stream",
          "X-Time-Zone": timeZone(),
        },
        body: JSON.stringify({ type, params }),
        signal: controller.signal,
      });
      if (!response.ok) {
        const error = new ApiError(response.status, await readProblem(response));
        throw error;
      }
      for await (const event of readEvents(response)) {
        this._handle(event, pendingEl);
        pendingEl = this._pendingAfter(event, pendingEl);
      }
    } catch (error) {
      failed = error;
    } finally {
      this.streaming = null;
      this._setStreaming(false);
      this._finishOpenMessages(run.stopped);
    }
    if (failed) {
      if (failed instanceof ApiError && failed.status === 401) return; // back to sign-in
      // The message never reached the thread: give the text back instead of offering a retry
      // (which would answer the previous message again).
      const unsent = pendingEl !== null;
      if (unsent) {
        pendingEl.remove();
        if (!this.input.value) this.input.value = pendingEl.dataset.text || "";
      }
      if (run.stopped || failed.name === "AbortError") {
        announce(this.progress, "Stopped.");
      } else if (failed instanceof ApiError) {
        const wait = failed.status === 429 && failed.retryAfter ? ` Try again in ${failed.retryAfter} s.` : "";
        this._showError(
          failed.status === 429 ? `You're sending messages quickly — please wait a moment.${wait}` : failed.message,
          !unsent && (failed.status === 429 || failed.status >= 500),
        );
      } else if (unsent) {
        this._showError("Could not reach the assistant. Check your connection and send again.", false);
      } else {
        this._showError("The connection was interrupted before the reply finished.", true);
      }
    }
    this._updateStart();
  }

  _pendingAfter(event, pendingEl) {
    if (pendingEl && event.type === "thread.item.done" && event.item?.type === "user_message") return null;
    return pendingEl;
  }

  _handle(event, pendingEl) {
    switch (event.type) {
      case "thread.created":
        this._threadCreated(event.thread);
        break;
      case "thread.updated":
        this._threadUpdated(event.thread);
        break;
      case "thread.item.added":
        this._upsertItem(event.item, { streaming: true });
        break;
      case "thread.item.updated":
        this._itemUpdated(event.item_id, event.update);
        break;
      case "thread.item.done":
        if (event.item?.type === "user_message" && pendingEl) pendingEl.remove();
        this._upsertItem(event.item, { streaming: false });
        break;
      case "thread.item.replaced":
        this._upsertItem(event.item, { streaming: false });
        break;
      case "thread.item.removed":
        this._removeItem(event.item_id);
        break;
      case "progress_update":
        this.progress.textContent = event.text || "";
        break;
      case "client_effect":
        this.onEffect(event.name, event.data || {});
        break;
      case "error":
        this._showError(event.message || "Something went wrong while answering.", Boolean(event.allow_retry));
        break;
      case "notice":
        this._notice(event);
        break;
      case "stream_options":
        this.stopButton.disabled = event.stream_options?.allow_cancel === false;
        break;
      default:
        break; // events this client does not show (images…)
    }
  }

  _notice(event) {
    const el = h(
      "div",
      { class: `msg notice notice-${event.level || "info"}`, role: "note" },
      event.title ? h("strong", {}, `${event.title} `) : null,
      event.message || "",
    );
    this.log.append(el);
    this._scrollToEnd();
  }

  _threadCreated(thread) {
    this.threadId = thread.id;
    this._remember(thread.id);
    this._setTitle(thread.title);
    if (!this.threads.some((t) => t.id === thread.id)) this.threads.unshift(thread);
    this._renderThreads();
  }

  _threadUpdated(thread) {
    const known = this.threads.find((t) => t.id === thread.id);
    if (known) Object.assign(known, { title: thread.title });
    else this.threads.unshift(thread);
    if (thread.id === this.threadId) this._setTitle(thread.title);
    this._renderThreads();
  }

  _remember(threadId) {
    try {
      if (threadId) localStorage.setItem(this.storageKey, threadId);
      else localStorage.removeItem(this.storageKey);
    } catch {
      // Storage disabled: history still works through the thread list.
    }
  }

  _remembered() {
    try {
      return localStorage.getItem(this.storageKey);
    } catch {
      return null;
    }
  }

  // ---- items ----

  _renderItem(item, streaming) {
    switch (item.type) {
      case "user_message":
        return h(
          "div",
          { class: "msg user", dataset: { itemId: item.id } },
          h("span", { class: "visually-hidden" }, "You said: "),
          h("div", { class: "bubble" }, this._userContent(item)),
        );
      case "assistant_message": {
        const el = h(
          "div",
          { class: `msg assistant${streaming ? " streaming" : ""}`, dataset: { itemId: item.id } },
          h("span", { class: "visually-hidden" }, "Assistant: "),
          h("div", { class: "bubble" }, assistantText(item)),
        );
        return el;
      }
      case "widget": {
        const widget = renderWidget(item.widget, (action, button) => this._action(item.id, action, button));
        return h(
          "div",
          { class: "msg widget", dataset: { itemId: item.id }, role: "group", "aria-label": "Task card" },
          widget,
        );
      }
      case "task":
        return h("div", { class: "msg assistant task-note", dataset: { itemId: item.id } }, item.task?.title || item.task?.content || "");
      case "workflow":
        return renderWorkflow(item, streaming);
      default:
        return null;
    }
  }

  _upsertItem(item, { streaming }) {
    if (!item || HIDDEN_ITEM_TYPES.has(item.type)) return;
    const existing = this.items.get(item.id);
    const el = this._renderItem(item, streaming);
    if (!el) return;
    if (existing) {
      existing.el.replaceWith(el);
    } else {
      this.log.append(el);
    }
    this.items.set(item.id, { item, el });
    if (item.type === "user_message") this.lastUserItemId = item.id;
    if (item.type === "assistant_message") {
      // Screen readers wait while the text streams, then read the whole message once.
      this.log.setAttribute("aria-busy", streaming ? "true" : "false");
    }
    this._updateStart();
    this._scrollToEnd();
  }

  _itemUpdated(itemId, update) {
    const entry = this.items.get(itemId);
    if (!entry || !update) return;
    const { item, el } = entry;
    if (item.type === "assistant_message") {
      const index = update.content_index ?? 0;
      item.content = item.content || [];
      if (update.type === "assistant_message.content_part.added") {
        item.content[index] = update.content || { type: "output_text", text: "" };
      } else if (update.type === "assistant_message.content_part.text_delta") {
        item.content[index] = item.content[index] || { type: "output_text", text: "" };
        item.content[index].text += update.delta || "";
      } else if (update.type === "assistant_message.content_part.done") {
        item.content[index] = update.content;
      }
      el.querySelector(".bubble").textContent = assistantText(item);
      this.progress.textContent = "";
      this._scrollToEnd();
    } else if (item.type === "widget" && update.type === "widget.root.updated") {
      item.widget = update.widget;
      this._upsertItem(item, { streaming: true });
    } else if (item.type === "workflow") {
      this._workflowUpdated(item, update);
    }
  }

  /** A step added to or changed in a workflow that is still streaming. */
  _workflowUpdated(item, update) {
    const tasks = (item.workflow = item.workflow || { type: "custom", tasks: [] }).tasks || [];
    item.workflow.tasks = tasks;
    if (update.type === "workflow.task.added") {
      tasks.splice(update.task_index ?? tasks.length, 0, update.task);
    } else if (update.type === "workflow.task.updated") {
      tasks[update.task_index] = update.task;
    } else {
      return;
    }
    const open = this.items.get(item.id)?.el.querySelector("details")?.open;
    this._upsertItem(item, { streaming: open !== false });
  }

  _removeItem(itemId) {
    const entry = this.items.get(itemId);
    if (!entry) return;
    entry.el.remove();
    this.items.delete(itemId);
    this._updateStart();
  }

  _finishOpenMessages(stopped) {
    for (const { el } of this.items.values()) {
      if (el.classList.contains("streaming")) {
        el.classList.remove("streaming");
        if (stopped) el.classList.add("stopped");
      }
    }
    this.log.setAttribute("aria-busy", "false");
  }

  _clearItems() {
    this.items.clear();
    this.log.replaceChildren();
    this.lastUserItemId = null;
    this._clearError();
    this._updateStart();
  }

  // ---- actions ----

  async send(text = this.input.value) {
    const message = text.trim();
    if (!message || this.streaming) return;
    this.input.value = "";
    this._autosize();
    const pending = h(
      "div",
      { class: "msg user pending", dataset: { text: message } },
      h("span", { class: "visually-hidden" }, "You said: "),
      h("div", { class: "bubble" }, message),
    );
    this.log.append(pending);
    this._updateStart();
    this._scrollToEnd();
    const input = {
      content: this._messageContent(message),
      attachments: [],
      inference_options: this._inferenceOptions(),
    };
    this.mentions = [];
    if (this.threadId) {
      await this._stream("threads.add_user_message", { thread_id: this.threadId, input }, { pendingEl: pending });
    } else {
      await this._stream("threads.create", { input }, { pendingEl: pending });
    }
    this.input.focus();
  }

  stop() {
    if (!this.streaming) return;
    this.streaming.stopped = true;
    this.streaming.controller.abort();
  }

  /** Answers the last user message again (after an error): later items are dropped first. */
  async retry() {
    if (!this.threadId || !this.lastUserItemId || this.streaming) return;
    const itemId = this.lastUserItemId;
    let after = false;
    for (const [id, entry] of [...this.items.entries()]) {
      if (after) {
        entry.el.remove();
        this.items.delete(id);
      }
      if (id === itemId) after = true;
    }
    this.log.querySelectorAll(".notice").forEach((el) => el.remove());
    await this._stream("threads.retry_after_item", { thread_id: this.threadId, item_id: itemId });
    this.input.focus();
  }

  /** A widget button. Non-streaming actions may run while a reply streams. */
  async _action(itemId, action, button) {
    if (!this.threadId) return;
    const params = {
      thread_id: this.threadId,
      item_id: itemId,
      action: { type: action.type, payload: action.payload ?? {} },
    };
    if (action.streaming === false) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        const result = await this._request("threads.sync_custom_action", params);
        if (result.updated_item) this._upsertItem(result.updated_item, { streaming: false });
        // The sync answer carries no client effect: the page refreshes its task list itself.
        this.onEffect("tasks.changed", { task_ids: [action.payload?.task_id].filter(Boolean) });
        this._clearError();
      } catch (error) {
        if (button.isConnected) {
          button.disabled = false;
          button.removeAttribute("aria-busy");
        }
        if (!(error instanceof ApiError && error.status === 401)) {
          this._showError(error instanceof ApiError ? error.message : "That did not work. Try again.", false);
        }
      }
      return;
    }
    if (this.streaming) return;
    await this._stream("threads.custom_action", params);
  }

  // ---- threads ----

  async startChat() {
    await this.loadThreads(false);
    const remembered = this._remembered();
    if (remembered) {
      const ok = await this.openThread(remembered, { quiet: true });
      if (ok) return;
      this._remember(null);
    }
    this.newThread({ focus: false });
  }

  async loadThreads(more) {
    try {
      const params = { limit: THREAD_PAGE, order: "desc" };
      if (more && this.threadsAfter) params.after = this.threadsAfter;
      const page = await this._request("threads.list", params);
      const data = page.data || [];
      this.threads = more ? [...this.threads, ...data] : data;
      this.threadsAfter = page.has_more ? page.after : null;
      this.moreThreads.hidden = !page.has_more;
      this._renderThreads();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) {
        this.threadList.replaceChildren(h("li", { class: "muted" }, "Could not load conversations."));
      }
    }
  }

  _renderThreads() {
    if (!this.threads.length) {
      this.threadList.replaceChildren(h("li", { class: "muted" }, "No conversations yet."));
      return;
    }
    this.threadList.replaceChildren(
      ...this.threads.map((thread) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "thread-button",
              "aria-current": thread.id === this.threadId ? "true" : null,
              onclick: () => {
                this._toggleHistory(false);
                this.openThread(thread.id).then(() => this.input.focus());
              },
            },
            thread.title || "New chat",
          ),
        ),
      ),
    );
  }

  newThread({ focus = true } = {}) {
    if (this.streaming) return;
    this.loadGeneration += 1;
    this.threadId = null;
    this._remember(null);
    this._setTitle(null);
    this._clearItems();
    this._renderThreads();
    this._toggleHistory(false);
    if (focus) this.input.focus();
  }

  /** Shows a stored thread with its whole history. False when it cannot be loaded. */
  async openThread(threadId, { quiet = false } = {}) {
    if (this.streaming) return false;
    const generation = ++this.loadGeneration;
    try {
      const thread = await this._request("threads.get_by_id", { thread_id: threadId });
      const items = [...(thread.items?.data || [])];
      let page = thread.items || {};
      while (page.has_more && page.after && items.length < MAX_HISTORY_ITEMS) {
        page = await this._request("items.list", {
          thread_id: threadId,
          after: page.after,
          order: "asc",
          limit: ITEM_PAGE,
        });
        items.push(...(page.data || []));
      }
      if (generation !== this.loadGeneration) return false;
      this._clearItems();
      this.threadId = thread.id;
      this._remember(thread.id);
      this._setTitle(thread.title);
      for (const item of items) this._upsertItem(item, { streaming: false });
      this._renderThreads();
      return true;
    } catch (error) {
      if (!quiet && !(error instanceof ApiError && error.status === 401)) {
        this._showError(error instanceof ApiError && error.status === 404 ? "That conversation no longer exists." : "Could not load that conversation.", false);
      }
      return false;
    }
  }

  // ---- @-mentions of tasks and the model picker ----

  _buildMentionsAndModels() {
    this.suggestions = h("ul", { class: "mention-suggestions", role: "listbox", "aria-label": "Tasks", hidden: true });
    this.composer.before(this.suggestions);
    let timer = null;
    this.input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this._suggestMentions(), 150);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.suggestions.hidden) {
        event.stopPropagation();
        this.suggestions.hidden = true;
      }
    });
    this.modelPicker = null;
    if (this.models.length > 1) {
      this.modelPicker = h(
        "select",
        { class: "model-picker", "aria-label": "Model", title: "Model" },
        this.models.map((model) =>
          h("option", { value: model.id, title: model.description || "", selected: model.default || undefined }, model.label),
        ),
      );
      this.sendButton.before(this.modelPicker);
    }
  }

  /** The "@words" being typed just before the caret, or null. */
  _mentionQuery() {
    const before = this.input.value.slice(0, this.input.selectionStart ?? this.input.value.length);
    const match = /(?:^|\s)@([^@\n]{0,40})$/.exec(before);
    return match ? { query: match[1], start: before.length - match[1].length - 1 } : null;
  }

  async _suggestMentions() {
    const typed = this._mentionQuery();
    if (!typed) {
      this.suggestions.hidden = true;
      return;
    }
    const found = await searchTaskEntities(this.session, typed.query);
    if (this._mentionQuery()?.query !== typed.query) return; // typed on meanwhile
    this.suggestions.replaceChildren(
      ...found.map((entity) =>
        h(
          "li",
          { role: "option" },
          h(
            "button",
            { type: "button", class: "button ghost small", onclick: () => this._pickMention(entity, typed) },
            `@${entity.title}`,
          ),
        ),
      ),
    );
    this.suggestions.hidden = found.length === 0;
  }

  _pickMention(entity, typed) {
    const value = this.input.value;
    const end = typed.start + 1 + typed.query.length;
    const inserted = `@${entity.title} `;
    this.input.value = value.slice(0, typed.start) + inserted + value.slice(end);
    this.mentions.push({ id: entity.id, title: entity.title });
    this.suggestions.hidden = true;
    const caret = typed.start + inserted.length;
    this.input.focus();
    this.input.setSelectionRange(caret, caret);
  }

  /** The message as ChatKit content: text, with each picked "@Title" as a task tag. */
  _messageContent(message) {
    const content = [];
    let rest = message;
    while (rest) {
      let next = null;
      for (const mention of this.mentions) {
        const at = rest.indexOf(`@${mention.title}`);
        if (at >= 0 && (next === null || at < next.at)) next = { at, mention };
      }
      if (!next) {
        content.push({ type: "input_text", text: rest });
        break;
      }
      if (next.at > 0) content.push({ type: "input_text", text: rest.slice(0, next.at) });
      const { id, title } = next.mention;
      content.push({ type: "input_tag", id, text: title, data: { type: TASK_ENTITY }, interactive: true });
      rest = rest.slice(next.at + title.length + 1);
    }
    return content;
  }

  _inferenceOptions() {
    const picked = this.modelPicker?.value;
    const fallback = this.models.find((model) => model.default)?.id;
    return picked && picked !== fallback ? { model: picked } : {};
  }

  /** A user message's text, its task tags shown as "@Title" (a click opens the task). */
  _userContent(item) {
    return (item.content || []).map((part) => {
      if (part.type !== "input_tag") return part.text || "";
      const tag = h("span", { class: "mention-tag", role: "link", tabindex: "0" }, `@${part.text}`);
      if (part.data?.type === TASK_ENTITY) {
        tag.addEventListener("click", () => this.onOpenTask(part.id));
        tag.addEventListener("keydown", (event) => {
          if (event.key === "Enter") this.onOpenTask(part.id);
        });
      }
      return tag;
    });
  }
}
