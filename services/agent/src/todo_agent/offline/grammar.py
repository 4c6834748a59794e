"""What the offline model understands: one user message → one `Command`.

English covers add (several tasks at once, due dates, priorities, #tags), list with filters,
search, get, complete/reopen/delete/update/rename/re-date by id, by position in the last list
shown, or by (fuzzy) title, and help. Urdu covers add, list, complete and help. Anything else
is `Unknown`, and the model says honestly what it can do instead of guessing.
"""

# Urdu text legitimately uses the Arabic full stop and similar characters.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from todo_agent.offline.dates import Due, extract_due

Priority = Literal["low", "medium", "high"]
State = Literal["open", "completed", "all"]
DueWindow = Literal["any", "overdue", "today", "tomorrow", "this_week", "next_week"]
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


@dataclass
class Add:
    """Add one or more tasks."""

    tasks: list[NewTask]


@dataclass
class ListTasks:
    """List tasks matching filters."""

    state: State = "open"
    priority: Priority | None = None
    tag: str | None = None
    due: DueWindow = "any"


@dataclass
class Search:
    """Find tasks whose title or notes contain text."""

    query: str


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


Command = Add | ListTasks | Search | Act | Update | Help | Greeting | Unknown

_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z]")
_URDU_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def is_urdu(text: str) -> bool:
    """True when the text is mostly written in Arabic script (Urdu)."""
    arabic = len(_ARABIC_SCRIPT.findall(text))
    return arabic > 0 and arabic >= len(_LATIN.findall(text))


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_URDU_DIGITS)
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------------------------------------
# Pieces shared by several commands.

_TAG = re.compile(r"(?<![\w#])#([^\W\d_][\w-]{0,31}|\d+[^\W\d][\w-]{0,30})", re.UNICODE)
_PRIORITY_PATTERNS: list[tuple[re.Pattern[str], Priority | None]] = [
    (
        re.compile(
            r"(?<!\w)(?:(?:with|at|as|in|set\s+to|is)\s+)?(?:a\s+)?(high|top|low|medium|normal|med)[\s-]*(?:priority|prio|pri)(?!\w)",
            re.I,
        ),
        None,
    ),
    (
        re.compile(
            r"(?<!\w)priority\s*(?:is|:|=|of|to)?\s*(high|low|medium|normal|top)(?!\w)", re.I
        ),
        None,
    ),
    (re.compile(r"(?<!\w)(?:not\s+urgent|whenever|someday|no\s+rush)(?!\w)", re.I), "low"),
    (re.compile(r"(?<!\w)(urgent|urgently|asap|important|critical)(?!\w)", re.I), "high"),
    (re.compile(r"(?<!\w)p([123])(?!\w)", re.I), None),
    (re.compile(r"(?<!\S)(?:اہم|ضروری|فوری)(?!\S)"), "high"),
]
_PRIORITY_WORDS: dict[str, Priority] = {
    "high": "high",
    "top": "high",
    "low": "low",
    "medium": "medium",
    "med": "medium",
    "normal": "medium",
    "1": "high",
    "2": "medium",
    "3": "low",
}


def extract_priority(text: str) -> tuple[Priority | None, str]:
    """Finds a priority phrase ("high priority", "urgent", "p1", "اہم"); returns it and the rest."""
    for pattern, fixed in _PRIORITY_PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        priority = fixed or _PRIORITY_WORDS[match.group(1).lower()]
        rest = f"{text[: match.start()]} {text[match.end() :]}"
        return priority, rest
    return None, text


def extract_tags(text: str) -> tuple[list[str], str]:
    """Finds `#tags`; returns them (lower-cased, de-duplicated, in order) and the rest."""
    tags: list[str] = []
    for match in _TAG.finditer(text):
        tag = match.group(1).lower()
        if tag not in tags:
            tags.append(tag)
    return tags, _TAG.sub(" ", text)


_TITLE_NOISE_END = re.compile(
    r"(?:\s+(?:to|on|in|into|onto)\s+(?:my|the)\s+(?:todo\s+|to-do\s+|task\s+)?(?:list|tasks|todos|to-dos)"
    r"|\s+as\s+a\s+(?:task|todo|to-do)|\s+(?:with|and|,)\s*$|\s+please)+\s*$",
    re.I,
)
_TITLE_NOISE_START = re.compile(
    r"^(?:(?:a|an)\s+)?(?:new\s+)?(?:task|todo|to-do|reminder|item)s?\s*(?:to\s+|:\s*|called\s+|named\s+)?",
    re.I,
)


