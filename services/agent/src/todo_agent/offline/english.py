"""The English grammar: add (several tasks at once, due dates, priorities, #tags), list with
filters, search, show, complete/reopen/delete/update/rename/re-date, small talk and help.

`RULES` is tried in order and the first rule that builds a command wins, so the order is the
grammar's precedence: small talk first, then edits of one task (whose phrasings carry the most
structure: "rename X to Y", "move X to friday"), then actions, search, show and add, and last
the catch-all for anything that asks to see tasks.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from todo_agent.offline.bulk import parse_bulk
from todo_agent.offline.commands import (
    Act,
    Action,
    Add,
    Chat,
    Command,
    Confirm,
    Decline,
    DueWindow,
    Greeting,
    Help,
    ListTasks,
    Priority,
    Search,
    State,
    TaskRef,
    Undo,
    Unknown,
    Update,
)
from todo_agent.offline.dates import NUMBER_WORDS, extract_due, extract_window
from todo_agent.offline.patterns import rx
from todo_agent.offline.phrases import (
    ACTION_VERBS,
    PRIORITY_WORDS,
    clean_title,
    extract_priority,
    extract_tags,
    first_window,
    parse_add_items,
    parse_ref,
    parse_refs,
)
from todo_agent.offline.recurrence import extract_recurrence
from todo_agent.offline.reminders import find_reminder
from todo_agent.offline.replies import (
    BULK_FILTER_UNCLEAR,
    CANNOT_REMIND,
    ONE_AT_A_TIME,
    REPEAT_UNCLEAR,
)
from todo_agent.offline.rules import (
    Builder,
    Grammar,
    Rule,
    Utterance,
    anywhere,
    at_start,
    raw_at_start,
)

# ---------------------------------------------------------------------------------------------
# Courtesy words, taken off before the rules read a message.

_POLITE_START = rx(
    r"^(?:please|pls|plz|(?:can|could|would|will)\s+(?:you|u|ya)|kindly|hey|hi|ok|okay|so|and|also|now|then|assistant)[\s,]+"
)
_POLITE_END = rx(r"[\s,]*(?:please|pls|plz|thanks|thank\s+you|for\s+me)?[\s.!?]*$")


# Words the rules key on, so a typo in one still reads ("delet", "tomorow", "overdeu").
KEYWORDS = [
    "add",
    "delete",
    "remove",
    "complete",
    "completed",
    "reschedule",
    "rename",
    "search",
    "postpone",
    "priority",
    "high",
    "tomorrow",
    "today",
    "overdue",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "weekend",
    "urgent",
    "list",
    "show",
    "finished",
    "done",
    "next",
    "week",
    "what's",
    "finish",
    "prioritise",
    "prioritize",
    "rename",
    "important",
]
_TYPO_EXCEPTIONS = frozenset(
    [
        "and",
        "ad",
        "at",
        "as",
        "a",
        "an",
        "the",
        "to",
        "do",
        "did",
        "dad",
        "mad",
        "bad",
        "had",
        "sad",
        "weekly",
        "daily",
        "listen",
        "lists",
        "shown",
        "dinner",
        "donut",
        "doing",
        "uncomplete",
        "undone",
        "unfinished",
        "incomplete",
        "unmark",
        "unfinish",
    ]
)
_SHORT_FIXES = {
    "ad": "add",
    "hihg": "high",
    "lsit": "list",
    "nxt": "next",
    "wk": "week",
    "dne": "done",
    "sho": "show",
    "wat": "what",
    "whats": "what's",
    "todays": "today's",
    "tmrw": "tomorrow",
    "teh": "the",
    "hte": "the",
    "adn": "and",
    "doen": "done",
    "dnoe": "done",
    "wats": "what's",
    "whta's": "what's",
    "waht's": "what's",
    "whta": "what",
    "waht": "what",
    "nxet": "next",
    "weeek": "week",
    "finsh": "finish",
    "overdoo": "overdue",
    "ovrdue": "overdue",
    # Contractions typed without the apostrophe ("i dont need to …").
    "dont": "don't",
    "doesnt": "doesn't",
    "didnt": "didn't",
    "havent": "haven't",
    "hasnt": "hasn't",
    "isnt": "isn't",
    "wasnt": "wasn't",
    "werent": "weren't",
    "arent": "aren't",
    "ive": "i've",
}


# Short command verbs, read through a swap or a dropped letter ("mvoe", "mkae", "shw").
_SHORT_VERBS = ("move", "make", "mark", "show", "list", "done", "push", "tick", "drop", "add")


def _short_verb(word: str) -> str | None:
    """The short verb a 3-4 letter typo stands for, when exactly one fits."""
    fits = [
        verb
        for verb in _SHORT_VERBS
        if word != verb
        and word[0] == verb[0]
        and (
            (len(word) == len(verb) and sorted(word) == sorted(verb))
            or (len(word) == len(verb) - 1 and _dropped_letter(word, verb))
        )
    ]
    return fits[0] if len(fits) == 1 else None


def _dropped_letter(word: str, verb: str) -> bool:
    return any(verb[:i] + verb[i + 1 :] == word for i in range(1, len(verb)))


def fix_typos(text: str) -> str:
    """Corrects a misspelt keyword (one edit or two letters swapped away, words of 4+ letters)
    and a few everyday short forms; other words, titles included, stay as typed."""
    words = text.split(" ")
    for index, word in enumerate(words):
        bare = word.lower().strip(",.!?:")
        if index == 0 and bare == "ad":
            words[index] = "add" + word[2:]
            continue
        if bare in _SHORT_FIXES and bare != "ad":
            words[index] = word.lower().replace(bare, _SHORT_FIXES[bare])
            continue
        if index == 0 and 3 <= len(bare) <= 4 and bare.isalpha() and bare not in _TYPO_EXCEPTIONS:
            verb = _short_verb(bare)
            if verb is not None:
                words[index] = word.lower().replace(bare, verb)
                continue
        if (
            len(bare) < 5
            or bare in KEYWORDS
            or bare in _TYPO_EXCEPTIONS
            or bare in ACTION_VERBS
            or not bare.isalpha()
        ):
            continue
        close = difflib.get_close_matches(bare, KEYWORDS, n=1, cutoff=0.8)
        if close:
            words[index] = word.lower().replace(bare, close[0])
    return " ".join(words)


# Openers that carry no meaning ("actually make it friday", "I want to rename …").
_FILLER_START = rx(
    r"^(?:actually|oh|um+|hmm+|wait|right|sorry|oops|ah|erm)[\s,]+"
    r"|^(?:i\s+want\s+to|i'd\s+like\s+to|i\s+would\s+like\s+to|let's|lets|can\s+we|could\s+we|i\s+need\s+you\s+to)\s+"
    r"(?=(?:rename|retitle|change|move|push|delete|remove|mark|complete|tick|reschedule|postpone|"
    r"set|make|update|edit|tag|untag|call|see|show|list|check|do|have|bump|lower|raise|get\s+rid)\b)"
)


def prepare(text: str) -> str:
    """ "Could you please add milk, thanks!" → "add milk"."""
    # Up to three courtesy words in a row: "ok so can you …".
    for _ in range(3):
        text = _FILLER_START.sub("", _POLITE_START.sub("", text))
    return fix_typos(_POLITE_END.sub("", text).strip())


# ---------------------------------------------------------------------------------------------
# Listing: which tasks a request to see them asks for.

_TAGGED = rx(r"\b(?:tagged|labelled|labeled|with\s+(?:the\s+)?tag|under)\s+#?([\w-]+)")
# "show work stuff": a tag named before "stuff"/"things".
_STUFF = rx(
    r"^(?:show|list|see)\s+(?:me\s+)?(?:my\s+|the\s+|all\s+)?(?!(?:my|the|all|open|done|urgent|important|other|"
    r"completed|finished|overdue|late|high|low|medium|pending|today's|tomorrow's|today|tomorrow|tonight|weekend|"
    r"week|next|this|old|new|remaining)\b)([\w-]+)\s+(?:stuff|things|tasks)$"
)
_ALL_STATES = rx(r"\b(?:all|everything|every|both|any\s+state)\b")
# "all open tasks" is about open tasks, not every state.
_ALL_OF_ONE_STATE = rx(r"\ball\s+(?:open|pending|done|completed|finished)\b")
_COMPLETED = rx(
    r"\b(?:done|completed|finished|closed|ticked\s+(?:\w+\s+)?off|checked\s+off|crossed\s+off|got\s+done|"
    r"did\s+i\s+(?:do|get\s+done|finish|complete|tick\s+off|manage)|have\s+i\s+(?:done|finished|completed))\b"
)
# The first window named wins.
LIST_WINDOWS: tuple[tuple[re.Pattern[str], DueWindow], ...] = (
    (
        rx(
            r"\b(?:without|with\s+no|no|missing)\s+(?:a\s+)?(?:due\s+date|deadline|date)s?\b|\bundated\b"
        ),
        "undated",
    ),
    (rx(r"\b(?:overdue|late|past\s+due|missed|behind)\b"), "overdue"),
    (rx(r"\b(?:today|today's|tonight|my\s+day)\b"), "today"),
    (rx(r"\btomorrow\b"), "tomorrow"),
    (rx(r"\bnext\s+week\b"), "next_week"),
    (
        rx(
            r"\b(?:this\s+week|this\s+week's|my\s+week|the\s+week|within\s+(?:a|the)\s+week|this\s+coming\s+week)\b"
        ),
        "this_week",
    ),
)


def _state_filter(text: str) -> State:
    # "what do I need to get done by friday" asks what is still open.
    text = re.sub(r"\b(?:need|have)\s+to\s+get\s+done\b", " ", text, flags=re.I)
    if re.search(
        r"\bnot\s+(?:yet\s+)?(?:done|finished|completed)\b|\b(?:undone|unfinished|incomplete)\b",
        text,
        re.I,
    ):
        return "open"
    if _ALL_STATES.search(text) and not _ALL_OF_ONE_STATE.search(text):
        return "all"
    if _COMPLETED.search(text):
        return "completed"
    return "open"


# "work tasks due this week", "what are my home things for tomorrow": a word before "tasks".
_SOFT_TAG = rx(
    r"(?:^|\b(?:my|the|any|all|show|list|see|what\s+are)\s+)(?P<t>[a-z][\w-]*)\s+(?:tasks|stuff|things|jobs|todos)\b"
)
_NOT_A_TAG_WORD = frozenset(
    [
        "my",
        "the",
        "all",
        "any",
        "open",
        "done",
        "completed",
        "finished",
        "overdue",
        "late",
        "high",
        "low",
        "medium",
        "urgent",
        "important",
        "today's",
        "tomorrow's",
        "todays",
        "today",
        "tomorrow",
        "tonight",
        "this",
        "next",
        "week's",
        "weekend's",
        "remaining",
        "pending",
        "other",
        "outstanding",
        "old",
        "new",
        "upcoming",
        "these",
        "those",
        "which",
        "what",
        "priority",
        "due",
        "undated",
        "recurring",
        "repeating",
        "some",
        "few",
    ]
)


def parse_list(text: str, now: datetime) -> ListTasks:
    """Filters from a request to see tasks."""
    command = _parse_list(text, now)
    if command.tag is None:
        soft = _SOFT_TAG.search(text)
        if soft is not None and soft.group("t").lower() not in _NOT_A_TAG_WORD:
            command.tag_hint = soft.group("t").lower()
    return command


def _parse_list(text: str, now: datetime) -> ListTasks:
    tags, rest = extract_tags(text)
    tag = tags[0] if tags else None
    if tag is None:
        match = _TAGGED.search(rest) or _STUFF.search(rest)
        if match:
            tag = match.group(1).lower()
    priority, rest = extract_priority(rest)
    state = _state_filter(rest)
    due = first_window(LIST_WINDOWS, rest)
    if due == "overdue" and re.search(r"\btoday\b", rest, re.I):
        # "overdue or due today": today's tasks and every late one.
        return ListTasks(
            state, priority, tag, "today", overdue_too=True, label="due today or overdue"
        )
    if due == "any" or re.search(
        r"\b(?:by|before|next\s+\w+\s+days?|today\s+(?:or|and|&)\s+tomorrow|the\s+(?:next|coming)\s+week)\b",
        rest,
        re.I,
    ):
        days, overdue_too, label = extract_window(rest, now)
        if days is not None:
            return ListTasks(state, priority, tag, "any", days, overdue_too, label)
    return ListTasks(state=state, priority=priority, tag=tag, due=due)


# ---------------------------------------------------------------------------------------------
# Builders: what a rule's match means. Each declines (None) when the match holds no task.


def _act(action: Action) -> Builder:
    def build(match: re.Match[str], _: Utterance) -> Command | None:
        if _NOT_A_TARGET.match(match.group("target").strip()):
            return None
        refs = parse_refs(match.group("target"))
        return Act(action, refs) if refs else None

    return build


def _show(match: re.Match[str], _: Utterance) -> Command | None:
    # Only a task pointed at exactly (id, position, "it"): a title here is usually a list
    # request ("show my tasks", "show overdue") that the list rule reads.
    ref = parse_ref(match.group("target"))
    if ref is not None and ref.kind in ("id", "position", "last"):
        return Act("get", [ref])
    return None


Edit = Callable[[TaskRef, re.Match[str], Utterance], Update | None]


def _edit(make: Edit) -> Builder:
    """A builder for an edit of one task: `make` reads the change once the target is a task."""

    def build(match: re.Match[str], utterance: Utterance) -> Command | None:
        target = match.group("target")
        if _NOT_A_TARGET.match(target.strip()):
            return None
        refs = parse_refs(target)
        ref = refs[0] if len(refs) > 1 else parse_ref(target)
        update = None if ref is None else make(ref, match, utterance)
        if update is not None and len(refs) > 1:
            update.also = refs[1:]
        return update

    return build


# What a question or a filter starts with, never a task ("which tasks are high priority").
_NOT_A_TARGET = rx(
    r"^(?:what|what's|whats|which|who|how|anything|everything|all|any|every|my\s+tasks|tasks|"
    r"the\s+tasks|stuff|things)\b"
)


def _note(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    return Update(ref, notes=match.group("note").strip())


def _rename(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    new = clean_title(match.group("new"))
    return Update(ref, title=new) if new else None


_ONLY_TIME = rx(r"^(?:at\s+)?\d{1,2}(?::\d{2})?\s*(?:am|pm)?$|^(?:at\s+)?(?:noon|midday)$")


def _redate_strict(ref: TaskRef, match: re.Match[str], utterance: Utterance) -> Update | None:
    """A re-date whose <when> is a date or time and nothing else ("change the haircut to 4pm";
    "change X to Y" with other words is a rename). A time alone keeps the task's day."""
    when = match.group("when").strip()
    if extract_recurrence(utterance.text, utterance.now) is not None:
        # "put the recycling out every other thursday": a repeat, never a one-off re-date.
        return None
    due, rest = extract_due(when, utterance.now)
    if due is None or rest.strip(" ,.") or (ref.kind == "title" and not ref.value):
        return None
    return Update(ref, due=due, keep_time=True, keep_day=bool(_ONLY_TIME.match(when)))


