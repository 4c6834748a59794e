"""Bulk requests in English: one change to every task a filter chooses.

"push everything due today to tomorrow", "complete all my work tasks", "delete everything
tagged old", "tag all of today's tasks urgent" → a `Bulk` command: the action, the filter (state,
priority, tag, a `list_tasks` due window, words to find) and the change (new due date, tags).
`parse_bulk` reads only what it can state exactly; anything else in the filter ("everything
this weekend", "all the ones I added yesterday") returns None, so the grammar answers honestly
instead of previewing the wrong tasks.
"""

from __future__ import annotations

import re
from datetime import datetime

from todo_agent.offline.commands import Bulk, DueWindow, Priority, State
from todo_agent.offline.contract import BulkAction
from todo_agent.offline.dates import Due, extract_due
from todo_agent.offline.patterns import rx
from todo_agent.offline.phrases import extract_priority, extract_tags

# The due windows `list_tasks` (and so the bulk tool) takes.
_WINDOWS: tuple[tuple[re.Pattern[str], DueWindow], ...] = (
    (rx(r"\b(?:overdue|late|past\s+due)\b"), "overdue"),
    (rx(r"\b(?:today's|todays|today|tonight)(?!\w)"), "today"),
    (rx(r"\b(?:tomorrow's|tomorrows|tomorrow)(?!\w)"), "tomorrow"),
    (rx(r"\bnext\s+week(?:'s)?\b"), "next_week"),
    (rx(r"\b(?:this\s+week(?:'s)?|my\s+week)\b"), "this_week"),
)
# "all", "everything" — or a plural with a filter ("clear out my finished tasks").
_ALL = rx(
    r"\b(?:tasks|ones|todos|items)\b|\b(?:everything|all|every|each\s+(?:task|one)|"
    r"whole\s+list|entire\s+list)\b",
    # "move my overdue stuff to friday": a state or window before "stuff"/"things" is a filter.
    r"|\b(?:overdue|late|today's|tomorrow's|week's|completed|finished|done|ticked[\s-]off)\s+"
    r"(?:stuff|things|jobs)\b",
)
_COMPLETE = rx(
    r"^(?:mark|set|tick|check)\s+(?P<f>.+?)\s+(?:as\s+)?(?:done|complete|completed|finished|off)$"
    r"|^(?:complete|finish|tick\s+off|check\s+off|cross\s+off|close)\s+(?P<f2>.+)$"
)
_DELETE = rx(
    r"^(?:delete|remove|clear(?:\s+out)?|get\s+rid\s+of|drop|erase|trash|bin|wipe|scrap)\s+(?P<f>.+)$"
)
_RESCHEDULE = rx(
    r"^(?:move|push|shift|postpone|reschedule|bump|delay|put\s+off)\s+(?P<f>.+?)\s+"
    r"(?:over\s+|back\s+|forward\s+)?(?:to|until|till|for)\s+(?P<when>.+)$"
)
_UNTAG = rx(
    r"^(?:remove|take|drop|delete)\s+(?:the\s+)?(?P<tags>#?[\w-]+)\s+tag\s+(?:from|off|on)\s+(?P<f>.+)$"
)
_TAG = rx(
    r"^(?:tag|label|mark)\s+(?P<f>.+?)\s+(?:with\s+|as\s+)?(?:the\s+tag\s+)?(?P<tags>#?[\w-]+)$"
)
_QUERY = rx(
    r"\b(?:about|mentioning|containing|matching)\s+(?P<q>['\"]?[\w'-]+(?:\s+[\w'-]+)?['\"]?)"
    r"|\bwith\s+(?P<q2>['\"][^'\"]+['\"]|\w+)\s+in\s+(?:it|them|the\s+title)\b"
)
_TAGGED = rx(r"\b(?:tagged|labelled|labeled|with\s+(?:the\s+)?tag|under)\s+#?(?P<t>[\w-]+)")
_STATE_DONE = rx(r"\b(?:completed|done|finished|ticked[\s-]off|closed)\b")
_STATE_OPEN = rx(r"\b(?:open|pending|unfinished|outstanding|remaining)\b")
# Words a filter may hold that choose nothing.
_FILLER = rx(
    r"\b(?:everything|all|every|each|single|whole|entire|list|of|the|my|these|those|tasks?|ones?|"
    r"stuff|things?|items?|todos?|jobs?|that's|thats|that|which|are|is|were|due|i\s+have|i've\s+got|"
    r"on|in|from|for|set|with|a|an|in\s+it|in\s+them|it|them|also|now|please|s|priority|prio|"
    r"i've|i\s+have|i'd|i\s+had|i|already|ve)\b"
    r"|[#'\",.!?:;]"
)
# "complete all my work tasks": a word before "tasks"/"ones"/"stuff" names a tag.
_WORD_TASKS = rx(r"\b(?P<t>[a-z][\w-]*)\s+(?:tasks|ones|stuff|things|items|jobs|todos)\b")
_NOT_A_TAG = frozenset(
    [
        "all",
        "my",
        "the",
        "of",
        "every",
        "each",
        "open",
        "pending",
        "done",
        "completed",
        "finished",
        "overdue",
        "late",
        "today's",
        "todays",
        "tomorrow's",
        "today",
        "tomorrow",
        "week's",
        "week",
        "these",
        "those",
        "other",
        "remaining",
        "outstanding",
        "high",
        "low",
        "medium",
        "urgent",
        "important",
        "priority",
        "my",
        "own",
        "old",
        "new",
    ]
)