def clean_title(text: str) -> str:
    """Trims list phrases, dangling words and punctuation around a title."""
    text = re.sub(r"\s+", " ", text).strip(" ,;:.!-")
    text = _TITLE_NOISE_START.sub("", text)
    text = _TITLE_NOISE_END.sub("", text)
    text = re.sub(r"\s+(?:due|by|on|for|at|with|and)$", "", text, flags=re.I)
    text = text.strip(" ,;:.!-")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text[:1].upper() + text[1:] if text and text[0].isascii() else text


# A quoted title: double quotes anywhere, single quotes only around whole words (not "mom's").
_QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]|(?:(?<=\s)|^)['‘]([^'’]+)['’](?=\s|$|[,.!?])")


def parse_new_task(text: str, now: datetime) -> NewTask:
    """One task phrase → title, due date, priority, tags."""
    quoted = _QUOTED.search(text)
    tags, rest = extract_tags(text)
    priority, rest = extract_priority(rest)
    if quoted is not None:
        # A quoted title is taken literally; modifiers come from the rest of the phrase.
        outside = rest.replace(quoted.group(0), " ")
        due, _ = extract_due(outside, now)
        return NewTask((quoted.group(1) or quoted.group(2)).strip(), due, priority, tags)
    due, rest = extract_due(rest, now)
    return NewTask(clean_title(rest), due, priority, tags)


# Urdu "اور" (and) is not a separator: in "دودھ اور انڈے خریدنا" (buy milk and eggs) the verb
# comes last, so splitting would cut the task in two. Urdu lists use the Urdu comma.
_SPLIT_ITEMS = re.compile(r"\s*(?:,|;|،|\s+and\s+|\s+&\s+|\s+plus\s+|\s+also\s+)\s*", re.I)


def parse_add_items(text: str, now: datetime) -> list[NewTask]:
    """ "milk and eggs tomorrow" → two tasks. A piece with no title ("high priority") adds its
    modifiers to the tasks before it; modifiers of the last task apply to all when only it has any."""
    if len(_QUOTED.findall(text)) == 1:
        return [parse_new_task(text, now)]
    pieces = [piece for piece in _SPLIT_ITEMS.split(text) if piece.strip()]
    tasks: list[NewTask] = []
    for piece in pieces:
        parsed = parse_new_task(piece.strip(' "“”'), now)
        if not parsed.title and tasks:
            for task in tasks:
                task.due = task.due or parsed.due
                task.priority = task.priority or parsed.priority
                task.tags = task.tags + [t for t in parsed.tags if t not in task.tags]
            continue
        if parsed.title:
            tasks.append(parsed)
    if len(tasks) > 1:
        last = tasks[-1]
        others = tasks[:-1]
        if all(t.due is None and t.priority is None and not t.tags for t in others):
            tasks = [
                replace(t, due=last.due, priority=last.priority, tags=list(last.tags))
                for t in others
            ] + [last]
    return tasks


ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
    "eighth": 8,
    "8th": 8,
    "ninth": 9,
    "9th": 9,
    "tenth": 10,
    "10th": 10,
    "last": -1,
    "پہلا": 1,
    "پہلے": 1,
    "پہلی": 1,
    "دوسرا": 2,
    "دوسرے": 2,
    "دوسری": 2,
    "تیسرا": 3,
    "تیسرے": 3,
    "تیسری": 3,
    "چوتھا": 4,
    "چوتھے": 4,
    "چوتھی": 4,
    "پانچواں": 5,
    "پانچویں": 5,
    "آخری": -1,
}
_ID = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9A-HJKMNP-TV-Z]{26}|"
    r"(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{12,64})$",
    re.I,
)
_EXPLICIT_ID = re.compile(r"^(?:task\s+)?(?:with\s+)?id\s*[:=#]?\s*(\S+)$", re.I)
_TASK_PREFIX = re.compile(r"^(?:the\s+)?(?:task|todo|item)\s+(?=\S{8,}$)", re.I)
_POSITION = re.compile(
    r"^(?:the\s+)?(?:(?P<ord>"
    + "|".join(k for k in ORDINALS if k.isascii())
    + r")(?:\s+(?:one|task|item|todo))?|(?:number|no\.?|#|task|item)\s*(?P<num>\d{1,3})|(?P<bare>\d{1,3}))$",
    re.I,
)
_LAST_MENTIONED = re.compile(
    r"^(?:it|that|this|that\s+one|this\s+one|that\s+task|this\s+task)$", re.I
)
_REF_NOISE = re.compile(
    r"^(?:the\s+|my\s+|a\s+|task\s+|todo\s+|item\s+|one\s+(?:about|for)\s+|about\s+|called\s+|named\s+)+|"
    r"(?:\s+(?:one|task|todo|item|thing))+$|\s+(?:from|on|off)\s+(?:my|the)\s+(?:list|tasks)$",
    re.I,
)


