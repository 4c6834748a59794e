// Reminders from the live change feed (`event: reminder` frames of GET /api/events): shown as
// the browser's notification when the person allowed them, otherwise as a notice in the page.
// The feed delivers each reminder once per open tab (and resumes with Last-Event-ID, so a
// reconnect does not repeat one); a notification's tag lets the system show it once even
// when several tabs are open.

import { h } from "./dom.js";

/** "Dentist — due 10:00" (the due time in the person's own clock). */
function reminderText(reminder) {
  const task = reminder.task;
  const title = task?.title || "A task";
  if (!task?.due_time) return title;
  const due = new Date(task.due_time);
  const sameDay = due.toDateString() === new Date().toDateString();
  const when = due.toLocaleString([], sameDay
    ? { hour: "2-digit", minute: "2-digit" }
    : { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  return `${title} — due ${when}`;
}

export class ReminderNotices {
  constructor(root) {
    this.root = root;
  }

  /** Whether the browser may show notifications (the person said yes). */
  static get allowed() {
    return "Notification" in window && Notification.permission === "granted";
  }

  /** Asks once, from a gesture (choosing a reminder), whether notifications may be shown. */
  static ask() {
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  }

  /** Shows one reminder from the feed. */
  show(reminder) {
    const text = reminderText(reminder);
    if (ReminderNotices.allowed) {
      try {
        new Notification("Reminder", {
          body: text,
          tag: `reminder-${reminder.task_id}-${reminder.reminder_time || reminder.cursor}`,
        });
        return;
      } catch {
        // Some browsers only allow notifications from a service worker: fall back to the page.
      }
    }
    const item = h(
      "li",
      { class: "reminder-notice", dataset: { taskId: reminder.task_id, cursor: reminder.cursor } },
      h("span", { class: "reminder-label", text: "Reminder" }),
      h("span", { class: "reminder-text", text }),
      h("button", {
        type: "button",
        class: "icon-button",
        "aria-label": `Dismiss the reminder for ${reminder.task?.title || "the task"}`,
        text: "×",
        onclick: () => {
          item.remove();
          this.root.hidden = !this.root.children.length;
        },
      }),
    );
    this.root.append(item);
    this.root.hidden = false;
  }

  clear() {
    this.root.replaceChildren();
    this.root.hidden = true;
  }
}
