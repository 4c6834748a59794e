// The tasks panel: the person's tasks from /api/tasks with filters, add, complete/reopen,
// delete and inline rename (PATCH with If-Match, so a rename never overwrites a change made
// elsewhere — a 412 reloads the list instead). Changes made anywhere else (another tab or
// device, the chat, a card button, a repeating task's next occurrence) arrive through the live
// change feed (`TaskFeed`, GET /api/events) and are applied row by row (`applyEvent`).

import { ApiError } from "./session.js";
import { announce, h, icon, ICONS } from "./dom.js";
import { readFrames } from "./sse.js";

const PAGE_SIZE = 50;
// How long the "Deleted … Undo" notice stays (the server allows undo for longer).
const UNDO_NOTICE_MS = 30_000;

/** A date without a time means "by the end of that day", like the assistant says it. */
const END_OF_DAY = { hours: 23, minutes: 59 };

function startOfDay(date) {
  const d = new Date(date);
  d.setHours(0, 0, 0, 0);
  return d;
}

/** Monday 00:00 of this week and of the next, in local time. */
function thisWeek(now = new Date()) {
  const start = startOfDay(now);
  const sinceMonday = (start.getDay() + 6) % 7;
  start.setDate(start.getDate() - sinceMonday);
  const end = new Date(start);
  end.setDate(end.getDate() + 7);
  return { start, end };
}

/** `Sat 22 Nov`, with the time unless it is the end of the day, and the year if not this one. */
export function formatDue(iso, now = new Date()) {
  const due = new Date(iso);
  const options = { weekday: "short", day: "numeric", month: "short" };
  if (due.getFullYear() !== now.getFullYear()) options.year = "numeric";
  let text = due.toLocaleDateString(undefined, options);
  const endOfDay = due.getHours() === END_OF_DAY.hours && due.getMinutes() === END_OF_DAY.minutes;
  const midnight = due.getHours() === 0 && due.getMinutes() === 0;
  if (!endOfDay && !midnight) {
    text += `, ${due.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}`;
  }
  return text;
}

function dueFromDateInput(value) {
  if (!value) return undefined;
  const [year, month, day] = value.split("-").map(Number);
  const due = new Date(year, month - 1, day, END_OF_DAY.hours, END_OF_DAY.minutes);
  return due.toISOString();
}