def parse_ref(text: str) -> TaskRef | None:
    """One reference: an id, a position, "it", or a title to match."""
    text = text.strip(" ,.;:!?\"'“”")
    if not text:
        return None
    explicit = _EXPLICIT_ID.match(text)
    if explicit is not None:
        return TaskRef("id", explicit.group(1).strip(" .,"))
    bare = _TASK_PREFIX.sub("", text)
    if _ID.match(bare):
        return TaskRef("id", bare)
    match = _POSITION.match(text)
    if match is not None:
        if match.group("ord"):
            return TaskRef("position", position=ORDINALS[match.group("ord").lower()])
        return TaskRef("position", position=int(match.group("num") or match.group("bare")))
    if _LAST_MENTIONED.match(text):
        return TaskRef("last")
    title = text
    for _ in range(3):
        title = _REF_NOISE.sub("", title).strip(" ,.;:!?\"'“”")
    return TaskRef("title", title) if title else None


def parse_refs(text: str) -> list[TaskRef]:
    """ "1 and 3", "the first and the second" → several refs; anything else is one ref."""
    pieces = [
        p for p in re.split(r"\s*(?:,|\s+and\s+|&|\s+اور\s+)\s*", text.strip(), flags=re.I) if p
    ]
    if len(pieces) > 1:
        refs = [parse_ref(p) for p in pieces]
        if all(r is not None and r.kind in ("id", "position") for r in refs):
            return [r for r in refs if r is not None]
    ref = parse_ref(text)
    return [ref] if ref is not None else []


# ---------------------------------------------------------------------------------------------
# English.

_POLITE_START = re.compile(
    r"^(?:please|pls|plz|can\s+you|could\s+you|would\s+you|will\s+you|kindly|hey|hi|ok|okay|so|and|also|now|then|assistant)[\s,]+",
    re.I,
)
_POLITE_END = re.compile(r"[\s,]*(?:please|pls|plz|thanks|thank\s+you|for\s+me)?[\s.!?]*$", re.I)

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