def _shift(match: re.Match[str], _: Utterance) -> Command | None:
    target = match.group("target") or match.group("target2")
    # "a couple of" and "a few" count as "couple of" and "few" do.
    count = " ".join((match.group("n") or match.group("n2")).lower().split())
    count = count if count in NUMBER_WORDS or count.isdigit() else count.removeprefix("a ")
    unit = (match.group("unit") or match.group("unit2")).lower()
    days = (int(count) if count.isdigit() else NUMBER_WORDS[count]) * (
        7 if unit.startswith("week") else 1
    )
    ref = parse_ref(target)
    return Update(ref, shift_days=days) if ref is not None else None


def _clear_due(ref: TaskRef, _match: re.Match[str], _: Utterance) -> Update | None:
    return Update(ref, clear_due=True)


def _redate(ref: TaskRef, match: re.Match[str], utterance: Utterance) -> Update | None:
    if extract_recurrence(utterance.text, utterance.now) is not None:
        return None
    due, _ = extract_due(match.group("when"), utterance.now)
    # A new day for a timed task keeps its time.
    return Update(ref, due=due, keep_time=True) if due is not None else None


def _split_tags(text: str) -> list[str]:
    tags = extract_tags(text)[0]
    return tags or [
        t.lower() for t in re.findall(r"[\w-]+", text) if t.lower() not in ("and", "tags", "tag")
    ]


