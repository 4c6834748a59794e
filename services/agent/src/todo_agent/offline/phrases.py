"""Pieces of a message that rules in both languages read: tags, priorities, list windows, new
tasks (one or several) and references to existing tasks (an id, a position, "it", a title)."""

# Urdu text legitimately uses the Arabic full stop and similar characters.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from todo_agent.offline.commands import DueWindow, NewTask, Priority, TaskRef
from todo_agent.offline.dates import Due, extract_due
from todo_agent.offline.patterns import rx, word

# ---------------------------------------------------------------------------------------------
# Tags and priorities.

_TAG = re.compile(r"(?<![\w#])#([^\W\d_][\w-]{0,31}|\d+[^\W\d][\w-]{0,30})", re.UNICODE)
_PRIORITY_PATTERNS: list[tuple[re.Pattern[str], Priority | None]] = [
    (
        rx(
            r"(?<!\w)(?:(?:with|at|as|in|set\s+to|is)\s+)?(?:a\s+)?(high|top|low|medium|normal|med)[\s-]*(?:priority|prio|pri)(?!\w)"
        ),
        None,
    ),
    (
        rx(r"(?<!\w)priority\s*(?:is|:|=|of|to)?\s*(high|low|medium|normal|top)(?!\w)"),
        None,
    ),
    (rx(r"(?<!\w)(?:not\s+urgent|whenever|someday|no\s+rush)(?!\w)"), "low"),
    (rx(r"(?<!\w)(urgent|urgently|asap|important|critical)(?!\w)"), "high"),
    (rx(r"(?<!\w)p([123])(?!\w)"), None),
    (word(r"(?:اہم|ضروری|فوری)"), "high"),
]
PRIORITY_WORDS: dict[str, Priority] = {
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
        priority = fixed or PRIORITY_WORDS[match.group(1).lower()]
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


def first_window(windows: Sequence[tuple[re.Pattern[str], DueWindow]], text: str) -> DueWindow:
    """The due window of a request to list tasks: the first of `windows` the text names."""
    return next((window for pattern, window in windows if pattern.search(text)), "any")


# ---------------------------------------------------------------------------------------------
# New tasks.

_TITLE_NOISE_END = rx(
    r"(?:\s+(?:to|on|in|into|onto)\s+(?:my|the)\s+(?:todo\s+|to-do\s+|task\s+|shopping\s+|grocery\s+)?(?:list|tasks|todos|to-dos)"
    r"|\s+as\s+a\s+(?:task|todo|to-do)|\s+(?:with|and|,)\s*$|\s+please)+\s*$"
)
_TITLE_NOISE_START = rx(
    r"^(?:(?:a|an)\s+)?(?:new\s+)?(?:task|todo|to-do|reminder|item)s?\s*(?:to\s+|:\s*|called\s+|named\s+)?"
)


# Date words left in a title mean its date was misread ("Ring the council thursday lunchtime"):
# the planner asks rather than add a task with a wrong title or due date.
DATE_LEFT_IN_TITLE = rx(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tmrw|today|tonight|"
    r"january|february|april|june|july|august|september|october|november|december|"
    r"next\s+(?:week|month)|end\s+of|every|(?<=\s)'s|\d{1,2}(?::\d{2})?\s*(?:am|pm)|at\s+\d{1,2}(?::\d{2})?)\b"
    r"|(?<!\S)(?:آج|کل|پرسوں|بجے|جنوری|فروری|مارچ|اپریل|جون|جولائی|اگست|ستمبر|اکتوبر|نومبر|دسمبر)(?!\S)"
)


def clean_title(text: str) -> str:
    """Trims list phrases, dangling words and punctuation around a title."""
    text = re.sub(r"\(\s*\)", " ", text)
    text = re.sub(r"\s+", " ", text).strip(" ,;:.!-")
    text = _TITLE_NOISE_START.sub("", text)
    text = re.sub(r"^(?:to|that\s+i\s+(?:need|have)\s+to)\s+", "", text, flags=re.I)
    text = _TITLE_NOISE_END.sub("", text)
    # "…, it's urgent" with the priority read: the clause left over is no title.
    text = re.sub(r"[\s,;]+(?:it's|it\s+is|that's|this\s+is|its)$", "", text, flags=re.I)
    text = re.sub(r"\s+(?:due|by|on|for|at|with|and)$", "", text, flags=re.I)
    text = text.strip(" ,;:.!-")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text[:1].upper() + text[1:] if text and text[0].isascii() else text


# A quoted title: double quotes anywhere, single quotes only around whole words (not "mom's").
_QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]|(?:(?<=\s)|^)['‘]([^'’]+)['’](?=\s|$|[,.!?])")


_TAG_WORDS = rx(
    r",?\s*\b(?:tagged|tag\s+it|with\s+the\s+tags?|labell?ed)\s+(?:as\s+)?([\w-]+(?:\s+and\s+[\w-]+)?)\b"
)


def parse_new_task(text: str, now: datetime) -> NewTask:
    """One task phrase → title, due date, priority, tags."""
    quoted = _QUOTED.search(text)
    tags, rest = extract_tags(text)
    worded = _TAG_WORDS.search(rest)
    if worded is not None:
        tags += [
            t.lower()
            for t in worded.group(1).split()
            if t.lower() != "and" and t.lower() not in tags
        ]
        rest = f"{rest[: worded.start()]} {rest[worded.end() :]}"
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
_SPLIT_ITEMS = rx(r"\s*(?:,|،|\s+and\s+|\s+&\s+|\s+plus\s+|\s+also\s+)\s*")
# Separators that always mean one task per line: new lines, bullets, semicolons.
_HARD_SPLIT = re.compile(r"\s*(?:\n\s*(?:[-*•]\s*)?|;|^\s*[-*•]\s*|\s+[-*•]\s+)\s*")
# A lead-in that announces the list and is no task of its own: "these:", "the following
# things:", "a few things:", "3 tasks:", "these" before a bulleted list, "دو کام:" (two tasks:).
_LIST_NOUN = r"(?:tasks?|things?|items?|todos?|to-dos?|jobs?|bits)"
_LIST_LEAD = rx(
    r"^(?:(?:all\s+)?(?:these|those|the\s+following)(?:\s+",
    _LIST_NOUN,
    r")?|(?:(?:a\s+)?(?:few|couple(?:\s+of)?)|some|several|\d+|two|three|four|five|six|seven|eight|"
    r"nine|ten)\s+(?:more\s+)?",
    _LIST_NOUN,
    r"|tasks|need\s+to)(?:\s*:\s*|\s+(?=[-*•]\s))"
    r"|^(?:یہ|کچھ|درج\s+ذیل|\d+|دو|تین|چار|پانچ|چھ|سات|آٹھ|نو|دس)\s+کام\s*:\s*",
)
_PIECE_LEAD = rx(
    r"^(?:then|and|also|to|(?:also\s+)?remember\s+to|don't\s+forget\s+to|i\s+need\s+to|i\s+have\s+to)\s+"
)
_SEPARATE = rx(r"\s+as\s+(?:separate|individual|different)\s+(?:tasks|items|todos)\s*$")
# Words that open an action: several pieces each opening with one are several tasks.
ACTION_VERBS = frozenset(
    [
        "call",
        "book",
        "email",
        "e-mail",
        "pay",
        "renew",
        "wrap",
        "write",
        "post",
        "clean",
        "mow",
        "cancel",
        "order",
        "reserve",
        "ask",
        "text",
        "return",
        "buy",
        "collect",
        "water",
        "feed",
        "send",
        "get",
        "fill",
        "drop",
        "descale",
        "take",
        "pick",
        "fix",
        "make",
        "do",
        "check",
        "go",
        "visit",
        "bring",
        "sort",
        "tidy",
        "wash",
        "cook",
        "read",
        "finish",
        "submit",
        "file",
        "print",
        "plan",
        "prepare",
        "arrange",
        "schedule",
        "phone",
        "ring",
        "meet",
        "see",
        "pack",
        "change",
        "update",
        "register",
        "apply",
        "install",
        "repair",
        "replace",
        "move",
        "clear",
        "hoover",
        "iron",
        "bake",
        "walk",
        "tell",
        "invite",
        "charge",
        "top",
        "empty",
        "put",
        "chase",
        "organise",
        "organize",
        "review",
        "sign",
        "start",
        "look",
        "find",
        "grab",
        "drive",
        "fetch",
        "print",
        "backup",
        "back",
        "learn",
        "practise",
        "practice",
        "study",
        "message",
        "remind",
        "contact",
        "confirm",
        "donate",
        "recycle",
        "vacuum",
        "dust",
        "paint",
        "mop",
        "defrost",
        "service",
    ]
)


_URDU_INFINITIVE = re.compile(r"\S(?:نا|نی|نے)$")


def _lead_off(piece: str) -> str:
    """ "and also remember to call the school" → "call the school"."""
    for _ in range(3):
        piece = _PIECE_LEAD.sub("", piece.strip())
    return piece


def _starts_with_verb(piece: str) -> bool:
    words = piece.split()
    return bool(words) and words[0].lower().strip("'\"") in ACTION_VERBS


def parse_add_items(text: str, now: datetime, *, split: bool = True) -> list[NewTask]:
    """The tasks of one add. One action over several things is one task ("get eggs, butter and
    flour"); several actions, each with its own verb, or pieces on their own lines or between
    semicolons, are one task each ("call mum and book the dentist"). A date said once before
    the list ("tomorrow: …") applies to every item; one inside an item, to that item only."""
    quoted = _QUOTED.findall(text)
    if not split or (len(quoted) == 1 and not _SEPARATE.search(text)):
        return [parse_new_task(text, now)]
    text = _SEPARATE.sub("", text)
    text = _LIST_LEAD.sub("", text.strip())
    lead: Due | None = None
    head = re.match(r"^([^:\n]{1,40}?)\s*:\s*(.+)$", text, re.S)
    if head is not None:
        lead, rest = extract_due(head.group(1), now)
        if lead is not None and not clean_title(rest):
            text = head.group(2)
        else:
            lead = None
    hard = [p for p in _HARD_SPLIT.split(text) if p.strip()]
    if len(hard) > 1:
        pieces = hard
    else:
        soft = [p for p in _SPLIT_ITEMS.split(text) if p.strip()]
        soft = [_lead_off(p) for p in soft]
        titled = [p for p in soft if parse_new_task(p, now).title]
        several = len(titled) > 1 and all(_starts_with_verb(p) for p in titled[1:])
        # Urdu puts the verb last: "دودھ خریدنا، انڈے خریدنا" is two infinitives, two tasks.
        several = several or len(quoted) > 1
        several = several or (len(titled) > 1 and all(_URDU_INFINITIVE.search(p) for p in titled))
        # "امی کو فون کرنا اور دوائی لینا": two infinitives joined by "اور" are two tasks (one
        # verb after a list of things, "دودھ اور انڈے خریدنا", stays one).
        joined = [p.strip() for p in re.split(r"\s+اور\s+", text) if p.strip()]
        if (
            not several
            and len(joined) > 1
            and all(_URDU_INFINITIVE.search(p) and len(p.split()) > 1 for p in joined)
        ):
            several, soft = True, joined
        pieces = soft if several else [text]
    tasks: list[NewTask] = []
    for piece in pieces:
        parsed = parse_new_task(_lead_off(piece.strip(' "“”')), now)
        if not parsed.title and tasks:
            # "…, high priority, and …": modifiers of the task before.
            task = tasks[-1]
            task.due = task.due or parsed.due
            task.priority = task.priority or parsed.priority
            task.tags = task.tags + [t for t in parsed.tags if t not in task.tags]
            continue
        if parsed.title:
            tasks.append(parsed)
    if lead is not None:
        for task in tasks:
            task.due = Due(lead.day, task.due.at if task.due else lead.at)
    return tasks


# ---------------------------------------------------------------------------------------------
# References to existing tasks.

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
_ID = rx(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9A-HJKMNP-TV-Z]{26}|"
    r"(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{12,64})$"
)
_EXPLICIT_ID = rx(r"^(?:task\s+)?(?:with\s+)?id\s*[:=#]?\s*(\S+)$")
# "Feed the parrot [id 01a2…]": a task the user @-mentioned, as the service writes it in.
_MENTION_ID = re.compile(r"\[id\s+([^\]\s]+)\]$")
_TASK_PREFIX = rx(r"^(?:the\s+)?(?:task|todo|item)\s+(?=\S{8,}$)")
_POSITION = rx(
    r"^(?:the\s+)?(?:(?P<ord>",
    "|".join(k for k in ORDINALS if k.isascii()),
    r")(?:\s+(?:one|task|item|todo))?|(?:number|no\.?|#|task|item)\s*(?P<num>\d{1,3})|(?P<bare>\d{1,3}))$",
)
_LAST_MENTIONED = rx(r"^(?:it|that|this|that\s+one|this\s+one|that\s+task|this\s+task)$")
_REF_NOISE = rx(
    r"^(?:the\s+|my\s+|a\s+|task\s+|todo\s+|item\s+|one\s+(?:about|for)\s+|about\s+|called\s+|named\s+)+|"
    r"(?:\s+(?:one|task|todo|item|thing|reminder|title|name|wording|deadline|due\s+date)(?:'s)?)+$|\s+(?:from|on|off)\s+(?:my|the)\s+(?:list|tasks)$"
    # "emailed the landlord back", "rang the garage again": the task is "the landlord".
    r"|\s+(?:back|again|forward)$"
)