_RENAME = [
    re.compile(r"^(?:rename|retitle)\s+(?P<target>.+?)\s+(?:to|as|into)\s+(?P<new>.+)$", re.I),
    re.compile(
        r"^(?:change|update|set)\s+(?:the\s+)?(?:title|name|text)\s+(?:of|for)\s+(?P<target>.+?)\s+to\s+(?P<new>.+)$",
        re.I,
    ),
    re.compile(r"^(?:change|update)\s+(?P<target>.+?)\s+to\s+(?:say|read)\s+(?P<new>.+)$", re.I),
]
_CLEAR_DUE = re.compile(
    r"^(?:clear|remove|delete|drop)\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for|from|on)\s+(?P<target>.+)$",
    re.I,
)
_REDATE = [
    re.compile(
        r"^(?:move|reschedule|postpone|push|delay|shift|change\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for)|"
        r"set\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+(?:of|for))\s+(?P<target>.+?)\s+(?:to|until|till|for)\s+(?P<when>.+)$",
        re.I,
    ),
    re.compile(r"^(?:make|set)\s+(?P<target>.+?)\s+due\s+(?P<when>.+)$", re.I),
    # "<task> is due friday" — but not questions like "what is due this week?".
    re.compile(
        r"^(?!(?:what|which|who|anything|something|everything|nothing)\b)"
        r"(?P<target>.+?)\s+(?:is|should\s+be)\s+(?:now\s+)?due\s+(?P<when>.+)$",
        re.I,
    ),
]
_REPRIORITIZE = [
    re.compile(
        r"^(?:set|change|update)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<target>.+?)\s+to\s+(?P<prio>high|low|medium|normal|top)$",
        re.I,
    ),
    re.compile(
        r"^(?:make|set|mark|change)\s+(?P<target>.+?)\s+(?:to\s+|as\s+)?(?:a\s+)?(?P<prio>high|low|medium|normal|top|urgent|important)(?:\s+priority)?$",
        re.I,
    ),
    re.compile(
        r"^(?P<dir>raise|increase|bump|lower|decrease|reduce)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<target>.+)$",
        re.I,
    ),
    re.compile(r"^(?:prioritize|prioritise)\s+(?P<target>.+)$", re.I),
]
_TAG_TASK = [
    re.compile(r"^(?:tag|label)\s+(?P<target>.+?)\s+(?:with|as)\s+(?P<tags>.+)$", re.I),
    re.compile(
        r"^(?:add|put)\s+(?P<tags>(?:#[\w-]+[\s,]*(?:and\s+)?)+)\s+(?:to|on)\s+(?P<target>.+)$",
        re.I,
    ),
]
_NOTE = re.compile(
    r"^(?:add\s+(?:a\s+)?note\s+(?:to|on|for)|note\s+on|annotate)\s+(?P<target>.+?)\s*(?::|-|saying|that)\s*(?P<note>.+)$",
    re.I,
)
_REOPEN = [
    re.compile(
        r"^(?:reopen|re-open|unfinish|uncomplete|un-complete|undo|unmark|restore)\s+(?P<target>.+)$",
        re.I,
    ),
    re.compile(
        r"^(?:mark|set)\s+(?P<target>.+?)\s+(?:as\s+)?(?:not\s+done|undone|open|incomplete|not\s+complete(?:d)?|to\s*do|pending|unfinished)(?:\s+again)?$",
        re.I,
    ),
    re.compile(
        r"^(?P<target>.+?)\s+(?:is|isn't|is\s+not)\s+(?:not\s+)?(?:done|finished)\s+(?:yet|after\s+all)$",
        re.I,
    ),
]
_COMPLETE = [
    re.compile(
        r"^(?:mark|set|tick|check)\s+(?P<target>.+?)\s+(?:as\s+)?(?:done|complete|completed|finished|off)$",
        re.I,
    ),
    re.compile(
        r"^(?:complete|finish|done(?:\s+with)?|check\s+off|tick\s+off|cross\s+off|close|completed|finished)\s*:?\s+(?P<target>.+)$",
        re.I,
    ),
    re.compile(
        r"^i(?:'ve|\s+have|\s+just|\s+already)*\s+(?:finished|completed|done|did)\s+(?P<target>.+)$",
        re.I,
    ),
    re.compile(r"^i(?:'m|\s+am)\s+(?:done|finished)\s+(?:with\s+)?(?P<target>.+)$", re.I),
    re.compile(
        r"^(?P<target>.+?)\s+(?:is|are|was)\s+(?:now\s+)?(?:done|complete|completed|finished)$",
        re.I,
    ),
]
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
_GET = re.compile(
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


def _state_filter(text: str) -> State:
    if re.search(r"\b(?:all|everything|every|both|any\s+state)\b", text, re.I) and not re.search(
        r"\ball\s+(?:open|pending|done|completed|finished)\b", text, re.I
    ):
        return "all"
    if re.search(r"\b(?:done|completed|finished|closed|ticked\s+off|checked\s+off)\b", text, re.I):
        return "completed"
    return "open"


def _due_filter(text: str) -> DueWindow:
    if re.search(r"\b(?:overdue|late|past\s+due|missed|behind)\b", text, re.I):
        return "overdue"
    if re.search(r"\b(?:today|tonight|my\s+day)\b", text, re.I):
        return "today"
    if re.search(r"\btomorrow\b", text, re.I):
        return "tomorrow"
    if re.search(r"\bnext\s+week\b", text, re.I):
        return "next_week"
    if re.search(
        r"\b(?:this\s+week|the\s+week|within\s+(?:a|the)\s+week|this\s+coming\s+week)\b", text, re.I
    ):
        return "this_week"
    return "any"


def parse_list(text: str) -> ListTasks:
    """Filters from a request to see tasks."""
    tags, rest = extract_tags(text)
    tag = tags[0] if tags else None
    if tag is None:
        match = re.search(
            r"\b(?:tagged|labelled|labeled|with\s+(?:the\s+)?tag|under)\s+#?([\w-]+)", rest, re.I
        )
        if match:
            tag = match.group(1).lower()
    priority, rest = extract_priority(rest)
    return ListTasks(state=_state_filter(rest), priority=priority, tag=tag, due=_due_filter(rest))


def _english(text: str, now: datetime) -> Command:
    if _THANKS.match(text):
        return Greeting(thanks=True)
    for _ in range(3):
        text = _POLITE_START.sub("", text)
    text = _POLITE_END.sub("", text).strip()
    if not text:
        return Greeting()
    if _HELP.match(text):
        return Help()
    if _GREETING.match(text):
        return Greeting()
    if _THANKS.match(text):
        return Greeting(thanks=True)
    match = _NOTE.match(text)
    if match:
        ref = parse_ref(match.group("target"))
        if ref:
            return Update(ref, notes=match.group("note").strip())
    for pattern in _RENAME:
        match = pattern.match(text)
        if match:
            ref = parse_ref(match.group("target"))
            new = clean_title(match.group("new"))
            if ref and new:
                return Update(ref, title=new)
    match = _CLEAR_DUE.match(text)
    if match:
        ref = parse_ref(match.group("target"))
        if ref:
            return Update(ref, clear_due=True)
    for pattern in _REDATE:
        match = pattern.match(text)
        if match:
            due, _ = extract_due(match.group("when"), now)
            ref = parse_ref(match.group("target"))
            if due is not None and ref is not None:
                return Update(ref, due=due)
    for pattern in _REPRIORITIZE:
        match = pattern.match(text)
        if match:
            groups = match.groupdict()
            if groups.get("dir"):
                prio: Priority = (
                    "high" if groups["dir"].lower() in ("raise", "increase", "bump") else "low"
                )
            elif groups.get("prio"):
                prio = _PRIORITY_WORDS.get(groups["prio"].lower(), "high")
            else:
                prio = "high"
            ref = parse_ref(match.group("target"))
            if ref:
                return Update(ref, priority=prio)
    for pattern in _TAG_TASK:
        match = pattern.match(text)
        if match:
            raw_tags = match.group("tags")
            tags, _ = extract_tags(raw_tags)
            if not tags:
                tags = [t.lower() for t in re.findall(r"[\w-]+", raw_tags) if t.lower() != "and"]
            ref = parse_ref(match.group("target"))
            if ref and tags:
                return Update(ref, tags=tags)
    for pattern in _REOPEN:
        match = pattern.match(text)
        if match:
            refs = parse_refs(match.group("target"))
            if refs:
                return Act("reopen", refs)
    for pattern in _COMPLETE:
        match = pattern.match(text)
        if match:
            refs = parse_refs(match.group("target"))
            if refs:
                return Act("complete", refs)
    match = _DELETE.match(text)
    if match:
        refs = parse_refs(match.group("target"))
        if refs:
            return Act("delete", refs)
    match = _SEARCH.match(text)
    if match:
        query = match.group("q").strip(" \"'“”?.")
        query = re.sub(
            r"^(?:tasks?\s+)?(?:about|mentioning|containing|with)\s+", "", query, flags=re.I
        )
        query = re.sub(r"^(?:the|a|an|my)\s+", "", query, flags=re.I)
        if query:
            return Search(query)
    match = _GET.match(text)
    if match:
        ref = parse_ref(match.group("target"))
        if ref is not None and ref.kind in ("id", "position", "last"):
            return Act("get", [ref])
    match = _ADD.match(text)
    if match:
        tasks = parse_add_items(match.group("rest"), now)
        if tasks:
            return Add(tasks)
        if _BARE_ADD.match(text):
            return Unknown(missing_title=True)
    if _LISTISH.search(text):
        return parse_list(text)
    return Unknown()


# ---------------------------------------------------------------------------------------------
# Urdu (add, list, complete, help).

_UR_HELP = re.compile(r"(?:مدد|ہیلپ|آپ کیا کر سکتے)")
_UR_GREETING = re.compile(r"^(?:السلام علیکم|سلام|آداب|ہیلو|شکریہ|بہت شکریہ)[\s۔!]*$")
_UR_LIST = re.compile(r"(?:دکھا|فہرست|لسٹ|کون سے کام|کیا کام|میرے کام\s*(?:کیا|؟|$)|بتائیں|بتاؤ)")
_UR_COMPLETE = re.compile(
    r"\s*(?:کو\s+)?(?:مکمل\s+(?:کر\s+دیں|کر\s+دو|کریں|کرو|کر\s+دیا|ہو\s+گیا|ہوگیا|ہو\s+گئی|ہوگئی)|ہو\s+گیا|ہوگیا|ختم\s+(?:کر\s+دیا|ہو\s+گیا|کریں))[\s۔!]*$"
)
_UR_ADD = re.compile(
    r"\s*(?:کو\s+)?(?:(?:فہرست|لسٹ)\s+میں\s+)?(?:شامل\s+(?:کر\s+دیں|کر\s+دو|کریں|کرو|کرنا)|ایڈ\s+(?:کریں|کرو|کر\s+دیں)|لکھ\s+(?:لیں|لو|دیں))[\s۔!]*$"
)
_UR_ADD_START = re.compile(r"^(?:نیا\s+کام|کام\s+شامل\s+کریں|یاد\s+دلائیں|یاد\s+دلانا)\s*[:：]?\s*")
_UR_REF_NOISE = re.compile(
    r"(?:\s*(?:والا|والی|والے)\s+کام|\s+کام|\s+کو|\s+نمبر)+$|^(?:کام\s+نمبر|نمبر|کام)\s+"
)


def _urdu_ref(text: str) -> TaskRef | None:
    text = _UR_REF_NOISE.sub("", text.strip(" ۔،")).strip()
    text = _UR_REF_NOISE.sub("", text).strip()
    if not text:
        return None
    if text in ORDINALS:
        return TaskRef("position", position=ORDINALS[text])
    if text.isdigit():
        return TaskRef("position", position=int(text))
    if text in ("یہ", "وہ", "اسے", "اس"):
        return TaskRef("last")
    return parse_ref(text)


def _urdu(text: str, now: datetime) -> Command:
    text = text.strip(" ۔؟!?")
    if _UR_HELP.search(text):
        return Help()
    if _UR_GREETING.match(text):
        return Greeting(thanks="شکریہ" in text)
    if _UR_LIST.search(text) and not _UR_ADD.search(text):
        state: State = "open"
        if re.search(r"مکمل\s+(?:شدہ|ہو\s+چکے)|ختم\s+شدہ", text):
            state = "completed"
        elif re.search(r"(?:تمام|سارے|سب)", text):
            state = "all"
        due: DueWindow = "any"
        if re.search(r"(?<!\S)آج(?!\S)", text):
            due = "today"
        elif re.search(r"(?<!\S)کل(?!\S)", text):
            due = "tomorrow"
        elif re.search(r"اس\s+ہفتے", text):
            due = "this_week"
        elif re.search(r"(?:تاخیر|گزر\s+چکے|لیٹ)", text):
            due = "overdue"
        tags, rest = extract_tags(text)
        priority, _ = extract_priority(rest)
        return ListTasks(state=state, priority=priority, tag=tags[0] if tags else None, due=due)
    match = _UR_COMPLETE.search(text)
    if match:
        refs = [
            r
            for r in (_urdu_ref(p) for p in re.split(r"\s+اور\s+|،|,", text[: match.start()]))
            if r
        ]
        if refs:
            return Act("complete", refs)
    add_end = _UR_ADD.search(text)
    add_start = _UR_ADD_START.match(text)
    if add_end or add_start:
        body = text
        if add_end:
            body = body[: add_end.start()]
        if add_start:
            body = body[add_start.end() :]
        tasks = parse_add_items(body, now)
        if tasks:
            return Add(tasks)
    return Unknown()


def parse(text: str, now: datetime) -> Command:
    """Understands one user message. `now` is the user's local time (dates are relative to it)."""
    text = _normalize(text)
    if is_urdu(text):
        return _urdu(text, now)
    return _english(text, now)