def _tag_more(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    tags = _split_tags(match.group("tags"))
    return Update(ref, add_tags=tags) if tags else None


def _untag(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    tags = _split_tags(match.group("tags"))
    return Update(ref, remove_tags=tags) if tags else None


def _retag(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    return Update(
        ref, add_tags=[match.group("new").lower()], remove_tags=[match.group("old").lower()]
    )


def _set_priority(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    # "urgent" and "important" are not in the table: both mean high.
    return Update(ref, priority=PRIORITY_WORDS.get(match.group("prio").lower(), "high"))


def _shift_priority(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    up = match.group("dir").lower() in ("raise", "increase", "bump")
    priority: Priority = "high" if up else "low"
    return Update(ref, priority=priority)


def _prioritize(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    said = match.groupdict().get("prio")
    return Update(ref, priority=PRIORITY_WORDS.get(said.lower(), "high") if said else "high")


def _lower(ref: TaskRef, _match: re.Match[str], _: Utterance) -> Update | None:
    return Update(ref, priority="low")


def _rename_edit(ref: TaskRef, match: re.Match[str], utterance: Utterance) -> Update | None:
    """A rename, with "and make it high priority" read as a second change."""
    groups = match.groupdict()
    new = groups.get("new") or groups.get("new2") or groups.get("new3") or ""
    extra = re.search(r"\s+and\s+make\s+it\s+" + _PRIO_WORD + r"(?:\s+priority)?$", new, re.I)
    priority: Priority | None = None
    if extra is not None:
        priority = PRIORITY_WORDS.get(extra.group("prio").lower(), "high")
        new = new[: extra.start()]
    title = clean_title(new)
    return Update(ref, title=title, priority=priority) if title else None


def _plain_rename(ref: TaskRef, match: re.Match[str], utterance: Utterance) -> Update | None:
    """ "change X to Y" is a rename only when Y holds no date, priority or tag."""
    new = match.group("new")
    if (
        extract_due(new, utterance.now)[0] is not None
        or extract_priority(new)[0] is not None
        or extract_tags(new)[0]
        or re.match(r"^(?:say|read)\b", new, re.I)
    ):
        return None
    return _rename_edit(ref, match, utterance)


def _tag(ref: TaskRef, match: re.Match[str], utterance: Utterance) -> Update | None:
    # Adding a tag keeps the task's other tags ("tag X with work and home").
    return _tag_more(ref, match, utterance)


_SEARCH_LEAD = rx(
    r"^(?:tasks?\s+)?(?:about|mentioning|containing|with)\s+|^(?:anything\s+)?with\s+(?:the\s+word\s+)?|^the\s+word\s+"
)
_SEARCH_TAIL = rx(r"\s+in\s+(?:them|it)$")
# "done tasks for …", "the open stuff about parking": a state, then the words to find.
_SEARCH_STATE = rx(
    r"^(?:my\s+|the\s+)?(?P<state>done|completed|finished|open|pending)\s+"
    r"(?:tasks|stuff|ones|things|items)\s+(?:for|about|with|on|mentioning)\s+"
)
_SEARCH_ARTICLE = rx(r"^(?:the|a|an|my)\s+")


def _search(match: re.Match[str], utterance: Utterance) -> Command | None:
    query = match.group("q").strip(" \"'“”?.")
    if _is_window(query, utterance.now):
        # "anything on this weekend", "anything on the 24th": a day to list, not words to find.
        return parse_list(utterance.text, utterance.now)
    state: State = "all"
    said = _SEARCH_STATE.match(query)
    if said is not None:
        open_ = said.group("state").lower() in ("open", "pending")
        state, query = "open" if open_ else "completed", query[said.end() :]
    query = _SEARCH_ARTICLE.sub("", _SEARCH_LEAD.sub("", _SEARCH_TAIL.sub("", query)))
    query = query.strip(" \"'“”?.")
    return Search(query, state) if query else None


def _is_window(text: str, now: datetime) -> bool:
    """True when `text` names only days ("this weekend", "the 24th", "friday")."""
    if first_window(LIST_WINDOWS, text) != "any" and not clean_title(
        re.sub(
            r"\b(?:overdue|late|today|tomorrow|this|next|week|weekend|my)\b", " ", text, flags=re.I
        )
    ):
        return True
    days, _, _ = extract_window(text, now)
    if days is None:
        return False
    due, rest = extract_due(text, now)
    return due is None or not clean_title(rest) or bool(_ONLY_LIST_WORDS.match(clean_title(rest)))


# After "make", "put", "set" or "give", words that edit a task rather than name a new one.
_EDIT_NOT_ADD = rx(
    r"^(?:make|put|set|give|mark|change)\s+(?:(?:it|that|this|them|both)\b|(?:the|my)\s+.+?\s+(?:"
    r"due|priority|prio|urgent|important|high|low|medium|normal|title|name|repeat|recurring|"
    r"to|as|on|off|for|until|till|back|forward|under)\b)"
    r"|^put\s+off\b"
)
_DONE_TASKS = rx(
    r"^(?:show\s+(?:me\s+)?)?(?:my\s+|the\s+|all\s+)?(?:completed|finished|done|ticked[\s-]off)\s+"
    r"(?:tasks|ones|items|stuff|things|todos|jobs)\b"
)
_MAKE_REPEAT = rx(
    r"^(?:make|set|have)\s+(?P<target>.+?)\s+(?:to\s+)?(?:repeat|recur|recurring|repeating|happen)\b(?P<how>.*)$"
    r"|^(?P<target2>.+?)\s+should\s+(?:repeat|recur|happen)\b(?P<how2>.*)$"
)
_STOP_REPEAT = rx(
    r"^(?:stop|don't|do\s+not)\s+(?:repeating\s+|making\s+)?(?P<target>.+?)\s+(?:from\s+)?(?:repeat|repeating|recur|recurring)(?:\s+any\s*more)?$"
    r"|^(?:stop\s+repeating|make\s+(?P<target2>.+?)\s+(?:a\s+)?one[\s-]off)\b\s*(?P<target3>.*)$"
)
CANNOT_REPEAT_EXISTING = (
    "I couldn't tell how often it should repeat. Say it like "
    '"make the gym session repeat every monday".'
)


def _make_repeat(match: re.Match[str], utterance: Utterance) -> Command | None:
    """ "make the gym session repeat every week": the rule, its day from the task's due date
    when the phrase names none."""
    groups = match.groupdict()
    target = groups.get("target") or groups.get("target2") or ""
    how = (groups.get("how") or groups.get("how2") or "").strip()
    ref = parse_ref(target)
    if ref is None or _NOT_A_TARGET.match(target.strip()):
        return None
    found = extract_recurrence(how, utterance.now) if how else None
    if found is None or not found.rule or clean_title(found.rest):
        return Decline(CANNOT_REPEAT_EXISTING)
    names_day = bool(re.search(r"BYDAY=|BYMONTHDAY=\d", found.rule)) and bool(
        re.search(r"\b(?:mon|tue|wed|thu|fri|sat|sun|weekday|weekend|the\s+\d)", how, re.I)
    )
    return Update(ref, recurrence=found.rule, repeat_from_due=not names_day)


def _stop_repeating(ref: TaskRef, _match: re.Match[str], _: Utterance) -> Update | None:
    return Update(ref, stop_repeating=True)


def _add(match: re.Match[str], utterance: Utterance) -> Command | None:
    if _EDIT_NOT_ADD.match(utterance.text):
        return None
    tasks = parse_add_items(match.group("rest"), utterance.now)
    return Add(tasks) if tasks else None


def _on_my_list(match: re.Match[str], utterance: Utterance) -> Command | None:
    tasks = parse_add_items(f"{match.group('rest')} {match.group('tail')}", utterance.now)
    return Add(tasks) if tasks and all(t.title for t in tasks) else None


def _untag_rule(match: re.Match[str], _: Utterance) -> Command | None:
    target = match.group("target") or match.group("target2")
    tags = match.group("tags") or match.group("tags2")
    ref = parse_ref(target)
    return Update(ref, remove_tags=[tags.lstrip("#").lower()]) if ref is not None else None


def _chat(reply: str) -> Builder:
    return lambda _match, _utterance: Chat(reply)


def _always(command: Callable[[], Command]) -> Builder:
    return lambda _match, _utterance: command()


# ---------------------------------------------------------------------------------------------
# Patterns. `(?P<target>…)` is a task reference, read by `phrases.parse_ref(s)`.

_HELP = rx(
    r"^(?:help|\?+|what\s+(?:else\s+|exactly\s+)?can\s+you\s+(?:actually\s+|really\s+|even\s+|exactly\s+)?do|"
    r"what\s+are\s+you\s+(?:actually\s+|even\s+)?able\s+to\s+do|what\s+do\s+you\s+(?:understand|do|know)|how\s+do\s+(?:i|you)\s+use\s+(?:this|you)|"
    r"how\s+does\s+this\s+work|commands|what\s+are\s+your\s+commands|who\s+are\s+you|instructions|"
    r"what\s+can\s+i\s+(?:ask|say|tell|type)|what\s+(?:should|do)\s+i\s+(?:say|type))\b"
)
_GREETING = rx(
    r"^(?:hi|hello|hey|hiya|yo|howdy|(?:good\s+)?(?:morning|afternoon|evening)|good\s+day|greetings|salam|salaam|assalam\w*)"
    r"(?:\s+(?:there|all|again|mate|friend|buddy|everyone|you))?$"
)
_THANKS = rx(r"^(?:thanks|thank\s+you|thx|ty|cheers|great|perfect|cool|nice|awesome)\b.*$")
_NOTHING = re.compile(r"^$")
_NOTHING_OR_ANY = re.compile(r"^")
_NOTE = rx(
    r"^(?:add\s+(?:a\s+)?note\s+(?:to|on|for)|note\s+on|annotate)\s+(?P<target>.+?)\s*(?::|-|saying|that)\s*(?P<note>.+)$"
)
_RENAME_TO = rx(
    r"^(?:rename|retitle)\s+(?P<target>.+?)(?:\s+(?:to|as|into)\s+|\s*(?::|→|->|=>)\s*)(?P<new>.+)$"
)
# Renames in other words: "update the title of X: Y", "edit the X title to Y", "typo in X, it
# should be Y", "call the X task Y instead".
_TO = r"(?:\s+(?:to|as|into)\s+|\s*(?::|→|->|=>)\s*)"
_QUOTED_NEW = r"(?P<new>'[^']+'|\"[^\"]+\")"
_RENAME_GENERAL: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "update the title of X: Y",
        rx(
            r"^(?:change|update|edit|fix|set|make|correct|amend|swap)\s+(?:the\s+)?(?:title|name|wording|text|description)\s+"
            r"(?:of|for|on)\s+(?P<target>.+?)(?:",
            _TO,
            r"(?P<new2>.+)|\s+(?:for|with)\s+(?P<new3>.+)|\s+",
            _QUOTED_NEW,
            r")$",
        ),
    ),
    (
        "edit the X title to Y",
        rx(
            r"^(?:change|update|edit|fix|set|correct|amend)\s+(?P<target>.+?)(?:'s)?\s+(?:title|name|wording)",
            _TO,
            r"(?P<new>.+)$",
        ),
    ),
    (
        "typo in X, it should be Y",
        rx(
            r"^(?:there's\s+a\s+|there\s+is\s+a\s+)?(?:typo|mistake|spelling\s+mistake)\s+in\s+(?P<target>.+?)"
            r"\s*[,;:\-\u2013]\s*(?:it\s+)?should\s+(?:be|say|read)\s+(?P<new>.+)$"
        ),
    ),
    (
        "X needs a new name: Y",
        rx(
            r"^(?P<target>.+?)\s+needs\s+(?:a\s+)?(?:new\s+|different\s+)?(?:name|title)\s*(?::|-|\u2013)\s*(?P<new>.+)$"
        ),
    ),
    (
        "call the X task Y",
        rx(
            r"^call\s+(?P<target>(?:the|my|that)\s+.+?\s+(?:task|one|thing|item))\s+(?P<new>.+?)(?:\s+instead)?$"
        ),
    ),
)
# "change buy milk to buy milk and bread": a rename once no re-date, priority or tag read it.
_CHANGE_TO = rx(
    r"^(?:change|update|switch|amend|correct)\s+(?P<target>.+?)(?:\s+(?:to|into)\s+|\s*(?:→|->|=>)\s*)(?P<new>.+)$"
)
_CHANGE_TITLE = rx(
    r"^(?:change|update|set)\s+(?:the\s+)?(?:title|name|text)\s+(?:of|for)\s+(?P<target>.+?)\s+to\s+(?P<new>.+)$"
)
_RENAMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "change 'A' to 'B'",
        rx(r"^(?:change|rename)\s+(?P<target>'[^']+'|\"[^\"]+\")\s+(?:to|into)\s+(?P<new>.+)$"),
    ),
    (
        "X should be called Y",
        rx(r"^(?P<target>.+?)\s+should\s+(?:be\s+called|read|say)\s+(?P<new>.+)$"),
    ),
    (
        "call X 'Y' instead",
        rx(r"^call\s+(?P<target>.+?)\s+(?P<new>'[^']+'|\"[^\"]+\")(?:\s+instead)?$"),
    ),
    (
        "fix the name of X: Y",
        rx(
            r"^(?:fix|change|correct)\s+the\s+(?:name|title)\s+of\s+(?P<target>.+?)\s*:\s*(?P<new>.+)$"
        ),
    ),
    ("edit X, make it Y", rx(r"^edit\s+(?P<target>.+?),?\s+(?:make\s+it|to)\s+(?P<new>.+)$")),
    (
        "change the X task name to Y",
        rx(r"^(?:change|set)\s+(?P<target>.+?)\s+(?:name|title)\s+to\s+(?P<new>.+)$"),
    ),
    (
        "I'd like X to say Y",
        rx(r"^i'd\s+like\s+(?P<target>.+?)\s+to\s+(?:say|read|be\s+called)\s+(?P<new>.+)$"),
    ),
)
_CHANGE_TO_SAY = rx(r"^(?:change|update)\s+(?P<target>.+?)\s+to\s+(?:say|read)\s+(?P<new>.+)$")
_CLEAR_DUE = rx(
    r"^(?:clear|remove|delete|drop|take|get\s+rid\s+of|scrap|lose)\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for|from|on|off)\s+(?P<target>.+)$"
)
_NO_DUE = rx(r"^no\s+(?:due\s+date|deadline|date)\s+(?:for|on)\s+(?P<target>.+)$")
# Re-dates in everyday words; the builder takes them only when <when> is a date and no more.
_RESCHEDULE = rx(
    r"^(?:change|bring|make|set|put|can)\s+(?P<target>.+?)\s+(?:forward\s+|back\s+)?(?:to|till|until|for|wait\s+(?:till|until))?\s*"
    r"(?P<when>(?:(?:on|at|by)\s+)?(?:\d|today|tomorrow|tonight|next\b|this\b|mon|tue|wed|thu|fri|sat|sun|"
    r"noon|midday|the\s+\d|end\b|eod\b|in\s+\d)[\w:/ ]*?)(?:\s+instead)?$"
)
_DEADLINE_FOR = rx(
    r"^(?:set|give|put)\s+(?:a\s+|the\s+)?(?:deadline|due\s+date)\s+(?:of\s+)?(?P<when>.+?)\s+(?:for|on)\s+(?P<target>.+)$"
)
_MOVE_FROM = rx(r"^(?:move|push|shift)\s+(?P<target>.+?)\s+from\s+\w+\s+to\s+(?P<when>.+)$")
_SHIFT_COUNT = r"\d+|(?:a\s+)?couple\s+of|(?:a\s+)?few|a|an|one|two|three|four|five|six|seven"
_SHIFT = rx(
    r"^(?:give\s+me|i\s+need|add)\s+(?P<n>",
    _SHIFT_COUNT,
    r")\s+(?:more\s+|extra\s+)?(?P<unit>days?|weeks?)\s+(?:on|for)\s+(?P<target>.+)$"
    r"|^(?:push|move|shift|put|delay|postpone|bump)\s+(?P<target2>.+?)\s+(?:(?:back|on)\s+(?:by\s+)?|by\s+)(?P<n2>",
    _SHIFT_COUNT,
    r")\s+(?P<unit2>days?|weeks?)(?:\s+later)?$",
)
_MOVE_TO = rx(
    r"^(?:move|reschedule|postpone|push|delay|shift|put\s+off|change\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for)|"
    r"set\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for))\s+(?P<target>.+?)\s+(?:to|until|till|for)\s+(?P<when>.+)$"
)
# "do the plants on sunday instead", "have the report done by friday".
_DO_INSTEAD = rx(r"^(?:do|have)\s+(?P<target>.+?)\s+(?P<when>(?:on|at|by|for)\s+.+?)\s+instead$")
# "I haven't actually fixed the bike yet": a completed task is open again.
_NOT_DONE_YET = rx(
    r"^i\s+(?:haven't|have\s+not|didn't|did\s+not|never)\s+(?:actually\s+|really\s+|yet\s+)?"
    r"(?!got\b|any\b)[a-z]+\s+(?P<target>.+?)(?:\s+(?:yet|after\s+all|actually|at\s+all))*$"
)
# "the library books weren't returned actually": a completed task is open again.
_WAS_NOT_DONE = rx(
    r"^(?P<target>.+?)\s+(?:wasn't|weren't|isn't|aren't|was\s+not|were\s+not|"
    r"(?:hasn't|haven't|has\s+not|have\s+not)(?:\s+been)?)\s+"
    # "the parcel hasn't gone back yet": a participle, maybe with its particle.
    r"(?:actually\s+|really\s+)?(?:done|finished|completed|gone|sent|taken|[a-z]+ed)(?:\s+(?:back|out|off|in|up))?"
    r"(?:\s+(?:yet|after\s+all|actually))*$"
)
_CROSS_OFF = rx(r"^(?:cross|tick|check|mark)\s+(?P<target>.+?)\s+off(?:\s+(?:my|the)\s+list)?$")
# "put call the bank on my list for monday": an add, whatever the words look like.
_ON_MY_LIST = rx(
    r"^(?:put|add|stick|pop|write|get)\s+(?P<rest>.+?)\s+(?:on|to|onto|in)\s+(?:my|the)\s+"
    r"(?:todo\s+|to-do\s+|to\s+do\s+|task\s+)?list\b(?P<tail>.*)$"
)
_MAKE_DUE = rx(r"^(?:make|set)\s+(?P<target>.+?)\s+due\s+(?P<when>.+)$")
# "<task> is due friday" — but not questions like "what is due this week?".
_IS_DUE = rx(
    r"^(?!(?:what|which|who|anything|something|everything|nothing)\b)"
    r"(?P<target>.+?)\s+(?:is|should\s+be)\s+(?:now\s+)?due\s+(?P<when>.+)$"
)
_SET_PRIORITY_OF = rx(
    r"^(?:set|change|update)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<target>.+?)\s+to\s+(?P<prio>high|low|medium|normal|top)$"
)
_MAKE_PRIORITY = rx(
    r"^(?:make|set|mark|change)\s+(?P<target>.+?)\s+(?:back\s+)?(?:to\s+|as\s+)?(?:a\s+)?(?P<prio>high|low|medium|normal|top|urgent|important)(?:\s+priority)?$"
)
_SHIFT_PRIORITY = rx(
    r"^(?P<dir>raise|increase|bump|lower|decrease|reduce)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<target>.+)$"
)
_PRIO_WORD = r"(?P<prio>high|low|medium|normal|top|urgent|important)"
_PRIORITY_EVERYDAY: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "X is urgent",
        rx(
            r"^(?P<target>.+?)\s+(?:is|are)\s+(?:now\s+|really\s+|very\s+)?",
            _PRIO_WORD,
            r"(?:\s+priority)?$",
        ),
    ),
    (
        "bump X up to high",
        rx(r"^(?:bump|move|put)\s+(?P<target>.+?)\s+up\s+to\s+", _PRIO_WORD, r"(?:\s+priority)?$"),
    ),
    (
        "set priority P on X",
        rx(
            r"^(?:set|change)\s+(?:the\s+)?priority\s+(?:to\s+)?",
            _PRIO_WORD,
            r"\s+(?:on|for|of)\s+(?P<target>.+)$",
        ),
    ),
    (
        "flag X as important",
        rx(
            r"^(?:flag|mark|set)\s+(?P<target>.+?)\s+as\s+(?:a\s+)?",
            _PRIO_WORD,
            r"(?:\s+(?:priority|prio))?$",
        ),
    ),
    (
        "top priority: X",
        rx(r"^", _PRIO_WORD, r"\s+(?:priority|prio)\s*(?::|for|on)\s*(?P<target>.+)$"),
    ),
)
_LOW_EVERYDAY: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("X can wait", rx(r"^(?P<target>.+?)\s+can\s+wait\b.*$")),
    (
        "X isn't urgent",
        rx(r"^(?P<target>.+?)\s+(?:is\s+not|isn't)\s+(?:urgent|important|a\s+priority)$"),
    ),
    ("de-prioritise X", rx(r"^(?:de-?prioriti[sz]e|deprioriti[sz]e)\s+(?P<target>.+)$")),
)
# Priority in other everyday words: "put the plants on low priority", "give the milk a high
# priority", "dentist: high priority", "the passport is top priority now".
_PRIO_PHRASE = (
    r"(?:a\s+|an\s+)?(?P<prio>high|top|low|medium|normal|urgent|important|critical)"
    r"(?:[\s-]+(?:priority|prio|pri))?"
)
_PRIO_NAMED = r"(?:a\s+|an\s+)?(?P<prio>high|top|low|medium|normal)[\s-]+(?:priority|prio|pri)"
_PRIORITY_GENERAL: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "put X on P",
        rx(
            r"^(?:make|set|mark|put|bump|move|change|switch|turn|flag|drop|lower|raise|reduce|increase|"
            r"downgrade|upgrade)\s+(?P<target>.+?)\s+"
            r"(?:(?:up|down|back)\s+)?(?:to|as|on|at|into)?\s*",
            _PRIO_PHRASE,
            r"(?:\s+now|\s+instead)?$",
        ),
    ),
    ("give X a P priority", rx(r"^give\s+(?P<target>.+?)\s+", _PRIO_NAMED, r"$")),
    ("X: P priority", rx(r"^(?P<target>[^:]+?)\s*:\s*", _PRIO_NAMED, r"$")),
    (
        "X is P now",
        rx(
            r"^(?P<target>.+?)\s+(?:is|are|'s)\s+(?:now\s+|really\s+|very\s+|super\s+|actually\s+)?",
            _PRIO_PHRASE,
            r"(?:\s+now)?$",
        ),
    ),
)
_LOW_GENERAL: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "X isn't urgent any more",
        rx(
            r"^(?P<target>.+?)\s+(?:isn't|is\s+not|is\s+no\s+longer|aren't|are\s+not|are\s+no\s+longer)\s+"
            r"(?:that\s+|very\s+|so\s+)?(?:urgent|important|a\s+priority|high\s+priority)(?:\s+any\s*more)?$"
        ),
    ),
    ("no rush on X", rx(r"^no\s+rush\s+(?:on|for|with)\s+(?P<target>.+)$")),
)
_A_PRIORITY = rx(r"^(?:make|set)\s+(?P<target>.+?)\s+(?:a|my|the)\s+(?:top\s+|real\s+)?priority$")
# "prioritise the MOT" (high), "prioritise the MOT high", "prioritize X as low".
_PRIORITIZE = rx(
    r"^(?:prioritize|prioritise)\s+(?P<target>.+?)"
    r"(?:\s+(?:as\s+|to\s+)?(?:a\s+)?(?P<prio>high|top|low|medium|normal|urgent|important)(?:\s+priority)?)?$"
)
# The last "with"/"as" splits, so a title may hold one ("tag dinner with priya as social").
_TAG_WITH = rx(
    r"^(?:tag|label)\s+(?P<target>.+)\s+(?:with|as)\s+(?P<tags>[^\s]+(?:\s+and\s+[^\s]+)?)$"
)
_PUT_UNDER = rx(r"^(?:put|file)\s+(?P<target>.+?)\s+under\s+(?P<tags>.+)$")
_TAG_IT = rx(
    r"^(?:also\s+)?(?:tag|label)\s+(?P<target>it|that|this|the\s+.+?\s+one|.+?)\s+(?:as\s+)?(?P<tags>#?[\w-]+(?:\s+and\s+#?[\w-]+)?)$"
)
_MARK_TAGS = rx(r"^(?:mark|tag)\s+(?P<target>.+?)\s+(?P<tags>(?:#[\w-]+\s*)+)$")
_ADD_A_TAG = rx(r"^add\s+(?:a|the)\s+(?P<tags>[\w-]+)\s+tag\s+to\s+(?P<target>.+)$")
_REMOVE_TAG = rx(
    r"^(?:remove|delete|drop)\s+the\s+(?P<tags>#?[\w-]+)\s+tag\s+from\s+(?P<target>.+)$"
    r"|^take\s+the\s+(?P<tags2>#?[\w-]+)\s+tag\s+off\s+(?P<target2>.+)$"
)
_CHANGE_TAG = rx(
    r"^(?:change|switch|swap)\s+the\s+tag\s+(?:on|of|for)\s+(?P<target>.+?)\s+from\s+#?(?P<old>[\w-]+)\s+to\s+#?(?P<new>[\w-]+)$"
)
# "change the car tag on the MOT to admin".
_CHANGE_NAMED_TAG = rx(
    r"^(?:change|switch|swap)\s+the\s+#?(?P<old>[\w-]+)\s+tag\s+(?:on|of|for)\s+(?P<target>.+?)\s+(?:to|for)\s+#?(?P<new>[\w-]+)$"
)
_ADD_TAG_TO = rx(
    r"^(?:add|put)\s+(?P<tags>(?:#[\w-]+[\s,]*(?:and\s+)?)+)\s+(?:to|on)\s+(?P<target>.+)$"
)
_REOPEN = rx(
    r"^(?:reopen|re-open|unfinish|uncomplete|un-complete|undo|unmark|restore|un-?tick|un-?check)\s+(?P<target>.+)$"
)
_MARK_NOT_DONE = rx(
    r"^(?:mark|set)\s+(?P<target>.+?)\s+(?:as\s+)?(?:not\s+done|undone|open|incomplete|not\s+complete(?:d)?|to\s*do|pending|unfinished)(?:\s+again)?$"
)
_IS_NOT_DONE = rx(
    r"^(?P<target>.+?)\s+(?:is|isn't|is\s+not)\s+(?:not\s+)?(?:done|finished)\s+(?:yet|after\s+all)$"
)
_MARK_DONE = rx(
    r"^(?:mark|set|tick|check)\s+(?P<target>.+?)\s+(?:as\s+)?(?:done|complete|completed|finished|off|bought|paid|"
    r"sent|booked|called|sorted|cleaned|returned|collected|submitted|handled|fixed|posted)$"
)
_COMPLETE = rx(
    r"^(?:complete|finish|done(?:\s+with)?|check\s+off|tick\s+off|cross\s+off|close|completed|finished)\s*:?\s+(?P<target>.+)$"
)
_I_FINISHED = rx(
    r"^i(?:'ve|\s+have|\s+just|\s+already)*\s+(?:finished|completed|done|did)\s+(?P<target>.+?)"
    r"(?:,?\s+(?:finally|at\s+last|already|just\s+now|today|this\s+morning|earlier))?$"
)
_I_AM_DONE_WITH = rx(r"^i(?:'m|\s+am)\s+(?:done|finished)\s+(?:with\s+)?(?P<target>.+)$")
_IS_DONE = rx(
    r"^(?P<target>.+?)\s+(?:is|are|was)\s+(?:now\s+)?(?:done|complete|completed|finished)$"
)
_DELETE = rx(
    r"^(?:delete|remove|drop(?!\s+off\b)|erase|trash|discard|get\s+rid\s+of|cancel|forget(?:\s+about)?)\s+(?P<target>.+?)(?:\s+from\s+(?:my|the)\s+(?:list|tasks))?$"
)
_SEARCH = rx(
    r"^(?:search(?:\s+for)?|find(?:\s+me)?(?:\s+the\s+ones?\s+(?:about|with))?|look\s+for|look\s+up|lookup|any(?:thing)?\s+(?:about|with|mentioning|on|to\s+do\s+with)|"
    r"(?:do\s+i\s+have|have\s+i\s+got|is\s+there)\s+(?:a\s+task\s+|anything\s+|something\s+|any\s+tasks?\s+)?(?:about|mentioning|with|on\s+for|to\s+do\s+with|on)|"
    r"(?:did|have)\s+i\s+(?:write|written|put|note|noted|jot|jotted|save|saved|add|added)\s+(?:anything|something)\s+"
    r"(?:down\s+)?(?:about|on|for|regarding|to\s+do\s+with)|"
    r"what\s+was\s+(?:that|the)\s+(?:thing|task|one)\s+(?:about|with)|(?:tasks|anything|ones)\s+with(?=\s+\S+\s+in\s+(?:them|it)$)|"
    r"(?:do\s+i\s+have\s+)?(?:any\s+)?(?:tasks?|todos?)\s+(?:about|mentioning|containing|matching|with\s+the\s+word)|"
    r"which\s+tasks\s+(?:mention|contain|are\s+about))\s+(?P<q>.+)$"
)
_SHOW = rx(
    r"^(?:show|get|open|describe|details?|what\s+is|what's|tell\s+me\s+about)\s+(?:me\s+)?(?:the\s+)?(?:details\s+(?:of|for|on)\s+)?(?P<target>.+)$"
)
_ADD = rx(
    r"^(?:add|create|new|make|put|insert|remind\s+me\s+(?:to\s+)?|remember\s+to|i\s+need\s+to|i\s+have\s+to|i\s+must|need\s+to|i\s+gotta|gotta|i\s+should(?:\s+really)?|don't\s+let\s+me\s+forget\s+to|create\s+a\s+task\s+to|"
    r"i\s+should|don't\s+forget\s+to|do\s+not\s+forget\s+to|todo|to-do|task)\b\s*:?\s*(?P<rest>.+)$"
)
# "add a task", "create a new todo": the wish to add, with nothing to add yet.
_BARE_ADD = rx(
    r"^(?:add|create|new|make)\s+(?:a\s+|an\s+|one\s+)?(?:new\s+)?(?:task|todo|to-do|item|reminder)s?[.!]?$"
)
_LISTISH = rx(
    r"\b(?:list|tasks?|todos?|to-dos?|agenda|overdue|due|pending|outstanding|left|remaining|everything|"
    r"my\s+day|plate|what\s+do\s+i\s+have|what(?:'s|\s+is)\s+(?:on|next|planned)|next\s+up|what\s+should\s+i\s+(?:do|be\s+doing)|"
    r"got\s+on|on\s+for|planned|look\s+like|what\s+have\s+i|what\s+did\s+i|anything\s+(?:for|on|due|this|next|tomorrow|today)|"
    r"do\s+i\s+have\s+anything|ticked|what\s+do\s+i\s+need\s+to|things|stuff|tagged|under|open|happening|"
    r"coming\s+up|upcoming|plans?\s+for|looking\s+like|(?:still|left)\s+to\s+do|^what(?:'s|\s+is|s)\s+(?:for|on)\b|behind|late|missed|schedule|agenda|urgent|important|priority|prio|"
    r"been\s+done|already\s+done|needs?\s+doing|undated|finished|completed|done|next\s+\w+\s+days?)\b|^(?:anything|any)\b|^(?:show|list|display)\s+(?:me\s+)?(?:the\s+|my\s+)?(?:weekend|tomorrow|today|this|next)\b|^(?:show|list|display)(?:\s+(?:me|my|all|them|it\s+all))*$|"
    r"^(?:show|list|display|view|see)\s+(?:me\s+)?(?:my\s+|all\s+|the\s+)*(?:open|done|completed|finished|high|low|urgent|important|#)"
)


