// The page's entry point: reads the inline configuration, restores the session from the
// refresh cookie, and switches between the sign-in view and the workspace (tasks + chat).

import { ApiError, Session } from "./session.js";
import { TaskFeed, TasksPanel } from "./tasks.js";
import { ChatPanel } from "./chat.js";
import { ReminderNotices } from "./reminders.js";

const config = JSON.parse(document.getElementById("todo-config").textContent);
const session = new Session();

const $ = (selector) => document.querySelector(selector);
const authView = $("#auth-view");
const appView = $("#app-view");
const authForm = $("#auth-form");
const authMessage = $("#auth-message");
const userBox = $("#user-box");
const notice = $("#notice");

let mode = "signin"; // or "signup"
let noticeTimer = null;

const tasks = new TasksPanel(session, $("#tasks-panel"));
const reminders = new ReminderNotices($("#reminder-notices"));
// Choosing a reminder is the gesture that may ask for permission to notify.
$("#new-task-remind").addEventListener("change", () => ReminderNotices.ask());
// Every change, from this tab or any other source, arrives here while the feed is live; a
// fresh (not resumed) stream may have missed some, so the list is fetched again then.
const feed = new TaskFeed(session, {
  onReady: (resumed) => {
    document.body.dataset.feed = "live";
    if (!resumed) tasks.reload();
  },
  onEvent: (change) => tasks.applyEvent(change),
  onReminder: (reminder) => reminders.show(reminder),
});
const chat = new ChatPanel({
  session,
  root: $("#chat-host"),
  modeLabel: $("#chat-mode"),
  config: config.chatkit,
  onEffect: (name) => {
    // The feed already carries the chat's changes; refetch only while it is not live.
    if (name === "tasks.changed" && !feed.live) tasks.reload();
  },
  onNotice: showNotice,
  onOpenTask: (taskId) => tasks.highlight(taskId),
});

function showNotice(text) {
  $("#notice-text").textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    notice.hidden = true;
  }, 10_000);
}

$("#notice-close").addEventListener("click", () => {
  notice.hidden = true;
});

// ---- sign in / sign up ----

function setMode(next) {
  mode = next;
  const signup = mode === "signup";
  $("#auth-title").textContent = signup ? "Create your account" : "Sign in";
  $("#auth-submit").textContent = signup ? "Create account" : "Sign in";
  $("#auth-switch-text").textContent = signup ? "Already have an account?" : "New here?";
  $("#auth-switch").textContent = signup ? "Sign in instead" : "Create an account";
  $("#display-name-field").hidden = !signup;
  $("#password-hint").hidden = !signup;
  $("#auth-password").setAttribute("autocomplete", signup ? "new-password" : "current-password");
  clearFieldErrors();
}

function clearFieldErrors() {
  for (const input of authForm.querySelectorAll("input")) input.removeAttribute("aria-invalid");
}

function showAuth(message = "", { tone = "error" } = {}) {
  appView.hidden = true;
  userBox.hidden = true;
  authView.hidden = false;
  authMessage.textContent = message;
  authMessage.dataset.tone = tone;
  $("#auth-password").value = "";
  document.title = "Sign in · Todo Assistant";
  $("#auth-email").focus();
}

function showApp() {
  authView.hidden = true;
  appView.hidden = false;
  userBox.hidden = false;
  const user = session.user;
  $("#user-name").textContent = user ? user.display_name || user.email : "";
  document.title = "Todo Assistant";
  tasks.reload();
  feed.start();
  chat.start();
  $("#new-task-title").focus();
}

$("#auth-switch").addEventListener("click", () => {
  setMode(mode === "signin" ? "signup" : "signin");
  authMessage.textContent = "";
  $("#auth-email").focus();
});

authForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors();
  const email = $("#auth-email").value.trim();
  const password = $("#auth-password").value;
  const displayName = $("#auth-display-name").value.trim();
  if (!email || !password) {
    authMessage.textContent = "Enter your email and password.";
    authMessage.dataset.tone = "error";
    (email ? $("#auth-password") : $("#auth-email")).focus();
    return;
  }
  const submit = $("#auth-submit");
  submit.disabled = true;
  authMessage.textContent = "";
  try {
    if (mode === "signup") await session.signUp(email, password, displayName);
    else await session.signIn(email, password);
    $("#auth-password").value = "";
    showApp();
  } catch (error) {
    const fields = error instanceof ApiError ? error.fieldErrors : [];
    const details = fields.map((f) => f.message).filter(Boolean);
    authMessage.dataset.tone = "error";
    authMessage.textContent =
      error instanceof ApiError
        ? [error.message, ...details].join(" ")
        : "Something went wrong. Try again.";
    let first = null;
    for (const field of fields) {
      const input = authForm.querySelector(`[name="${CSS.escape(String(field.field || ""))}"]`);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      }
    }
    (first || $("#auth-email")).focus();
  } finally {
    submit.disabled = false;
  }
});

$("#sign-out").addEventListener("click", () => session.signOut());

session.addEventListener("signedout", (event) => {
  feed.stop();
  delete document.body.dataset.feed;
  tasks.clear();
  reminders.clear();
  chat.stop();
  const { message, reason } = event.detail;
  setMode("signin");
  showAuth(message, { tone: reason === "signed-out" ? "info" : "error" });
});

session.addEventListener("ratelimited", (event) => {
  const seconds = event.detail?.retry_after_seconds;
  showNotice(
    `You're going a little fast — please wait${seconds ? ` ${seconds} seconds` : " a moment"} and try again.`,
  );
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") session.checkFreshness();
});

// ---- start ----

setMode("signin");
session.restore().then((signedIn) => {
  document.body.dataset.ready = "true";
  if (signedIn) showApp();
  else showAuth("");
});