def parse_ref(text: str) -> TaskRef | None:
    """One reference: an id, a position, "it", or a title to match."""
    # "the report, I'm not actually done with it": the clause after a comma is no title.
    text = re.split(
        r",\s+(?=(?:i|i'm|it's|it|that's|as|since|because)\b)", text, maxsplit=1, flags=re.I
    )[0]
    text = text.strip(" ,.;:!?\"'“”")
    if not text:
        return None
    mention = _MENTION_ID.search(text)
    if mention is not None:
        return TaskRef("id", mention.group(1))
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


_BOTH = rx(r"^(?:both|both\s+of\s+them|them\s+both|the\s+two\s+of\s+them|both\s+tasks)$")


def parse_refs(text: str) -> list[TaskRef]:
    """ "1 and 3", "the first and the second", "both" → several refs; anything else is one ref."""
    text = text.strip(" ,.!?")
    if _BOTH.match(text):
        # The two tasks of the last list (the planner asks when it held more or fewer).
        return [TaskRef("position", position=1), TaskRef("position", position=2, value="both")]
    text = re.sub(r"^both\s+(?=.+\s+and\s+)", "", text, flags=re.I)
    pieces = [
        p for p in re.split(r"\s*(?:,|\s+and\s+|&|\s+اور\s+)\s*", text.strip(), flags=re.I) if p
    ]
    if len(pieces) > 1:
        refs = [parse_ref(p) for p in pieces]
        if all(r is not None and r.kind in ("id", "position") for r in refs):
            return [r for r in refs if r is not None]
    ref = parse_ref(text)
    return [ref] if ref is not None else []