# ---------------------------------------------------------------------------------------------
# What the offline model cannot do yet, answered honestly (never a junk task).

CANNOT_WEATHER = "I can't tell the weather; I only keep tasks."
CANNOT_ALARM = "I can't set alarms; I can add a task with a due time."
CANNOT_ACT = (
    "I can't do things in the world for you (booking, paying, phoning); I can add it as a task."
)
_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        rx(
            r"^how\s+many\b|\b(?:statistics|stats|productivity|average\s+time|streak|completion\s+rate|"
            r"success\s+rate|percentage|how\s+productive|how\s+often)\b"
        ),
        "I can't give statistics about your tasks yet; I can list them (open, done, overdue).",
    ),
    (
        rx(r"^(?:share|assign|invite|delegate)\b|\bshare\b.*\b(?:list|tasks?)\b"),
        "I can't share or assign tasks: your list is yours only.",
    ),
    (
        rx(
            r"^(?:email|e-mail|text|sms|whatsapp|send|message|mail)\s+(?:me\s+|it\s+to\s+me\s+)?(?:this|my|the)\s+(?:list|tasks?|todos?)\b"
            r"|^(?:send|text|message|whatsapp|email)\s+(?:a\s+)?(?:whatsapp|text|message|sms|email)\s+to\b"
            r"|\bsend\s+(?:me\s+)?(?:a|an)\s+(?:whatsapp|sms|text|message|email|e-mail|notification)\b"
            r"|^(?:email|e-mail|text|message|whatsapp|sms)\s+(?!me\b)(?:my\s+|the\s+)?\w+(?:\s+\w+)?\s+(?:that|saying|to\s+say|and\s+(?:say|tell))\b"
        ),
        "I can't send emails, messages or notifications.",
    ),
    (
        rx(
            r"^(?:sync|export|print|attach|chart|graph)\b|\b(?:google|outlook|apple)\s+calendar\b|\bcsv\b"
        ),
        "I can't sync, export, print or attach anything; I only keep your task list.",
    ),
    (
        rx(
            r"\b(?:weather|forecast)\b"
            r"|^(?:is|will|does|did|do\s+you\s+think)\s+(?:it|there)\b.*\b(?:rain|raining|snow|snowing|sunny|"
            r"windy|stormy|storm|thunder|freezing|cold|hot|warm|dry|wet|sunshine|showers?)\b"
            r"|^(?:how\s+(?:hot|cold|warm)|what(?:'s|\s+is)\s+the\s+temperature)\b"
        ),
        CANNOT_WEATHER,
    ),
    (rx(r"^translate\b"), "I can't translate; I only keep tasks."),
    (
        # An alarm or a wake-up call is a ring at a time, which a task list cannot do; an alarm
        # as a thing ("fix the smoke alarm", "buy an alarm clock") is an ordinary task.
        rx(
            r"\b(?:set|make|create|start|schedule)\s+(?:an?\s+|my\s+|the\s+)?alarm\b"
            r"|\b(?:add|put|give\s+me)\s+an?\s+alarm\b(?!\s+clock)|\b(?:with|by|using|via)\s+(?:an?\s+|my\s+|the\s+)?alarm\b"
            r"|^alarm\b|\balarm\s+(?:for|at)\s+(?:\d|noon|midday|tomorrow|tonight)"
            r"|^wake\s+me\b|\bwake[\s-]?up\s+call\b"
        ),
        CANNOT_ALARM,
    ),
    (
        rx(
            r"^(?:book|order|pay|ring|phone|call|buy)\b.*\b(?:for\s+me|online)$|^(?:book|order|get|buy|fetch)\s+me\b"
            # "can you book a table …": asked of the assistant itself (read on the message as
            # typed), unless it is about a task ("can you call the gym task 'Leg day'").
            r"|^(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:book|reserve|order|pay|ring|phone|call|buy|purchase)\b"
            r"(?!.*\b(?:task|todo|to-do|list|reminder)s?\b)"
        ),
        CANNOT_ACT,
    ),
)
_REMINDER = rx(
    r"\b(?:remind\s+me|notify\s+me|ping\s+me|alert\s+me)\s+(?:\d+|an?|one|two|half\s+an)\s+"
    r"(?:minutes?|mins?|hours?|hrs?|days?)\s+before\b|\bnotification\b.*\bbefore\b"
)
# "undo" about the last change ("undo that", "undo the rename"); "undo the milk one" reopens.
_UNDO = rx(
    r"\bundo(?:\s+(?:that|it|this)(?:\s+one|\s+task)?|\s+(?:the|my)\s+(?:last\s+)?(?:change|rename|"
    r"delete|deletion|add|edit|move|reschedule|tag|priority|completion|one\s+i\s+just\s+\w+))?\s*$"
    r"|\bundo\s+(?:the\s+)?last\s+(?:thing|step|action)\b"
    r"|\b(?:take\s+that\s+back|bring\s+(?:it|that|this)\s+back|revert|change\s+(?:that|it)\s+back|put\s+(?:it|that)\s+back|ctrl\s*\+?\s*z)\b"
)
# A change to tasks chosen by a filter ("everything due today", "all the shopping ones").
_BULK = rx(
    r"^(?!(?:did|have|has|what|which|is|are|do|does|how|when|who)\b)(?:\w+\s+){0,3}?(?:move|push|shift|delete|remove|clear|complete|finish|mark|tag|untag|"
    r"get\s+rid\s+of|postpone|reschedule|bump|drop|erase|set|make|change)\b.*"
    r"\b(?:everything|all|every\s+(?:task|one|single)|whole\s+list|each\s+(?:task|one))\b"
)
# "yes", "yep go ahead", "ok, do it", "sure, move them", "go for it", "that's fine".
_CONFIRM = rx(
    r"^(?:yes|yep|yeah|yea|yup|ya|sure|ok|okay|k|alright|all\s+right|right|fine|correct|absolutely|"
    r"definitely|of\s+course|go\s+ahead|go\s+on|go\s+for\s+it|do\s+it|confirm(?:ed)?|please\s+do|"
    r"(?:that's|thats|that\s+is|sounds)\s+(?:good|fine|great|right|correct|perfect)|y)"
    r"(?:[\s,.!]+(?:please|go\s+ahead|go\s+on|go\s+for\s+it|do\s+it|do\s+that|thanks|thank\s+you|"
    r"that's\s+(?:fine|right|correct)|sure|ok|okay|yes|confirm(?:ed)?|all\s+of\s+them|"
    r"(?:move|push|delete|remove|complete|mark|tick|tag|change|do|clear|bin)\s+(?:them|those|it|all|"
    r"them\s+all|all\s+of\s+them|both)(?:\s+(?:off|done|please))?))*[.!]*$"
)
_REJECT = rx(
    r"^(?:no|nope|nah)(?:[\s,.!]+(?:thanks|thank\s+you|leave\s+(?:it|them)|don't|do\s+not|keep\s+(?:it|them)|stop|cancel)\b.*)?[.!]*$"
    r"|^(?:leave\s+it|never\s+mind|forget\s+it|don't\s+do\s+it)\b|^cancel$"
)


