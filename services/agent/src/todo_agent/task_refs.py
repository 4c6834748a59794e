"""Typed task references (`TaskRef`) ↔ what a model reads and writes.

People never read task ids; models need them. So ids travel beside the text:

- In: each history message's refs (the tasks it showed, changed or @-mentioned) and the new
  message's @-mentions are written into the text the model reads as `[id: …]` marks — after a
  mentioned title in a user message ("complete Feed the parrot [id: t1]"), and as a short note
  under an assistant message ("1. Buy milk [id: t1]" per task). Every model reads the same
  marks: an LLM because its instructions say what they are, the offline model because it finds
  ids after titles and on numbered lines (`offline/phrases.py`, `offline/planner.py`).
- Out: a model marks the tasks it names the same way; `MarkStripper` takes the marks out of the
  streamed text and turns them into refs (`MessageDone.tasks`), keeping only ids the run knows
  (the request's refs and what the tools returned), so a mark the model made up goes nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from todo.agent.v1 import agent_service_pb2 as pb

# Limits of the refs one message may carry, and of their fields (checked by the service).
MAX_REFS_PER_MESSAGE = 100
MAX_REF_ID_CHARS = 128
MAX_REF_TITLE_CHARS = 500

# A mark, with the spaces before it (they go with it when it is taken out).
MARK = re.compile(r"[ \t]*\[id:\s*([^\]\s]+)\s*\]")
# A cut-off mark at the end of streamed text: "[", "[i", "[id", "[id: 01a…".
_CUT_MARK = re.compile(r"\[(?:i(?:d(?::[^\]\n]{0,140})?)?)?")
_CUT_MARK_MAX = 150


def _held_from(text: str) -> int:
    """Where the end of `text` that may still become a mark starts: a cut-off mark with the
    spaces before it (they go with a mark), or the trailing spaces alone (so a space at the
    end of a delta waits for the next one). A plain scan from the end: a regex anchored at
    `$` tries every start position, 16 µs on a list line against 1 µs here."""
    start = len(text)
    bracket = text.rfind("[", max(0, start - _CUT_MARK_MAX))
    if bracket >= 0 and _CUT_MARK.fullmatch(text, bracket):
        start = bracket
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    return start


# A numbered line: "2. Buy milk".
_NUMBERED = re.compile(r"^\s*(\d{1,4})\.\s")

# The header of the note under an assistant message.
NOTE_HEADING = "(Tasks in the message above, for you only; people never see these ids:)"


def mark(ref: pb.TaskRef) -> str:
    """`Buy milk [id: t1]`, numbered when the ref has a position."""
    number = f"{ref.position}. " if ref.position > 0 else ""
    return f"{number}{_one_line(ref.title)} [id: {ref.id}]"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_for_model(message: pb.ConversationMessage) -> str:
    """A history message's text with its refs written in for the model."""
    if not message.tasks:
        return message.text
    if message.role == pb.ROLE_USER:
        return render_user_text(message.text, message.tasks)
    note = "\n".join(mark(ref) for ref in message.tasks)
    return f"{message.text}\n\n{NOTE_HEADING}\n{note}"


def render_user_text(text: str, refs: Iterable[pb.TaskRef]) -> str:
    """A user message with `[id …]` after the first unmarked mention of each ref's title (the
    caller writes the title in the text for each @-mention); refs whose title is not found are
    listed at the end."""
    missing: list[pb.TaskRef] = []
    for ref in refs:
        title = ref.title.strip()
        start = _find_unmarked(text, title) if title else -1
        if start < 0:
            missing.append(ref)
            continue
        end = start + len(title)
        text = f"{text[:end]} [id {ref.id}]{text[end:]}"
    if missing:
        listed = "; ".join(f"{_one_line(ref.title)} [id {ref.id}]" for ref in missing)
        text = f"{text} ({listed})"
    return text


def _find_unmarked(text: str, title: str) -> int:
    """Where `title` first occurs in `text` not already followed by a mark (-1 if nowhere)."""
    start = text.find(title)
    while start >= 0:
        rest = text[start + len(title) :]
        if not rest.startswith(" [id "):
            return start
        start = text.find(title, start + 1)
    return -1


class MarkStripper:
    """Takes `[id: …]` marks out of one message's streamed text, as the text streams.

    `feed` returns the text that can be shown now; a tail that may still turn into a mark
    (spaces, `[`, `[id: 01a…`) is held until the next delta or `finish`. Refs keep the order of
    first mention; a ref's position is the number of the numbered line its mark ends.
    """

    def __init__(self, titles: dict[str, str]) -> None:
        # The ids the run knows → their titles.
        self._titles = titles
        self._held = ""
        # The shown text of the current line so far (for its number).
        self._line = ""
        self.refs: list[pb.TaskRef] = []
        self._seen: set[str] = set()

    def feed(self, delta: str) -> str:
        """The part of the text so far that can be shown now."""
        text = self._held + delta
        cut = _held_from(text)
        self._held = text[cut:]
        return self._take_marks(text[:cut])

    def finish(self) -> str:
        """What is still held, at the end of the message (a mark cut off stays text)."""
        held, self._held = self._held, ""
        return self._take_marks(held)

    def _take_marks(self, text: str) -> str:
        if "[" not in text:
            self._advance(text)
            return text
        shown: list[str] = []
        last = 0
        for found in MARK.finditer(text):
            before = text[last : found.start()]
            shown.append(before)
            self._advance(before)
            self._note(found.group(1))
            last = found.end()
        rest = text[last:]
        shown.append(rest)
        self._advance(rest)
        return "".join(shown)

    def _advance(self, shown: str) -> None:
        if "\n" in shown:
            self._line = shown.rsplit("\n", 1)[1]
        else:
            self._line += shown

    def _note(self, task_id: str) -> None:
        title = self._titles.get(task_id)
        if title is None or task_id in self._seen or len(self.refs) >= MAX_REFS_PER_MESSAGE:
            return
        self._seen.add(task_id)
        numbered = _NUMBERED.match(self._line)
        position = int(numbered.group(1)) if numbered else 0
        self.refs.append(pb.TaskRef(id=task_id, title=title, position=position))


def strip_marks(text: str) -> str:
    """`text` without its marks (for text that was not streamed through a `MarkStripper`)."""
    return MARK.sub("", text)
