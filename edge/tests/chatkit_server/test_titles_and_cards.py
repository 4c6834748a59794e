"""Thread titles and task cards as pure functions: what a person reads."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from chatkit.widgets import StrictWidgetRoot
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import TypeAdapter
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_edge.chatkit.server import derive_title
from todo_edge.chatkit.widgets import (
    BulkChange,
    bulk_cancelled_card,
    bulk_heading,
    bulk_preview_card,
    bulk_result_card,
    deleted_row,
    due_phrase,
    format_due,
    is_bulk_card,
    pending_bulk_change,
    replace_task_row,
    task_list_card,
    widget_copy_text,
    widget_task_ids,
)

STRICT: TypeAdapter[StrictWidgetRoot] = TypeAdapter(StrictWidgetRoot)
LONDON = ZoneInfo("Europe/London")


def _task(task_id: str, title: str, **fields: object) -> tasks_pb.Task:
    return tasks_pb.Task(id=task_id, title=title, **fields)  # type: ignore[arg-type]


def test_titles_are_short_clean_and_capitalised() -> None:
    assert derive_title("  add   buy milk\n tomorrow ") == "Add buy milk tomorrow"
    assert derive_title("   ") == "New chat"
    long = derive_title("please add a task to call the plumber about the leaking kitchen tap today")
    assert long == "Please add a task to call the plumber about the leaking…"
    assert len(long) <= 60
    assert derive_title("x" * 100) == "X" + "x" * 58 + "…"


def test_due_dates_read_naturally_in_the_users_zone() -> None:
    now = datetime(2031, 1, 15, 9, tzinfo=UTC)
    assert format_due(datetime(2031, 1, 16, 0, 0, tzinfo=UTC), LONDON, now) == "Thu 16 Jan"
    assert format_due(datetime(2031, 1, 16, 17, 30, tzinfo=UTC), LONDON, now) == "Thu 16 Jan, 17:30"
    karachi = ZoneInfo("Asia/Karachi")
    assert format_due(datetime(2031, 1, 16, 4, 0, tzinfo=UTC), karachi, now) == "Thu 16 Jan, 09:00"
    assert format_due(datetime(2032, 3, 1, 0, 0, tzinfo=UTC), UTC, now) == "Mon 1 Mar 2032"
    # A date without a time is stored as 23:59 in the user's zone: the card shows the day only.
    assert format_due(datetime(2031, 1, 16, 18, 59, tzinfo=UTC), karachi, now) == "Thu 16 Jan"
    assert (
        format_due(datetime(2031, 1, 16, 18, 58, tzinfo=UTC), karachi, now) == "Thu 16 Jan, 23:58"
    )


def test_list_card_rows_can_be_redrawn_one_at_a_time() -> None:
    due = Timestamp()
    due.FromDatetime(datetime(2031, 1, 16, 17, 0))
    tasks = [
        _task(
            "t1", "Buy milk", priority=tasks_pb.TASK_PRIORITY_HIGH, tags=["errands"], due_time=due
        ),
        _task("t2", "Call mom", priority=tasks_pb.TASK_PRIORITY_LOW),
    ]
    widget, copy_text = task_list_card(tasks, "Your tasks", LONDON)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        STRICT.validate_python(widget.model_dump(mode="json"))
    assert widget_task_ids(widget) == ["t1", "t2"]
    assert copy_text.splitlines()[0] == "Your tasks:"
    assert "[open] Buy milk (due Thu 16 Jan 2031, 17:00, high priority, #errands)" in copy_text

    redrawn = replace_task_row(widget, "t1", deleted_row("t1", "Buy milk"))
    assert widget_task_ids(redrawn) == ["t1", "t2"]
    text = widget_copy_text(redrawn)
    assert "- Buy milk (Deleted)" in text
    assert "- Call mom (Low)" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        STRICT.validate_python(redrawn.model_dump(mode="json"))


def test_long_lists_are_cut_with_a_count() -> None:
    tasks = [_task(f"t{n}", f"Task {n}") for n in range(30)]
    widget, copy_text = task_list_card(tasks, "Your tasks", UTC)
    assert len(widget_task_ids(widget)) == 25
    assert copy_text.endswith("- and 5 more")


def test_a_repeating_task_card_says_how_it_repeats() -> None:
    weekly = _task("t1", "Team sync", recurrence="FREQ=WEEKLY")
    mondays = _task("t2", "Bins", recurrence="FREQ=WEEKLY;BYDAY=MO")
    once = _task("t3", "Passport")
    widget, copy_text = task_list_card([weekly, mondays, once], "Your tasks", LONDON)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        STRICT.validate_python(widget.model_dump(mode="json"))
    dumped = str(widget.model_dump(mode="json"))
    assert "'Repeats weekly'" in dumped
    assert "'Repeats weekly on Mon'" in dumped
    assert "[open] Team sync (repeats weekly)" in copy_text
    assert "[open] Passport" in copy_text
    assert "Passport (" not in copy_text


def test_bulk_cards_are_strict_widgets_and_read_naturally() -> None:
    now = datetime(2031, 1, 15, 9, tzinfo=UTC)
    tasks = [_task(f"t{n}", f"Errand {n}") for n in range(30)]
    tomorrow = BulkChange(
        "reschedule", tuple(t.id for t in tasks), due_time=datetime(2031, 1, 16, 23, 59, tzinfo=UTC)
    )
    assert due_phrase(datetime(2031, 1, 16, 23, 59, tzinfo=UTC), LONDON, now) == "tomorrow"
    assert due_phrase(datetime(2031, 1, 15, 17, 30, tzinfo=UTC), LONDON, now) == "today at 17:30"
    assert due_phrase(datetime(2031, 1, 20, 23, 59, tzinfo=UTC), LONDON, now) == "Mon 20 Jan"
    tag = BulkChange("tag", ("t1",), add_tags=("urgent",), remove_tags=("someday", "later"))
    assert bulk_heading(tag, LONDON, done=False) == (
        "Re-tag 1 task: add #urgent and remove #someday, #later?"
    )
    assert bulk_heading(BulkChange("delete", ("a", "b")), LONDON, done=True) == "Deleted 2 tasks"

    widget, copy_text = bulk_preview_card(tomorrow, tasks, LONDON, truncated=True)
    cancelled = bulk_cancelled_card(widget)
    done, _ = bulk_result_card(tomorrow, tasks, [], LONDON)
    empty, empty_text = bulk_preview_card(tomorrow, [], LONDON, truncated=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for card in (widget, cancelled, done, empty):
            STRICT.validate_python(card.model_dump(mode="json"))
    # Every previewed id is in the Confirm payload, however many rows the card shows.
    payload = pending_bulk_change(widget)
    assert payload is not None and payload["task_ids"] == [t.id for t in tasks]
    assert "and 5 more" in widget_copy_text(widget)
    assert "more match" in widget_copy_text(widget)
    assert copy_text.startswith("Reschedule 30 tasks to")
    assert pending_bulk_change(cancelled) is None and is_bulk_card(cancelled)
    assert "Cancelled: nothing was changed." in widget_copy_text(cancelled)
    assert pending_bulk_change(done) is None and is_bulk_card(done)
    assert pending_bulk_change(empty) is None and not is_bulk_card(empty)
    assert empty_text == "No tasks match, so there is nothing to change."