def _refuse(_match: re.Match[str], utterance: Utterance) -> Command | None:
    for pattern, reason in _REFUSALS:
        if pattern.search(utterance.text) or pattern.search(utterance.raw.rstrip(" .!?")):
            return Decline(reason)
    return None


def _reminder(_match: re.Match[str], utterance: Utterance) -> Command | None:
    """ "remind me an hour before" (the task in hand), "… 30 minutes before the dentist", or an
    add that asks for one ("add call mom tomorrow 5pm, remind me 30 minutes before")."""
    found = find_reminder(utterance.text)
    if found is None:
        return None
    if found.head:
        if found.about:
            return None
        head = Utterance(raw=found.head, text=found.head, now=utterance.now)
        command = next(
            (c for rule in RULES if rule.name.startswith("add") for c in [rule.apply(head)] if c),
            None,
        )
        if isinstance(command, Add) and len(command.tasks) == 1:
            if command.tasks[0].due is None or command.tasks[0].due.at is None:
                return Decline(REMIND_NEEDS_TIME)
            command.tasks[0].remind_before = found.before
            return command
        return None
    ref = parse_ref(found.about) if found.about else TaskRef("last")
    return Update(ref, remind_before=found.before) if ref is not None else None


REMIND_NEEDS_TIME = (
    "A reminder needs a due time to count back from; say when it is due, for example "
    '"add call mom tomorrow at 5pm, remind me 30 minutes before".'
)


