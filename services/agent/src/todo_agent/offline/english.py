"""The English grammar: add (several tasks at once, due dates, priorities, #tags), list with
filters, search, show, complete/reopen/delete/update/rename/re-date, small talk and help.

`RULES` is tried in order and the first rule that builds a command wins, so the order is the
grammar's precedence: small talk first, then edits of one task (whose phrasings carry the most
structure: "rename X to Y", "move X to friday"), then actions, search, show and add, and last
the catch-all for anything that asks to see tasks.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from todo_agent.offline.commands import (
    Act,
    Action,
    Add,
    Command,
    DueWindow,
    Greeting,
    Help,
    ListTasks,
    Priority,
    Search,
    State,
    TaskRef,
    Unknown,
    Update,
)
from todo_agent.offline.dates import extract_due
from todo_agent.offline.phrases import (
    PRIORITY_WORDS,
    clean_title,
    extract_priority,
    extract_tags,
    first_window,
    parse_add_items,
    parse_ref,
    parse_refs,
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

_POLITE_START = re.compile(
    r"^(?:please|pls|plz|can\s+you|could\s+you|would\s+you|will\s+you|kindly|hey|hi|ok|okay|so|and|also|now|then|assistant)[\s,]+",
    re.I,
)
_POLITE_END = re.compile(r"[\s,]*(?:please|pls|plz|thanks|thank\s+you|for\s+me)?[\s.!?]*$", re.I)


def prepare(text: str) -> str:
    """ "Could you please add milk, thanks!" → "add milk"."""
    # Up to three courtesy words in a row: "ok so can you …".
    for _ in range(3):
        text = _POLITE_START.sub("", text)
    return _POLITE_END.sub("", text).strip()


# ---------------------------------------------------------------------------------------------
# Listing: which tasks a request to see them asks for.

_TAGGED = re.compile(
    r"\b(?:tagged|labelled|labeled|with\s+(?:the\s+)?tag|under)\s+#?([\w-]+)", re.I
)
_ALL_STATES = re.compile(r"\b(?:all|everything|every|both|any\s+state)\b", re.I)
# "all open tasks" is about open tasks, not every state.
_ALL_OF_ONE_STATE = re.compile(r"\ball\s+(?:open|pending|done|completed|finished)\b", re.I)
_COMPLETED = re.compile(r"\b(?:done|completed|finished|closed|ticked\s+off|checked\s+off)\b", re.I)
# The first window named wins.
LIST_WINDOWS: tuple[tuple[re.Pattern[str], DueWindow], ...] = (
    (re.compile(r"\b(?:overdue|late|past\s+due|missed|behind)\b", re.I), "overdue"),
    (re.compile(r"\b(?:today|tonight|my\s+day)\b", re.I), "today"),
    (re.compile(r"\btomorrow\b", re.I), "tomorrow"),
    (re.compile(r"\bnext\s+week\b", re.I), "next_week"),
    (
        re.compile(
            r"\b(?:this\s+week|the\s+week|within\s+(?:a|the)\s+week|this\s+coming\s+week)\b",
            re.I,
        ),
        "this_week",
    ),
)


def _state_filter(text: str) -> State:
    if _ALL_STATES.search(text) and not _ALL_OF_ONE_STATE.search(text):
        return "all"
    if _COMPLETED.search(text):
        return "completed"
    return "open"


def parse_list(text: str) -> ListTasks:
    """Filters from a request to see tasks."""
    tags, rest = extract_tags(text)
    tag = tags[0] if tags else None
    if tag is None:
        match = _TAGGED.search(rest)
        if match:
            tag = match.group(1).lower()
    priority, rest = extract_priority(rest)
    return ListTasks(
        state=_state_filter(rest), priority=priority, tag=tag, due=first_window(LIST_WINDOWS, rest)
    )


# ---------------------------------------------------------------------------------------------
# Builders: what a rule's match means. Each declines (None) when the match holds no task.


def _act(action: Action) -> Builder:
    def build(match: re.Match[str], _: Utterance) -> Command | None:
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
        ref = parse_ref(match.group("target"))
        return None if ref is None else make(ref, match, utterance)

    return build


def _note(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    return Update(ref, notes=match.group("note").strip())


def _rename(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    new = clean_title(match.group("new"))
    return Update(ref, title=new) if new else None


def _clear_due(ref: TaskRef, _match: re.Match[str], _: Utterance) -> Update | None:
    return Update(ref, clear_due=True)


def _redate(ref: TaskRef, match: re.Match[str], utterance: Utterance) -> Update | None:
    due, _ = extract_due(match.group("when"), utterance.now)
    return Update(ref, due=due) if due is not None else None


def _set_priority(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    # "urgent" and "important" are not in the table: both mean high.
    return Update(ref, priority=PRIORITY_WORDS.get(match.group("prio").lower(), "high"))


def _shift_priority(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    up = match.group("dir").lower() in ("raise", "increase", "bump")
    priority: Priority = "high" if up else "low"
    return Update(ref, priority=priority)


def _prioritize(ref: TaskRef, _match: re.Match[str], _: Utterance) -> Update | None:
    return Update(ref, priority="high")


def _tag(ref: TaskRef, match: re.Match[str], _: Utterance) -> Update | None:
    raw_tags = match.group("tags")
    tags = extract_tags(raw_tags)[0]
    if not tags:
        # "tag X with work and home": words without "#" are tags too here.
        tags = [t.lower() for t in re.findall(r"[\w-]+", raw_tags) if t.lower() != "and"]
    return Update(ref, tags=tags) if tags else None


_SEARCH_LEAD = re.compile(r"^(?:tasks?\s+)?(?:about|mentioning|containing|with)\s+", re.I)
_SEARCH_ARTICLE = re.compile(r"^(?:the|a|an|my)\s+", re.I)


def _search(match: re.Match[str], _: Utterance) -> Command | None:
    query = match.group("q").strip(" \"'“”?.")
    query = _SEARCH_ARTICLE.sub("", _SEARCH_LEAD.sub("", query))
    return Search(query) if query else None


def _add(match: re.Match[str], utterance: Utterance) -> Command | None:
    tasks = parse_add_items(match.group("rest"), utterance.now)
    return Add(tasks) if tasks else None


def _always(command: Callable[[], Command]) -> Builder:
    return lambda _match, _utterance: command()


# ---------------------------------------------------------------------------------------------
# Patterns. `(?P<target>…)` is a task reference, read by `phrases.parse_ref(s)`.

_HELP = re.compile(
    r"^(?:help|\?+|what\s+can\s+you\s+do|what\s+do\s+you\s+(?:understand|do|know)|how\s+do\s+(?:i|you)\s+use\s+(?:this|you)|"
    r"how\s+does\s+this\s+work|commands|what\s+are\s+your\s+commands|who\s+are\s+you|instructions)\b",
    re.I,
)
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|yo|good\s+(?:morning|afternoon|evening)|greetings|salam|salaam|assalam\w*)$",
    re.I,
)
_THANKS = re.compile(
    r"^(?:thanks|thank\s+you|thx|ty|cheers|great|perfect|cool|nice|awesome)\b.*$", re.I
)
_NOTHING = re.compile(r"^$")
_NOTE = re.compile(
    r"^(?:add\s+(?:a\s+)?note\s+(?:to|on|for)|note\s+on|annotate)\s+(?P<target>.+?)\s*(?::|-|saying|that)\s*(?P<note>.+)$",
    re.I,
)
_RENAME_TO = re.compile(
    r"^(?:rename|retitle)\s+(?P<target>.+?)\s+(?:to|as|into)\s+(?P<new>.+)$", re.I
)
_CHANGE_TITLE = re.compile(
    r"^(?:change|update|set)\s+(?:the\s+)?(?:title|name|text)\s+(?:of|for)\s+(?P<target>.+?)\s+to\s+(?P<new>.+)$",
    re.I,
)
_CHANGE_TO_SAY = re.compile(
    r"^(?:change|update)\s+(?P<target>.+?)\s+to\s+(?:say|read)\s+(?P<new>.+)$", re.I
)
_CLEAR_DUE = re.compile(
    r"^(?:clear|remove|delete|drop)\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for|from|on)\s+(?P<target>.+)$",
    re.I,
)
_MOVE_TO = re.compile(
    r"^(?:move|reschedule|postpone|push|delay|shift|change\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for)|"
    r"set\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for))\s+(?P<target>.+?)\s+(?:to|until|till|for)\s+(?P<when>.+)$",
    re.I,
)
_MAKE_DUE = re.compile(r"^(?:make|set)\s+(?P<target>.+?)\s+due\s+(?P<when>.+)$", re.I)
# "<task> is due friday" — but not questions like "what is due this week?".
_IS_DUE = re.compile(
    r"^(?!(?:what|which|who|anything|something|everything|nothing)\b)"
    r"(?P<target>.+?)\s+(?:is|should\s+be)\s+(?:now\s+)?due\s+(?P<when>.+)$",
    re.I,
)
_SET_PRIORITY_OF = re.compile(
    r"^(?:set|change|update)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<target>.+?)\s+to\s+(?P<prio>high|low|medium|normal|top)$",
    re.I,
)
_MAKE_PRIORITY = re.compile(
    r"^(?:make|set|mark|change)\s+(?P<target>.+?)\s+(?:to\s+|as\s+)?(?:a\s+)?(?P<prio>high|low|medium|normal|top|urgent|important)(?:\s+priority)?$",
    re.I,
)
_SHIFT_PRIORITY = re.compile(
    r"^(?P<dir>raise|increase|bump|lower|decrease|reduce)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<target>.+)$",
    re.I,
)
_PRIORITIZE = re.compile(r"^(?:prioritize|prioritise)\s+(?P<target>.+)$", re.I)
_TAG_WITH = re.compile(r"^(?:tag|label)\s+(?P<target>.+?)\s+(?:with|as)\s+(?P<tags>.+)$", re.I)
_ADD_TAG_TO = re.compile(
    r"^(?:add|put)\s+(?P<tags>(?:#[\w-]+[\s,]*(?:and\s+)?)+)\s+(?:to|on)\s+(?P<target>.+)$",
    re.I,
)
_REOPEN = re.compile(
    r"^(?:reopen|re-open|unfinish|uncomplete|un-complete|undo|unmark|restore)\s+(?P<target>.+)$",
    re.I,
)
_MARK_NOT_DONE = re.compile(
    r"^(?:mark|set)\s+(?P<target>.+?)\s+(?:as\s+)?(?:not\s+done|undone|open|incomplete|not\s+complete(?:d)?|to\s*do|pending|unfinished)(?:\s+again)?$",
    re.I,
)
_IS_NOT_DONE = re.compile(
    r"^(?P<target>.+?)\s+(?:is|isn't|is\s+not)\s+(?:not\s+)?(?:done|finished)\s+(?:yet|after\s+all)$",
    re.I,
)
_MARK_DONE = re.compile(
    r"^(?:mark|set|tick|check)\s+(?P<target>.+?)\s+(?:as\s+)?(?:done|complete|completed|finished|off)$",
    re.I,
)
_COMPLETE = re.compile(
    r"^(?:complete|finish|done(?:\s+with)?|check\s+off|tick\s+off|cross\s+off|close|completed|finished)\s*:?\s+(?P<target>.+)$",
    re.I,
)
_I_FINISHED = re.compile(
    r"^i(?:'ve|\s+have|\s+just|\s+already)*\s+(?:finished|completed|done|did)\s+(?P<target>.+)$",
    re.I,
)
_I_AM_DONE_WITH = re.compile(
    r"^i(?:'m|\s+am)\s+(?:done|finished)\s+(?:with\s+)?(?P<target>.+)$", re.I
)
_IS_DONE = re.compile(
    r"^(?P<target>.+?)\s+(?:is|are|was)\s+(?:now\s+)?(?:done|complete|completed|finished)$",
    re.I,
)
_DELETE = re.compile(
    r"^(?:delete|remove|drop|erase|trash|discard|get\s+rid\s+of|cancel|forget(?:\s+about)?)\s+(?P<target>.+?)(?:\s+from\s+(?:my|the)\s+(?:list|tasks))?$",
    re.I,
)
_SEARCH = re.compile(
    r"^(?:search(?:\s+for)?|find(?:\s+me)?|look\s+for|look\s+up|lookup|any(?:thing)?\s+(?:about|with|mentioning|on)|"
    r"(?:do\s+i\s+have\s+)?(?:any\s+)?(?:tasks?|todos?)\s+(?:about|mentioning|containing|matching|with\s+the\s+word)|"
    r"which\s+tasks\s+(?:mention|contain|are\s+about))\s+(?P<q>.+)$",
    re.I,
)
_SHOW = re.compile(
    r"^(?:show|get|open|describe|details?|what\s+is|what's|tell\s+me\s+about)\s+(?:me\s+)?(?:the\s+)?(?:details\s+(?:of|for|on)\s+)?(?P<target>.+)$",
    re.I,
)
_ADD = re.compile(
    r"^(?:add|create|new|make|put|insert|remind\s+me\s+(?:to\s+)?|remember\s+to|i\s+need\s+to|i\s+have\s+to|i\s+must|"
    r"i\s+should|don't\s+forget\s+to|do\s+not\s+forget\s+to|todo|to-do|task)\b\s*:?\s*(?P<rest>.+)$",
    re.I,
)
# "add a task", "create a new todo": the wish to add, with nothing to add yet.
_BARE_ADD = re.compile(
    r"^(?:add|create|new|make)\s+(?:a\s+|an\s+|one\s+)?(?:new\s+)?(?:task|todo|to-do|item|reminder)s?[.!]?$",
    re.I,
)
_LISTISH = re.compile(
    r"\b(?:list|tasks?|todos?|to-dos?|agenda|overdue|due|pending|outstanding|left|remaining|everything|"
    r"my\s+day|plate|what\s+do\s+i\s+have|what(?:'s|\s+is)\s+(?:on|next)|next\s+up|what\s+should\s+i\s+do)\b|^(?:show|list|display)(?:\s+(?:me|my|all|them|it\s+all))*$|"
    r"^(?:show|list|display|view|see)\s+(?:me\s+)?(?:my\s+|all\s+|the\s+)*(?:open|done|completed|finished|high|low|urgent|important|#)",
    re.I,
)

RULES: tuple[Rule, ...] = (
    # Small talk. "Thanks" is read before courtesy words come off, since they include it.
    Rule("thanks, as typed", raw_at_start(_THANKS), _always(lambda: Greeting(thanks=True))),
    Rule("only courtesy words", at_start(_NOTHING), _always(Greeting)),
    Rule("help", at_start(_HELP), _always(Help)),
    Rule("greeting", at_start(_GREETING), _always(Greeting)),
    Rule("thanks", at_start(_THANKS), _always(lambda: Greeting(thanks=True))),
    # Edits of one task.
    Rule("note: add a note to X: …", at_start(_NOTE), _edit(_note)),
    Rule("rename: rename X to Y", at_start(_RENAME_TO), _edit(_rename)),
    Rule("rename: change the title of X to Y", at_start(_CHANGE_TITLE), _edit(_rename)),
    Rule("rename: change X to say Y", at_start(_CHANGE_TO_SAY), _edit(_rename)),
    Rule("due: clear the due date of X", at_start(_CLEAR_DUE), _edit(_clear_due)),
    Rule("due: move X to <when>", at_start(_MOVE_TO), _edit(_redate)),
    Rule("due: make X due <when>", at_start(_MAKE_DUE), _edit(_redate)),
    Rule("due: X is due <when>", at_start(_IS_DUE), _edit(_redate)),
    Rule("priority: set the priority of X to P", at_start(_SET_PRIORITY_OF), _edit(_set_priority)),
    Rule("priority: make X P", at_start(_MAKE_PRIORITY), _edit(_set_priority)),
    Rule("priority: raise the priority of X", at_start(_SHIFT_PRIORITY), _edit(_shift_priority)),
    Rule("priority: prioritize X", at_start(_PRIORITIZE), _edit(_prioritize)),
    Rule("tags: tag X with T", at_start(_TAG_WITH), _edit(_tag)),
    Rule("tags: add #t to X", at_start(_ADD_TAG_TO), _edit(_tag)),
    # Actions on one or more tasks.
    Rule("reopen: reopen X", at_start(_REOPEN), _act("reopen")),
    Rule("reopen: mark X not done", at_start(_MARK_NOT_DONE), _act("reopen")),
    Rule("reopen: X is not done yet", at_start(_IS_NOT_DONE), _act("reopen")),
    Rule("complete: mark X done", at_start(_MARK_DONE), _act("complete")),
    Rule("complete: complete X", at_start(_COMPLETE), _act("complete")),
    Rule("complete: I finished X", at_start(_I_FINISHED), _act("complete")),
    Rule("complete: I'm done with X", at_start(_I_AM_DONE_WITH), _act("complete")),
    Rule("complete: X is done", at_start(_IS_DONE), _act("complete")),
    Rule("delete: delete X", at_start(_DELETE), _act("delete")),
    Rule("search: search for …", at_start(_SEARCH), _search),
    Rule("show: show X", at_start(_SHOW), _show),
    # Adding, and the wish to add with nothing to add yet.
    Rule("add: add …", at_start(_ADD), _add),
    Rule("add: add a task", at_start(_BARE_ADD), _always(lambda: Unknown(missing_title=True))),
    # Anything else that asks to see tasks.
    Rule("list", anywhere(_LISTISH), lambda _match, utterance: parse_list(utterance.text)),
)

ENGLISH = Grammar(language="en", prepare=prepare, rules=RULES)
