"""What a user message means to the offline model: one `Command`, whatever the language.

The grammar produces these; the planner turns them into tool calls and a reply. They carry no
ids the user did not type: a `TaskRef` says how the user pointed at a task, and the planner
resolves it against the conversation or the user's list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from todo_agent.offline.dates import Due

Priority = Literal["low", "medium", "high"]
State = Literal["open", "completed", "all"]
DueWindow = Literal["any", "overdue", "today", "tomorrow", "this_week", "next_week", "undated"]
Action = Literal["complete", "reopen", "delete", "get"]


@dataclass(frozen=True)
class TaskRef:
    """How the user pointed at a task: by id, by position in the last list, by title, or "it"."""

    kind: Literal["id", "position", "title", "last"]
    value: str = ""
    position: int = 0  # 1-based; -1 means the last one.


@dataclass
class NewTask:
    """One task to add."""

    title: str
    due: Due | None = None
    priority: Priority | None = None
    tags: list[str] = field(default_factory=list)
    # An RRULE when the task repeats ("FREQ=WEEKLY;BYDAY=MO"); `due` is its first occurrence.
    recurrence: str | None = None
    # How long before the due time to remind, an ISO 8601 duration ("PT30M").
    remind_before: str | None = None


@dataclass
class Add:
    """Add one or more tasks. `notice` is said with the result: what was not done as asked
    (e.g. "I can't repeat tasks yet, so I added the first one")."""

    tasks: list[NewTask]
    notice: str = ""


@dataclass
class ListTasks:
    """List tasks matching filters."""

    state: State = "open"
    priority: Priority | None = None
    tag: str | None = None
    due: DueWindow = "any"
    # A window of local due days, both ends included, read where `due` names none ("on
    # friday", "this weekend", "in february"); `overdue_too` adds open tasks already late
    # ("by friday"). Filtering happens on the planner's clock, never the server's.
    days: tuple[date, date] | None = None
    overdue_too: bool = False
    # How the user named the window, for the reply's heading ("due this weekend").
    label: str = ""
    # "work tasks due this week": a word that names a tag when some task has that tag (the
    # planner checks), else words of the titles.
    tag_hint: str | None = None


@dataclass
class Search:
    """Find tasks whose title or notes contain the words (in any word form: "taxes" finds
    "tax"), in any state unless the user named one."""

    query: str
    state: State = "all"


@dataclass
class Act:
    """Complete, reopen, delete or show one or more tasks."""

    action: Action
    targets: list[TaskRef]


@dataclass
class Update:
    """Change a task's title, due date, priority, tags or notes."""

    target: TaskRef
    title: str | None = None
    due: Due | None = None
    clear_due: bool = False
    priority: Priority | None = None
    tags: list[str] | None = None
    notes: str | None = None
    # Changes relative to the task's current values (the planner reads them first): tags to
    # add or take off, and "push to friday" keeping the task's time of day.
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    keep_time: bool = False
    # A new time alone keeps the task's day; a shift moves its due date by so many days.
    keep_day: bool = False
    shift_days: int = 0
    # More tasks to change the same way ("move both to next week", "the first and the last").
    also: list[TaskRef] = field(default_factory=list)
    # A new RRULE ("make it repeat every monday"), or stop repeating.
    recurrence: str | None = None
    stop_repeating: bool = False
    # The rule's day comes from the task's due date ("make it repeat every week").
    repeat_from_due: bool = False
    # How long before the due time to remind, an ISO 8601 duration ("PT1H").
    remind_before: str | None = None

    def needs_current(self) -> bool:
        """True when the new values depend on the task's current ones."""
        return bool(
            self.add_tags
            or self.remove_tags
            or self.keep_time
            or self.keep_day
            or self.shift_days
            or self.repeat_from_due
        )


@dataclass
class Undo:
    """Revert the user's last change ("undo that")."""


@dataclass
class Confirm:
    """ "yes", "go ahead": a yes to a bulk preview (which the user confirms on its card)."""


@dataclass
class Bulk:
    """One change to every task a filter chooses ("push everything due today to tomorrow").
    The tool only previews it; the user confirms on a card. `due` is a `list_tasks` window."""

    action: Literal["complete", "delete", "reschedule", "tag"]
    state: State = "open"
    priority: Priority | None = None
    tag: str | None = None
    due: DueWindow = "any"
    query: str | None = None
    new_due: Due | None = None
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    # What the user called the tasks ("everything due today"), for the reply.
    label: str = ""


@dataclass
class Decline:
    """A request the offline model cannot carry out (bulk changes, undo, reminders, sharing,
    statistics …): `reason` is the honest sentence that says so."""

    reason: str
    # The answer instead once the run offers bulk previews ("I can't pick those tasks out").
    with_bulk: str = ""


@dataclass
class Chat:
    """Small talk that needs a sentence, not the help text."""

    reply: str


@dataclass
class Help:
    """Say what the assistant understands."""


@dataclass
class Greeting:
    """Hello or thanks."""

    thanks: bool = False


@dataclass
class Unknown:
    """Not understood. `missing_title` marks an add whose task had no words left ("add a
    task"), so the reply can ask for them instead of reciting the help."""

    missing_title: bool = False


Command = (
    Add
    | ListTasks
    | Search
    | Act
    | Update
    | Undo
    | Bulk
    | Confirm
    | Help
    | Greeting
    | Decline
    | Chat
    | Unknown
)