def _bulk(_match: re.Match[str], utterance: Utterance) -> Command | None:
    return parse_bulk(utterance.text, utterance.now)


def _recurring_add(_match: re.Match[str], utterance: Utterance) -> Command | None:
    """ "every monday water the plants" → the first occurrence as a one-off task, said so."""
    text = _ADD_LEAD.sub("", utterance.text)
    if re.search(r"\btags?\b", text, re.I) or (
        _NOUN_ADD_BLOCK.search(text) and not _ADD_LEAD.match(utterance.text)
    ):
        return None
    found = extract_recurrence(text, utterance.now)
    if found is None:
        return None
    rest = re.sub(r"\s+", " ", found.rest).strip()
    lead = _ADD.match(rest)
    # "remind me every monday to water the plants": the lead words come back once the
    # repeating phrase is out.
    # "put the recycling out every other thursday": "put" opens an add only with "on my list".
    if lead is not None and not re.match(r"^(?:put|make|new)\b", rest, re.I):
        rest = lead.group("rest")
    tasks = parse_add_items(rest, utterance.now, split=False)
    if len(tasks) != 1 or not tasks[0].title:
        return Decline('I couldn\'t tell which task should repeat; say it as "add X every monday".')
    task = tasks[0]
    # The first occurrence wins over a date read again from what is left.
    task.due = task.due or found.first
    if not found.rule:
        return Add([task], notice=REPEAT_UNCLEAR)
    task.recurrence = found.rule
    return Add([task])


# ---------------------------------------------------------------------------------------------
# Small talk that needs its own sentence.

_FAREWELL = rx(
    r"^(?:bye|goodbye|see\s+you|see\s+ya|good\s+night|night|ttyl|later|cya)\b(?!.*\b(?:task|due|add)\b)"
)
CHAT_HOW_ARE_YOU = "I'm well, thanks! What would you like to do with your tasks?"
CHAT_LAUGH = "Glad that made you smile! Anything to add or check on your list?"
CHAT_JOKE = "I'm better at lists than jokes, I'm afraid. Want to see what's due today?"
CHAT_MOOD = "Sorry to hear that. One thing at a time: want to see what's due today?"
CHAT_WHO = "I'm the built-in offline assistant of Todo Assistant: I keep your task list."
CHAT_SORRY = "No problem! I'm here when you need your list."
CHAT_GOT_IT = "OK! Tell me when you want to add or change a task."
# Small talk that is no request: laughs, moods, jokes, "who made you", apologies.
_SMALL_TALK: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "a laugh",
        rx(
            r"^(?:ha(?:ha)+|he(?:he)+|lol|lmao|rofl)[!.]*(?:\s+(?:nice|good|funny|brilliant)(?:\s+one)?)?[!.]*$"
            r"|^(?:nice|good)\s+one[!.]*$"
        ),
        CHAT_LAUGH,
    ),
    (
        "a joke",
        rx(r"^(?:tell\s+me\s+a\s+joke|say\s+something\s+funny|make\s+me\s+laugh)\b"),
        CHAT_JOKE,
    ),
    (
        "a mood",
        rx(
            r"^i(?:'m|\s+am|\s+feel)\s+(?:so\s+|really\s+|very\s+|a\s+bit\s+|quite\s+)?"
            r"(?:stressed|tired|busy|overwhelmed|exhausted|bored|sad|anxious|swamped)\b"
        ),
        CHAT_MOOD,
    ),
    (
        "who made you",
        rx(r"^(?:who|what)\s+(?:made|built|created|wrote|programmed)\s+you\b|^what\s+are\s+you\b"),
        CHAT_WHO,
    ),
    (
        "sorry",
        rx(
            r"^(?:sorry|oops|my\s+bad)(?:[\s,]+(?:wrong\s+(?:chat|window|person|thread|app)|my\s+mistake|"
            r"ignore\s+that|never\s*mind))?[.!]*$|^(?:nvm|ignore\s+that|wrong\s+(?:chat|window|app))[.!]*$"
        ),
        CHAT_SORRY,
    ),
    (
        "got it",
        rx(r"^(?:got\s+it|understood|sounds\s+good|noted|fair\s+enough|alright\s+then)[.!]*$"),
        CHAT_GOT_IT,
    ),
)
_COMPLIMENT = rx(
    r"^(?:you(?:'re|\s+are)\s+(?:so\s+|really\s+)?(?:great|awesome|amazing|the\s+best|brilliant|helpful|a\s+star|"
    r"a\s+lifesaver|a\s+life\s+saver|a\s+legend|a\s+genius|a\s+gem|fab|fantastic|wonderful)|"
    r"(?:good|great|nice)\s+(?:job|work|bot)|love\s+(?:it|you|this))\b"
)
_HOW_ARE_YOU = rx(
    r"^(?:how\s+are\s+(?:you|things)|how's\s+it\s+going|how\s+do\s+you\s+do|what's\s+up|sup|"
    r"how's\s+(?:your\s+day|things|life)|how\s+(?:is|was)\s+your\s+day|how\s+have\s+you\s+been)\b"
    r"|^(?:hi|hello|hey|hiya|(?:good\s+)?(?:morning|afternoon|evening))\b.*\b(?:hope\s+you're|how\s+are)\b"
    # "morning! hope ur well": a wish for the assistant's day, however it is spelt.
    r"|^(?:(?:hi|hello|hey|hiya|(?:good\s+)?(?:morning|afternoon|evening))\b[\s,!.]*)?"
    r"(?:i\s+)?hope\s+(?:you're|you\s+are|youre|ur|u\s+r|u're|you\s+have|you're\s+having|all\s+is|things\s+are)\b"
    r"(?:\s+(?:well|ok|okay|good|fine|great|doing\s+well|a\s+good\s+day|having\s+a\s+good\s+day))?[\s!.]*$"
)
_DATE_QUESTION = rx(
    r"^(?:what(?:'s|\s+is)\s+(?:today's\s+date|the\s+date|today|the\s+day)|what\s+day\s+is\s+it)"
)
_LANGUAGE = rx(r"\b(?:urdu|english|languages?)\b")
_HOW_TO = rx(r"^how\s+(?:do|can|should)\s+i\b")