function parseTags(text) {
  const tags = text
    .split(",")
    .map((tag) => tag.trim().replace(/^#/, ""))
    .filter(Boolean);
  return [...new Set(tags)];
}

function problemText(error) {
  if (!(error instanceof ApiError)) return "Something went wrong. Try again.";
  const fields = error.fieldErrors.map((e) => e.message).filter(Boolean);
  return fields.length ? `${error.message} ${fields.join(" ")}` : error.message;
}

const FEED_RETRY_MS = 1000;
const FEED_MAX_RETRY_MS = 15_000;

/**
 * The signed-in person's live change feed: GET /api/events read with fetch (so it carries the
 * bearer token and renews it on 401), reconnecting after it ends (streams are bounded) or
 * fails, with `Last-Event-ID` so nothing is missed. `onReady(resumed)` is called each time the
 * stream is live (`resumed` false: the caller should refetch, changes may have been missed);
 * `onEvent(change)` for every change.
 */
export class TaskFeed {
  constructor(session, { onReady, onEvent, onReminder }) {
    this.session = session;
    this.onReady = onReady;
    this.onEvent = onEvent;
    this.onReminder = onReminder;
    this.lastId = null;
    this.live = false;
    this.running = false;
    this.controller = null;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.lastId = null;
    this._run();
  }

  stop() {
    this.running = false;
    this.live = false;
    this.controller?.abort();
  }

  async _run() {
    let delay = FEED_RETRY_MS;
    while (this.running && this.session.signedIn) {
      this.controller = new AbortController();
      try {
        const headers = { Accept: "text/event-stream" };
        if (this.lastId) headers["Last-Event-ID"] = this.lastId;
        const response = await this.session.fetch("/api/events", { headers, signal: this.controller.signal });
        if (!response.ok) throw new Error(`event stream answered ${response.status}`);
        for await (const frame of readFrames(response)) {
          if (!this.running) break;
          const resumed = this.lastId !== null;
          if (frame.id) this.lastId = frame.id;
          if (frame.event === "ready") {
            this.live = true;
            delay = FEED_RETRY_MS;
            this.onReady(resumed);
          } else if (frame.event === "task") {
            this.onEvent(frame.data);
          } else if (frame.event === "reminder") {
            this.onReminder?.(frame.data);
          }
        }
      } catch (error) {
        if (!this.running) return;
        console.debug("task feed interrupted", error);
      }
      this.live = false;
      if (!this.running) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, FEED_MAX_RETRY_MS);
    }
    this.running = false;
  }
}

export class TasksPanel {
  constructor(session, root) {
    this.session = session;
    this.root = root;
    this.list = root.querySelector("#task-list");
    this.empty = root.querySelector("#tasks-empty");
    this.more = root.querySelector("#tasks-more");
    this.error = root.querySelector("#tasks-error");
    this.status = root.querySelector("#tasks-status");
    this.addForm = root.querySelector("#task-add-form");
    this.tagInput = root.querySelector("#tag-filter");
    // After a delete: "Deleted “…”. Undo" until the next delete, an undo, or a while passes.
    this.undoNotice = h("p", { class: "undo-notice", id: "tasks-undo", role: "status", hidden: true });
    this.error.after(this.undoNotice);
    this.undoTimer = null;
    this.tasks = new Map();
    this.nextPageToken = null;
    this.generation = 0;
    // Changes made from this panel; a list fetched across one is fetched again.
    this.mutations = 0;
    this._bind();
  }

  _bind() {
    this.addForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
    this.root.querySelector("#task-filter").addEventListener("change", () => this.reload());
    let tagTimer = null;
    this.tagInput.addEventListener("input", () => {
      clearTimeout(tagTimer);
      tagTimer = setTimeout(() => this.reload(), 300);
    });
    this.root.querySelector("#tasks-reload").addEventListener("click", () => this.reload());
    this.more.addEventListener("click", () => this.load({ append: true }));
  }

  get filter() {
    return this.root.querySelector("input[name=task-filter]:checked")?.value || "open";
  }

  _query() {
    const params = new URLSearchParams({ page_size: String(PAGE_SIZE) });
    const filter = this.filter;
    if (filter === "open") params.set("state", "open");
    if (filter === "done") {
      params.set("state", "completed");
    }
    if (filter === "overdue") params.set("overdue", "true");
    if (filter === "week") {
      const { start, end } = thisWeek();
      params.set("state", "open");
      params.set("due_after", start.toISOString());
      params.set("due_before", end.toISOString());
    }
    params.set("order_by", filter === "week" || filter === "overdue" ? "due_time" : "create_time");
    const tag = this.tagInput.value.trim().replace(/^#/, "");
    if (tag) params.set("tag", tag);
    return params;
  }

  /** Clears everything shown (sign-out: the next person must not see these tasks). */
  clear() {
    this.generation += 1;
    this.tasks.clear();
    this.list.replaceChildren();
    this.error.textContent = "";
    this.empty.hidden = true;
    this.more.hidden = true;
    this.nextPageToken = null;
  }

  /**
   * Brings a task into view and marks it for a moment (a chat @-mention or task source was
   * clicked). A task the current filter hides is not shown; the panel says so.
   */
  highlight(taskId) {
    const row = this.list.querySelector(`li[data-task-id="${CSS.escape(taskId)}"]`);
    if (!row) {
      this.status.textContent = "That task is not in the list as filtered.";
      return false;
    }
    row.scrollIntoView({ block: "nearest", behavior: "smooth" });
    row.classList.add("highlighted");
    row.querySelector("input[type=checkbox]")?.focus({ preventScroll: true });
    clearTimeout(this.highlightTimer);
    this.highlightTimer = setTimeout(() => row.classList.remove("highlighted"), 2500);
    return true;
  }

  reload() {
    if (this.list.querySelector(".task-rename:not(:disabled)")) {
      // Someone is typing a new title: reloading now would throw their edit away.
      this.reloadAfterRename = true;
      return Promise.resolve();
    }
    return this.load({ append: false });
  }

  _renameFinished() {
    if (this.reloadAfterRename) {
      this.reloadAfterRename = false;
      this.reload();
    }
  }

  async load({ append = false } = {}) {
    if (!this.session.signedIn) return;
    const generation = ++this.generation;
    const mutations = this.mutations;
    const params = this._query();
    if (append && this.nextPageToken) params.set("page_token", this.nextPageToken);
    this.list.setAttribute("aria-busy", "true");
    try {
      const { body } = await this.session.json(`/api/tasks?${params}`);
      if (generation !== this.generation) return; // a newer load (or sign-out) won
      if (mutations !== this.mutations && !append) {
        // A task changed here while this page was on its way: it may be stale.
        this.load({ append: false });
        return;
      }
      if (!append) {
        this.tasks.clear();
        this.list.replaceChildren();
      }
      for (const task of body.tasks) {
        this.tasks.set(task.id, task);
        this.list.append(this._row(task));
      }
      this.nextPageToken = body.next_page_token;
      this.more.hidden = !this.nextPageToken;
      this.empty.hidden = this.tasks.size > 0;
      this.empty.textContent = this._emptyText();
      this.error.textContent = "";
    } catch (error) {
      if (generation === this.generation && this.session.signedIn) {
        this.error.textContent = `Could not load your tasks. ${problemText(error)}`;
      }
    } finally {
      if (generation === this.generation) this.list.setAttribute("aria-busy", "false");
    }
  }

  /** Shows "Deleted “…”. Undo" for a while; Undo restores the task (POST /api/undo). */
  _offerUndo(task, token) {
    clearTimeout(this.undoTimer);
    const button = h("button", { type: "button", class: "button ghost undo-button" }, "Undo");
    button.addEventListener("click", () => this._undo(task, token, button));
    this.undoNotice.replaceChildren(`Deleted “${task.title}”. `, button);
    this.undoNotice.hidden = false;
    // The server keeps a change undoable for minutes; the notice goes sooner, like a toast.
    this.undoTimer = setTimeout(() => this._hideUndo(), UNDO_NOTICE_MS);
  }

  _hideUndo() {
    clearTimeout(this.undoTimer);
    this.undoNotice.hidden = true;
    this.undoNotice.replaceChildren();
  }

  async _undo(task, token, button) {
    button.disabled = true;
    try {
      const { body } = await this.session.json("/api/undo", { method: "POST", body: { undo_token: token } });
      this.mutations += 1;
      this._hideUndo();
      this.error.textContent = "";
      for (const restored of body.tasks) {
        if (this.tasks.has(restored.id)) {
          this._replace(restored); // the live feed was quicker
        } else if (this._matches(restored)) {
          this.tasks.set(restored.id, restored);
          this.list.prepend(this._row(restored));
        }
      }
      this.empty.hidden = this.tasks.size > 0;
      announce(this.status, `Restored “${task.title}”.`);
    } catch (error) {
      this._hideUndo();
      this.error.textContent = `Could not undo. ${problemText(error)}`;
    }
  }

  /** Applies one change from the live feed to the list. */
  applyEvent(change) {
    if (!this.session.signedIn) return;
    const row = this.list.querySelector(`li[data-task-id="${CSS.escape(change.task_id)}"]`);
    if (change.type === "task.deleted") {
      if (!row) return;
      this.tasks.delete(change.task_id);
      row.remove();
      this.empty.hidden = this.tasks.size > 0;
      this.empty.textContent = this._emptyText();
      return;
    }
    const task = change.task;
    if (!task) return;
    const known = this.tasks.get(task.id);
    if (known && known.etag === task.etag) return; // this panel made the change itself
    if (row?.querySelector(".task-rename:not(:disabled)")) {
      // Someone is typing a new title here: show the change once they are done.
      this.reloadAfterRename = true;
      return;
    }
    if (row) {
      this._replace(task);
    } else if (this._matches(task)) {
      this.tasks.set(task.id, task);
      this.list.prepend(this._row(task));
      this.empty.hidden = true;
    }
  }

  _emptyText() {
    return {
      open: "No open tasks. Add one above, or ask the assistant.",
      done: "No completed tasks yet.",
      overdue: "Nothing overdue.",
      week: "Nothing due this week.",
      all: "No tasks yet. Add one above, or ask the assistant.",
    }[this.filter];
  }

  /** Whether a task belongs in the list under the current filter (after a change). */
  _matches(task) {
    const filter = this.filter;
    const tag = this.tagInput.value.trim().replace(/^#/, "").toLowerCase();
    if (tag && !task.tags.some((t) => t.toLowerCase() === tag)) return false;
    const open = task.state === "open";
    if (filter === "open") return open;
    if (filter === "done") return !open;
    const due = task.due_time ? new Date(task.due_time) : null;
    if (filter === "overdue") return open && due !== null && due < new Date();
    if (filter === "week") {
      const { start, end } = thisWeek();
      return open && due !== null && due >= start && due < end;
    }
    return true;
  }

  async add() {
    const form = this.addForm;
    const titleInput = form.querySelector("#new-task-title");
    const title = titleInput.value.trim();
    if (!title) {
      this.error.textContent = "Give the task a title.";
      titleInput.focus();
      return;
    }
    const body = { title };
    const due = dueFromDateInput(form.querySelector("#new-task-due").value);
    if (due) body.due_time = due;
    const priority = form.querySelector("#new-task-priority").value;
    if (priority) body.priority = priority;
    const tags = parseTags(form.querySelector("#new-task-tags").value);
    if (tags.length) body.tags = tags;
    const remind = form.querySelector("#new-task-remind").value;
    if (remind) body.reminders = [{ before: remind }];
    const submit = form.querySelector("#task-add-submit");
    submit.disabled = true;
    try {
      // The key makes a double submit (or a retry after a lost answer) create one task.
      const headers = { "Idempotency-Key": crypto.randomUUID() };
      const { body: task } = await this.session.json("/api/tasks", { method: "POST", body, headers });
      this.mutations += 1;
      form.reset();
      this.error.textContent = "";
      announce(this.status, `Added “${task.title}”.`);
      if (this.tasks.has(task.id)) {
        // The live feed was quicker than this answer: the row is there already.
        this._replace(task);
      } else if (this._matches(task)) {
        this.tasks.set(task.id, task);
        this.list.prepend(this._row(task));
        this.empty.hidden = true;
      } else {
        await this.reload();
      }
    } catch (error) {
      this.error.textContent = `Could not add the task. ${problemText(error)}`;
    } finally {
      submit.disabled = false;
      titleInput.focus();
    }
  }

  async toggle(task, checkbox) {
    const action = task.state === "open" ? "complete" : "reopen";
    checkbox.disabled = true;
    try {
      const { body: updated } = await this.session.json(`/api/tasks/${encodeURIComponent(task.id)}/${action}`, {
        method: "POST",
      });
      this.mutations += 1;
      announce(this.status, action === "complete" ? `Completed “${updated.title}”.` : `Reopened “${updated.title}”.`);
      this._replace(updated, { keepFocus: "toggle" });
    } catch (error) {
      checkbox.checked = task.state !== "open";
      checkbox.disabled = false;
      this.error.textContent = `Could not update the task. ${problemText(error)}`;
      if (error instanceof ApiError && error.status === 404) this.reload();
    }
  }

  async remove(task, row) {
    row.querySelectorAll("button, input").forEach((el) => {
      el.disabled = true;
    });
    try {
      const { body } = await this.session.json(`/api/tasks/${encodeURIComponent(task.id)}`, {
        method: "DELETE",
      });
      this.mutations += 1;
      announce(this.status, `Deleted “${task.title}”.`);
      if (body?.undo_token) this._offerUndo(task, body.undo_token);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        this.error.textContent = `Could not delete the task. ${problemText(error)}`;
        row.querySelectorAll("button, input").forEach((el) => {
          el.disabled = false;
        });
        return;
      }
    }
    // Keep keyboard focus in the list: on the next row, else the previous, else the form.
    const next = row.nextElementSibling || row.previousElementSibling;
    this.tasks.delete(task.id);
    row.remove();
    this.empty.hidden = this.tasks.size > 0;
    this.empty.textContent = this._emptyText();
    (next?.querySelector("input[type=checkbox]") || this.addForm.querySelector("#new-task-title")).focus();
  }

  startRename(task, row) {
    const titleEl = row.querySelector(".task-title");
    const input = h("input", {
      type: "text",
      class: "task-rename",
      value: task.title,
      maxlength: "200",
      "aria-label": `New title for “${task.title}”`,
    });
    let finished = false;
    const finish = async (save) => {
      if (finished) return;
      finished = true;
      const title = input.value.trim();
      if (!save || !title || title === task.title) {
        input.replaceWith(titleEl);
        row.querySelector(".rename-button").focus();
      } else {
        input.disabled = true;
        await this.rename(task, title, row);
      }
      this._renameFinished();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
    titleEl.replaceWith(input);
    input.focus();
    input.select();
  }

  async rename(task, title, row) {
    try {
      const { body: updated } = await this.session.json(`/api/tasks/${encodeURIComponent(task.id)}`, {
        method: "PATCH",
        body: { title },
        headers: { "If-Match": `"${task.etag}"` },
      });
      this.mutations += 1;
      announce(this.status, `Renamed to “${updated.title}”.`);
      this._replace(updated, { keepFocus: "rename" });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 412 || error.status === 404)) {
        this.error.textContent =
          error.status === 412
            ? "That task changed somewhere else, so it was not renamed. Here is the latest version."
            : "That task no longer exists.";
        await this.reload();
      } else {
        this.error.textContent = `Could not rename the task. ${problemText(error)}`;
        this._replace(task, { keepFocus: "rename" });
      }
    }
  }

  _replace(task, { keepFocus } = {}) {
    const old = this.list.querySelector(`li[data-task-id="${CSS.escape(task.id)}"]`);
    this.tasks.set(task.id, task);
    const row = this._row(task);
    if (old) old.replaceWith(row);
    if (!this._matches(task)) {
      // It no longer fits the filter: show the change briefly, then let it go.
      row.classList.add("leaving");
      setTimeout(() => {
        if (row.isConnected && !this._matches(this.tasks.get(task.id) || task)) {
          const focused = row.contains(document.activeElement);
          const next = row.nextElementSibling || row.previousElementSibling;
          this.tasks.delete(task.id);
          row.remove();
          this.empty.hidden = this.tasks.size > 0;
          this.empty.textContent = this._emptyText();
          if (focused) (next?.querySelector("input[type=checkbox]") || this.addForm.querySelector("#new-task-title")).focus();
        }
      }, 900);
    }
    if (keepFocus === "toggle") row.querySelector("input[type=checkbox]").focus();
    if (keepFocus === "rename") row.querySelector(".rename-button").focus();
  }

  _row(task) {
    const done = task.state === "completed";
    const checkboxId = `task-done-${task.id}`;
    const checkbox = h("input", {
      type: "checkbox",
      id: checkboxId,
      class: "task-check",
      checked: done,
    });
    checkbox.addEventListener("change", () => this.toggle(task, checkbox));
    const badges = [];
    if (task.due_time) {
      const overdue = !done && new Date(task.due_time) < new Date();
      badges.push(
        h("span", { class: `badge ${overdue ? "danger" : "info"}` }, `${overdue ? "Overdue" : "Due"} ${formatDue(task.due_time)}`),
      );
    }
    if (task.priority === "high") badges.push(h("span", { class: "badge danger-soft" }, "High"));
    if (task.priority === "low") badges.push(h("span", { class: "badge muted" }, "Low"));
    for (const tag of task.tags) badges.push(h("span", { class: "badge tag" }, `#${tag}`));
    if (task.repeats) {
      const repeats = task.repeats.charAt(0).toUpperCase() + task.repeats.slice(1);
      badges.push(h("span", { class: "badge muted repeats", title: task.recurrence || "" }, repeats));
    }

    // A row's icon button, named by its verb and the task; it acts on the task as it is then.
    const action = (verb, path, act) =>
      h(
        "button",
        {
          type: "button",
          class: `icon-button ${verb.toLowerCase()}-button`,
          "aria-label": `${verb} “${task.title}”`,
          title: verb,
          onclick: () => act(this.tasks.get(task.id) || task),
        },
        icon(path),
      );
    const row = h(
      "li",
      { class: `task${done ? " done" : ""}`, dataset: { taskId: task.id } },
      checkbox,
      h(
        "div",
        { class: "task-body" },
        // The title is the checkbox's label: clicking it toggles, like any checkbox.
        h("label", { for: checkboxId, class: "task-title" }, task.title),
        badges.length ? h("div", { class: "badges" }, badges) : null,
      ),
      h(
        "div",
        { class: "task-actions" },
        action("Rename", ICONS.pencil, (current) => this.startRename(current, row)),
        action("Delete", ICONS.trash, (current) => this.remove(current, row)),
      ),
    );
    return row;
  }
}