def _filters(
    text: str, action: str
) -> tuple[State, Priority | None, str | None, DueWindow, str | None] | None:
    """(state, priority, tag, window, query) of a filter, or None when some of it is unread."""
    tags, rest = extract_tags(text)
    tag = tags[0] if len(tags) == 1 else None
    if len(tags) > 1:
        return None
    query: str | None = None
    found = _QUERY.search(rest)
    if found is not None:
        query = (found.group("q") or found.group("q2")).strip("'\" ")
        rest = f"{rest[: found.start()]} {rest[found.end() :]}"
    if tag is None:
        tagged = _TAGGED.search(rest)
        if tagged is not None:
            tag = tagged.group("t").lower()
            rest = f"{rest[: tagged.start()]} {rest[tagged.end() :]}"
    priority, rest = extract_priority(rest)
    window: DueWindow = "any"
    for pattern, name in _WINDOWS:
        hit = pattern.search(rest)
        if hit is not None:
            window = name
            rest = f"{rest[: hit.start()]} {rest[hit.end() :]}"
            break
    state: State = "open"
    if _STATE_DONE.search(rest):
        if action == "complete":
            return None
        state = "completed"
        rest = _STATE_DONE.sub(" ", rest)
    rest = _STATE_OPEN.sub(" ", rest)
    if tag is None:
        word = _WORD_TASKS.search(rest)
        if word is not None and word.group("t").lower() not in _NOT_A_TAG:
            tag = word.group("t").lower()
            rest = f"{rest[: word.start()]} {rest[word.start() + len(word.group('t')) :]}"
    leftover = _FILLER.sub(" ", rest).split()
    if leftover:
        return None
    return state, priority, tag, window, query


def _bulk(
    action: BulkAction,
    words: str,
    *,
    new_due: Due | None = None,
    add_tags: tuple[str, ...] = (),
    remove_tags: tuple[str, ...] = (),
) -> Bulk | None:
    """The bulk `action` on the tasks `words` choose, or None when the filter is not all read."""
    found = _filters(words, action)
    if found is None:
        return None
    state, priority, tag, window, query = found
    if tag is not None and tag in add_tags and query is None:
        # "tag all the wedding tasks with wedding": the tasks already tagged so would not
        # change, so the word names the tasks by their titles.
        tag, query = None, tag
    return Bulk(
        action,
        state,
        priority,
        tag,
        window,
        query,
        new_due=new_due,
        add_tags=list(add_tags),
        remove_tags=list(remove_tags),
        label=words,
    )


def _tag_named(match: re.Match[str]) -> str:
    return match.group("tags").lstrip("#").lower()


def parse_bulk(text: str, now: datetime) -> Bulk | None:
    """The bulk change a message asks for, or None when it is not one this can state exactly."""
    if not _ALL.search(text):
        return None
    if (match := _RESCHEDULE.match(text)) is not None:
        due, rest = extract_due(match.group("when"), now)
        if due is None or rest.strip(" ,.!"):
            return None
        return _bulk("reschedule", match.group("f"), new_due=due)
    if (match := _UNTAG.match(text)) is not None:
        return _bulk("tag", match.group("f"), remove_tags=(_tag_named(match),))
    if (match := _COMPLETE.match(text)) is not None:
        return _bulk("complete", match.group("f") or match.group("f2"))
    if (match := _DELETE.match(text)) is not None:
        return _bulk("delete", match.group("f"))
    if (match := _TAG.match(text)) is not None:
        new = _tag_named(match)
        if new in ("done", "complete", "completed", "finished"):
            return None
        return _bulk("tag", match.group("f"), add_tags=(new,))
    return None