def _date_reply(_match: re.Match[str], utterance: Utterance) -> Command:
    return Chat(f"Today is {utterance.now.strftime('%A %-d %B %Y')}.")


# ---------------------------------------------------------------------------------------------
# Everyday phrasings of a change to one task.

# Past tenses that say a task is done ("paid the rent", "got milk", "I've booked the MOT").
_DID = rx(
    r"^(?:ok\s+|so\s+|yay\s+|finally\s+)?(?:i(?:'ve|\s+have)?\s+)?(?:just\s+|already\s+|finally\s+)?"
    r"(?P<verb>paid|got|bought|did|made|sent|took|went\s+to|rang|phoned|called|wrote|booked|"
    r"picked\s+up|collected|returned|posted|cleaned|washed|watered|fed|fixed|emailed|texted|"
    r"hoovered|renewed|cancelled|ordered|submitted|filed|finished|completed|sorted|tidied|"
    r"walked|cooked|ironed|mowed|read|replied\s+to|answered|visited|met|dropped\s+off|handed\s+in|"
    r"wrapped|packed|signed|printed|backed\s+up|updated|checked|bought|grabbed|sorted\s+out|reviewed|"
    r"attended|drafted|prepared|repaired|replaced|installed|registered|applied\s+for|confirmed|contacted|"
    r"organised|organized|practised|practiced|studied|vacuumed|dusted|painted|mopped|defrosted|serviced|"
    r"recycled|donated|messaged|charged|emptied|cleared|baked|chased|rang\s+up|topped\s+up|proofread)\s+"
    r"(?P<target>.+?)(?:\s+(?:this\s+morning|today|earlier|yesterday|just\s+now|already|finally))?"
    r"(?:,?\s+(?:finally|that's\s+done|done))?$"
)
# "<task> is done / sorted / wrapped / paid", "the bins are out", "the plumber has been called".
_STATE_DONE = rx(
    r"^(?:ok\s+|so\s+)?(?:that's\s+)?(?P<target>.+?)\s*(?:(?:is|are|was|were|has\s+been|have\s+been|'s\s+been|'s|got)\s+)?"
    r"(?:all\s+)?(?:now\s+)?(?P<state>done|sorted|out|paid|called|booked|sent|wrapped|renewed|"
    r"serviced|fixed|finished|complete|completed|cleaned|posted|handled|ticked\s+off|submitted|returned|"
    r"collected|picked\s+up|bought|washed|watered|emailed|filed|ordered|tidied|dealt\s+with|"
    r"taken\s+care\s+of|sorted\s+out|handed\s+in|taken\s+out|put\s+out)"
    r"(?:\s+(?:for\s+)?(?:today|now|finally|at\s+last|the\s+day|the\s+week))?(?:,?\s+finally)?$"
)
# "picked the dry cleaning up", "put the bins out": a phrasal verb with the task inside it.
_DID_AROUND = rx(
    r"^(?:ok\s+|so\s+|yay\s+|finally\s+)?(?:i(?:'ve|\s+have)?\s+)?(?:just\s+|already\s+|finally\s+)?"
    r"(?:picked|dropped|sorted|put|took|handed|sent|paid|rang|called|backed|cleared|tidied|topped|filled)\s+"
    r"(?P<target>.+?)\s+(?:up|off|out|in|back)"
    r"(?:\s+(?:this\s+morning|today|earlier|yesterday|just\s+now|already|finally))?$"
)
_DONE_COLON = rx(r"^(?P<target>.+?)\s*:\s*done$|^done\s*:\s*(?P<target2>.+)$")
_NO_LONGER = rx(
    r"^(?:i\s+)?(?:don't|do\s+not|no\s+longer)\s+(?:need|have|want)\s+to\s+(?P<target>.+?)(?:\s+any\s*more)?$"
    r"|^no\s+need\s+(?:to\s+|for\s+)?(?P<target3>.+?)(?:\s+any\s*more)?$"
    r"|^no\s+longer\s+need\s+to\s+(?P<target2>.+)$"
)
_CANCELLED = rx(
    r"^(?P<target>.+?)\s+(?:is|was|got|has\s+been)\s+(?:cancelled|canceled|called\s+off|off)"
    r"(?:,?\s+(?:(?:take|get|remove|delete|drop|bin)\s+it(?:\s+off.*)?|so\s+.*))?$"
)
_TAKE_OFF = rx(r"^(?:take|strike|knock)\s+(?P<target>.+?)\s+off(?:\s+(?:my|the)\s+list)?$")
_SCRATCH = rx(
    r"^(?:scratch|bin(?!\s+(?:day|night|collection)\b)|nix|kill|ditch|axe|scrap|lose|delete|remove|erase|trash|"
    r"drop(?!\s+off\b))\s+(?P<target>.+?)"
    r"(?:,\s+.*)?$"
)
_DID_I = rx(
    r"^(?:did|have|has)\s+i\s+(?:already\s+|actually\s+|ever\s+)?(?!got\b|any\b|anything\b)[a-z]+\s+"
    r"(?!(?:anything|something|any|everything|all|my\s+tasks)\b)(?P<q>.+?)(?:\s+(?:yet|already))?$"
    r"|^is\s+(?P<q2>.+?)\s+(?:done|finished|complete|completed|high\s+priority|urgent|due\s+\w+)$"
    r"|^when\s+is\s+(?P<q3>.+?)\s+due$"
)
_NOUN_ADD_BLOCK = rx(
    r"^(?:what|which|when|where|who|why|how|is|are|do|does|did|have|has|any|show|list|"
    r"display|see|view|find|search|can|could|should|will|would|anything|everything|change|"
    r"set|make|move|push|bring|give|edit|rename|mark|tag|label|flag|shift|delay|postpone|"
    r"reschedule|put|untag|remove|delete|update|complete|reopen)\b|\?\s*$"
)
# What is left of a list request once its date is read ("todays tasks", "urgent things").
_ONLY_LIST_WORDS = rx(
    r"^(?:(?:'s|my|the|all|any|tasks?|things?|stuff|todos?|jobs?|urgent|important|open|due|"
    r"left|remaining|else|on|for|me|agenda|schedule|plans?|happening|coming|up|upcoming|what|what's|"
    r"whats|wats|anything|everything|still|late|overdue|in|the|next|this|rest|of|week|day|list|todo|"
    r"to-do|to\s+do|show|see|view|check|get|got|have|i|do|is|are|there|any|and|or)\s*)+$"
)
_LEAD_DATE_FILLER = rx(
    r"^(?P<when>.+?)\s+(?:i\s+need\s+to|i\s+have\s+to|i\s+must|i\s+gotta|i\s+should)\s+(?P<rest>.+)$"
)


_NOT_A_TASK = rx(
    r"^(?:show|list|what|which|who|me|everything|anything|all|nothing|have|did|do|is|are|i|i'm|you|we)\b"
)


def _did(match: re.Match[str], _: Utterance) -> Command | None:
    target = match.groupdict().get("target") or match.groupdict().get("target2") or ""
    if _NOT_A_TASK.match(target.strip()):
        return None
    ref = parse_ref(target)
    if ref is None or (ref.kind == "title" and ref.value.lower() in ("it", "that", "everything")):
        return None
    return Act("complete", [ref])


def _drop(match: re.Match[str], _: Utterance) -> Command | None:
    groups = match.groupdict()
    target = groups.get("target") or groups.get("target2") or groups.get("target3") or ""
    if _NOT_A_TASK.match(target.strip()):
        return None
    # "bin both", "scratch 1 and 3": several tasks, as in "delete both".
    refs = parse_refs(target)
    return Act("delete", refs) if refs else None


def _ask_about(match: re.Match[str], _: Utterance) -> Command | None:
    query = next((g for g in (match.group("q"), match.group("q2"), match.group("q3")) if g), "")
    ref = parse_ref(query)
    if ref is not None and ref.kind != "title":
        return Act("get", [ref])
    query = re.sub(r"\b(?:the|a|my|thing|task|one)\b", " ", query, flags=re.I).strip()
    return Search(query) if query else None


_COMMAND_WORDS = (
    "move", "show", "list", "delete", "remove", "complete", "rename", "change", "make", "mark",
    "push", "reschedule", "postpone", "update", "what's", "whats", "which", "search", "find",
)  # fmt: skip


# What is left of "work tasks due this week" or "gym all done for today": a list or a done
# task, never a new task.
_NOT_A_NOUN_ADD = rx(
    r"\b(?:tasks|todos|to-dos|stuff|things|jobs|items)$|\b(?:done|finished|completed|sorted|ticked\s+off)\b"
)


def _misspelt(word: str, command: str) -> bool:
    """ "mvoe" or "mve" for "move": the same letters swapped, or one dropped (not one added:
    "movie" is a word of its own)."""
    if word == command or not word or word[0] != command[0]:
        return False
    if len(word) == len(command):
        return sorted(word) == sorted(command)
    return len(word) == len(command) - 1 and _dropped_letter(word, command)


def _noun_add(_match: re.Match[str], utterance: Utterance) -> Command | None:
    """ "haircut friday 11am": a phrase with a date or time and no verb is an add."""
    text = utterance.text
    if _NOUN_ADD_BLOCK.search(text) or _NOUN_ADD_BLOCK.search(utterance.raw):
        return None
    first = text.split(" ", 1)[0].lower()
    if any(_misspelt(first, word) for word in _COMMAND_WORDS):
        # "mvoe parents evening to wednesday": a misspelt command, never a task.
        return None
    due, rest = extract_due(extract_priority(extract_tags(text)[1])[1], utterance.now)
    title = clean_title(rest)
    if due is None or not title or _ONLY_LIST_WORDS.match(title) or _NOT_A_NOUN_ADD.search(title):
        return None
    lead = _LEAD_DATE_FILLER.match(text)
    if lead is not None:
        # "this weekend I need to …": the date said first applies to every item.
        when, after = extract_due(lead.group("when"), utterance.now)
        if when is not None and not clean_title(after):
            text = f"{lead.group('when')}: {lead.group('rest')}"
    tasks = parse_add_items(text, utterance.now)
    return Add(tasks) if tasks and all(t.title for t in tasks) else None


_ADD_LEAD = rx(
    r"^(?:add|create|new\s+task:?|remind\s+me\s+to|i\s+need\s+to|i\s+have\s+to|i\s+must)\s+"
)


def _each(kind: str, family: Sequence[tuple[str, re.Pattern[str]]], build: Builder) -> list[Rule]:
    """One rule per (name, pattern) of a family of phrasings that mean the same edit."""
    return [Rule(f"{kind}: {name}", at_start(pattern), build) for name, pattern in family]


RULES: tuple[Rule, ...] = (
    # Small talk. "Thanks" is read before courtesy words come off, since they include it.
    Rule("thanks, as typed", raw_at_start(_THANKS), _always(lambda: Greeting(thanks=True))),
    Rule("only courtesy words", at_start(_NOTHING), _always(Greeting)),
    Rule("help", at_start(_HELP), _always(Help)),
    Rule("greeting", at_start(_GREETING), _always(Greeting)),
    Rule("thanks", at_start(_THANKS), _always(lambda: Greeting(thanks=True))),
    Rule(
        "chat: goodbye",
        at_start(_FAREWELL),
        _always(lambda: Chat("Bye for now! Your list is saved.")),
    ),
    Rule(
        "chat: compliment",
        at_start(_COMPLIMENT),
        _always(lambda: Chat("Thank you! Happy to keep your list.")),
    ),
    Rule(
        "chat: how are you",
        at_start(_HOW_ARE_YOU),
        _always(lambda: Chat(CHAT_HOW_ARE_YOU)),
    ),
    Rule("chat: today's date", at_start(_DATE_QUESTION), _date_reply),
    *(Rule(f"chat: {name}", raw_at_start(p), _chat(reply)) for name, p, reply in _SMALL_TALK),
    Rule(
        "chat: languages",
        raw_at_start(
            rx(r"^(?:can|do)\s+you\s+(?:understand|speak|read)\b.*\b(?:urdu|english|languages?)\b")
        ),
        _always(
            lambda: Chat("Yes: write in English or in Urdu (اردو), and I'll answer in the same.")
        ),
    ),
    Rule("chat: how do I …", at_start(_HOW_TO), _always(Help)),
    # What the offline model cannot do: said honestly, before any rule could misread it.
    Rule("undo", anywhere(_UNDO), _always(Undo)),
    Rule("cannot: refusals", at_start(_NOTHING_OR_ANY), _refuse),
    Rule("reminder: remind me N before", at_start(_NOTHING_OR_ANY), _reminder),
    Rule("cannot: reminders", anywhere(_REMINDER), _always(lambda: Decline(CANNOT_REMIND))),
    Rule("bulk: a change to every task a filter chooses", at_start(_NOTHING_OR_ANY), _bulk),
    Rule(
        "cannot: bulk change",
        at_start(_BULK),
        _always(lambda: Decline(ONE_AT_A_TIME, with_bulk=BULK_FILTER_UNCLEAR)),
    ),
    Rule("bulk: a confirmation", at_start(_CONFIRM), _always(Confirm)),
    Rule(
        "bulk: no", at_start(_REJECT), _always(lambda: Chat("OK, I've left everything as it is."))
    ),
    # Edits of one task.
    Rule("add: put X on my list", at_start(_ON_MY_LIST), _on_my_list),
    Rule("list: completed tasks", at_start(_DONE_TASKS), lambda _m, u: parse_list(u.text, u.now)),
    Rule("recurrence: stop X repeating", at_start(_STOP_REPEAT), _edit(_stop_repeating)),
    Rule("recurrence: make X repeat every …", at_start(_MAKE_REPEAT), _make_repeat),
    Rule("note: add a note to X: …", at_start(_NOTE), _edit(_note)),
    Rule("rename: rename X to Y", at_start(_RENAME_TO), _edit(_rename_edit)),
    *_each("rename", _RENAMES, _edit(_rename_edit)),
    Rule("rename: change the title of X to Y", at_start(_CHANGE_TITLE), _edit(_rename)),
    *_each("rename", _RENAME_GENERAL, _edit(_rename_edit)),
    Rule("rename: change X to say Y", at_start(_CHANGE_TO_SAY), _edit(_rename)),
    Rule("due: clear the due date of X", at_start(_CLEAR_DUE), _edit(_clear_due)),
    Rule("due: no due date for X", at_start(_NO_DUE), _edit(_clear_due)),
    Rule("due: give me 3 more days on X", at_start(_SHIFT), _shift),
    Rule("due: set a deadline of D for X", at_start(_DEADLINE_FOR), _edit(_redate)),
    Rule("due: move X from D1 to D2", at_start(_MOVE_FROM), _edit(_redate)),
    Rule("due: move X to <when>", at_start(_MOVE_TO), _edit(_redate_strict)),
    Rule("due: make X due <when>", at_start(_MAKE_DUE), _edit(_redate)),
    Rule("due: do X on <when> instead", at_start(_DO_INSTEAD), _edit(_redate_strict)),
    Rule("due: X is due <when>", at_start(_IS_DUE), _edit(_redate)),
    Rule("due: change X to <when>", at_start(_RESCHEDULE), _edit(_redate_strict)),
    Rule("priority: set the priority of X to P", at_start(_SET_PRIORITY_OF), _edit(_set_priority)),
    Rule("priority: make X P", at_start(_MAKE_PRIORITY), _edit(_set_priority)),
    Rule("priority: raise the priority of X", at_start(_SHIFT_PRIORITY), _edit(_shift_priority)),
    Rule("priority: prioritize X", at_start(_PRIORITIZE), _edit(_prioritize)),
    *_each("priority", _PRIORITY_EVERYDAY, _edit(_set_priority)),
    *_each("priority", _LOW_EVERYDAY, _edit(_lower)),
    *_each("priority", _PRIORITY_GENERAL, _edit(_set_priority)),
    *_each("priority", _LOW_GENERAL, _edit(_lower)),
    Rule("priority: make X a priority", at_start(_A_PRIORITY), _edit(_prioritize)),
    Rule("tags: change the tag on X from A to B", at_start(_CHANGE_TAG), _edit(_retag)),
    Rule("tags: change the A tag on X to B", at_start(_CHANGE_NAMED_TAG), _edit(_retag)),
    Rule("tags: remove the T tag from X", at_start(_REMOVE_TAG), _untag_rule),
    Rule("tags: add a T tag to X", at_start(_ADD_A_TAG), _edit(_tag_more)),
    Rule("tags: put X under T", at_start(_PUT_UNDER), _edit(_tag_more)),
    Rule("tags: tag X with T", at_start(_TAG_WITH), _edit(_tag)),
    Rule("tags: mark X #a #b", at_start(_MARK_TAGS), _edit(_tag_more)),
    Rule("tags: tag it T", at_start(_TAG_IT), _edit(_tag_more)),
    Rule("tags: add #t to X", at_start(_ADD_TAG_TO), _edit(_tag)),
    Rule("rename: change X to Y", at_start(_CHANGE_TO), _edit(_plain_rename)),
    # Refusals and repeating tasks, once no edit of one task read the message.
    Rule("recurrence: every …", at_start(_NOTHING_OR_ANY), _recurring_add),
    # Actions on one or more tasks.
    Rule("reopen: reopen X", at_start(_REOPEN), _act("reopen")),
    Rule("reopen: I haven't done X yet", at_start(_NOT_DONE_YET), _act("reopen")),
    Rule("reopen: X wasn't done after all", at_start(_WAS_NOT_DONE), _act("reopen")),
    Rule("reopen: mark X not done", at_start(_MARK_NOT_DONE), _act("reopen")),
    Rule("reopen: X is not done yet", at_start(_IS_NOT_DONE), _act("reopen")),
    Rule(
        "complete: done (the task just named)",
        at_start(rx(r"^(?:done|did\s+it|that's\s+done|finished)$")),
        _always(lambda: Act("complete", [TaskRef("last")])),
    ),
    Rule("complete: mark X done", at_start(_MARK_DONE), _act("complete")),
    Rule("complete: cross X off", at_start(_CROSS_OFF), _act("complete")),
    Rule("complete: complete X", at_start(_COMPLETE), _act("complete")),
    Rule("complete: I finished X", at_start(_I_FINISHED), _act("complete")),
    Rule("complete: I'm done with X", at_start(_I_AM_DONE_WITH), _act("complete")),
    Rule("complete: X is done", at_start(_IS_DONE), _act("complete")),
    Rule("delete: delete X", at_start(_DELETE), _act("delete")),
    Rule("delete: scratch X", at_start(_SCRATCH), _drop),
    Rule("delete: I don't need to X anymore", at_start(_NO_LONGER), _drop),
    Rule("delete: X is cancelled", at_start(_CANCELLED), _drop),
    Rule("delete: take X off my list", at_start(_TAKE_OFF), _drop),
    Rule("show: did I do X?", at_start(_DID_I), _ask_about),
    Rule("complete: X: done", at_start(_DONE_COLON), _did),
    Rule("complete: paid the rent", at_start(_DID), _did),
    Rule("complete: the bins are out", at_start(_STATE_DONE), _did),
    Rule("complete: picked X up", at_start(_DID_AROUND), _did),
    Rule("search: search for …", at_start(_SEARCH), _search),
    Rule("show: show X", at_start(_SHOW), _show),
    # Adding, and the wish to add with nothing to add yet.
    Rule("add: add …", at_start(_ADD), _add),
    Rule("add: add a task", at_start(_BARE_ADD), _always(lambda: Unknown(missing_title=True))),
    Rule("add: a noun phrase with a date", at_start(_NOTHING_OR_ANY), _noun_add),
    # Anything else that asks to see tasks.
    Rule("list", anywhere(_LISTISH), lambda _match, u: parse_list(u.text, u.now)),
)

ENGLISH = Grammar(language="en", prepare=prepare, rules=RULES)
