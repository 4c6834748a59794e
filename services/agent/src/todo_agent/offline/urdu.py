"""The Urdu grammar: add, list, complete, small talk and help, in everyday Urdu.

Urdu puts the verb last ("دودھ خریدنا شامل کریں", buy milk — add), so most rules look for the
verb phrase at the end of the message and read what comes before it. `RULES` is tried in order;
the first rule that builds a command wins.
"""

# Urdu text legitimately uses the Arabic full stop and similar characters.
# ruff: noqa: RUF001

from __future__ import annotations

import re

from todo_agent.offline.commands import (
    Act,
    Add,
    Command,
    DueWindow,
    Greeting,
    Help,
    ListTasks,
    State,
    TaskRef,
)
from todo_agent.offline.phrases import (
    ORDINALS,
    extract_priority,
    extract_tags,
    first_window,
    parse_add_items,
    parse_ref,
)
from todo_agent.offline.rules import Grammar, Rule, Utterance, anywhere, at_start


def prepare(text: str) -> str:
    """Takes the full stop, question and exclamation marks off the ends of a message."""
    return text.strip(" ۔؟!?")


_HELP = re.compile(r"(?:مدد|ہیلپ|آپ کیا کر سکتے)")
_GREETING = re.compile(r"^(?:السلام علیکم|سلام|آداب|ہیلو|شکریہ|بہت شکریہ)[\s۔!]*$")
_LIST = re.compile(r"(?:دکھا|فہرست|لسٹ|کون سے کام|کیا کام|میرے کام\s*(?:کیا|؟|$)|بتائیں|بتاؤ)")
_COMPLETE = re.compile(
    r"\s*(?:کو\s+)?(?:مکمل\s+(?:کر\s+دیں|کر\s+دو|کریں|کرو|کر\s+دیا|ہو\s+گیا|ہوگیا|ہو\s+گئی|ہوگئی)|ہو\s+گیا|ہوگیا|ختم\s+(?:کر\s+دیا|ہو\s+گیا|کریں))[\s۔!]*$"
)
_ADD = re.compile(
    r"\s*(?:کو\s+)?(?:(?:فہرست|لسٹ)\s+میں\s+)?(?:شامل\s+(?:کر\s+دیں|کر\s+دو|کریں|کرو|کرنا)|ایڈ\s+(?:کریں|کرو|کر\s+دیں)|لکھ\s+(?:لیں|لو|دیں))[\s۔!]*$"
)
_ADD_START = re.compile(r"^(?:نیا\s+کام|کام\s+شامل\s+کریں|یاد\s+دلائیں|یاد\s+دلانا)\s*[:：]?\s*")
_REF_NOISE = re.compile(
    r"(?:\s*(?:والا|والی|والے)\s+کام|\s+کام|\s+کو|\s+نمبر)+$|^(?:کام\s+نمبر|نمبر|کام)\s+"
)
_REF_SPLIT = re.compile(r"\s+اور\s+|،|,")

_COMPLETED = re.compile(r"مکمل\s+(?:شدہ|ہو\s+چکے)|ختم\s+شدہ")
_ALL_STATES = re.compile(r"(?:تمام|سارے|سب)")
# The first window named wins.
LIST_WINDOWS: tuple[tuple[re.Pattern[str], DueWindow], ...] = (
    (re.compile(r"(?<!\S)آج(?!\S)"), "today"),
    (re.compile(r"(?<!\S)کل(?!\S)"), "tomorrow"),
    (re.compile(r"اس\s+ہفتے"), "this_week"),
    (re.compile(r"(?:تاخیر|گزر\s+چکے|لیٹ)"), "overdue"),
)


def _ref(text: str) -> TaskRef | None:
    """ "دودھ والا کام" (the milk one), "پہلا" (the first), "یہ" (this) → a reference."""
    text = _REF_NOISE.sub("", text.strip(" ۔،")).strip()
    text = _REF_NOISE.sub("", text).strip()
    if not text:
        return None
    if text in ORDINALS:
        return TaskRef("position", position=ORDINALS[text])
    if text.isdigit():
        return TaskRef("position", position=int(text))
    if text in ("یہ", "وہ", "اسے", "اس"):
        return TaskRef("last")
    return parse_ref(text)


def _list(_match: re.Match[str], utterance: Utterance) -> Command | None:
    text = utterance.text
    # "فہرست میں … شامل کریں" (add … to the list) names the list but asks to add.
    if _ADD.search(text):
        return None
    state: State = "open"
    if _COMPLETED.search(text):
        state = "completed"
    elif _ALL_STATES.search(text):
        state = "all"
    due = first_window(LIST_WINDOWS, text)
    tags, rest = extract_tags(text)
    priority, _ = extract_priority(rest)
    return ListTasks(state=state, priority=priority, tag=tags[0] if tags else None, due=due)


def _complete(match: re.Match[str], utterance: Utterance) -> Command | None:
    pieces = _REF_SPLIT.split(utterance.text[: match.start()])
    refs = [ref for ref in (_ref(piece) for piece in pieces) if ref]
    return Act("complete", refs) if refs else None


def _add(_match: re.Match[str], utterance: Utterance) -> Command | None:
    # The verb may close the message, open it, or both ("نیا کام: … شامل کریں"); both are read
    # on the whole message, so a verb phrase is never mistaken for the task.
    text = utterance.text
    end = _ADD.search(text)
    start = _ADD_START.match(text)
    body = text[: end.start()] if end else text
    if start:
        body = body[start.end() :]
    tasks = parse_add_items(body, utterance.now)
    return Add(tasks) if tasks else None


RULES: tuple[Rule, ...] = (
    Rule("help", anywhere(_HELP), lambda _match, _utterance: Help()),
    Rule(
        "greeting",
        at_start(_GREETING),
        lambda _match, utterance: Greeting(thanks="شکریہ" in utterance.text),
    ),
    Rule("list: … دکھائیں", anywhere(_LIST), _list),
    Rule("complete: … مکمل کریں", anywhere(_COMPLETE), _complete),
    Rule("add: … شامل کریں", anywhere(_ADD), _add),
    Rule("add: نیا کام …", at_start(_ADD_START), _add),
)

URDU = Grammar(language="ur", prepare=prepare, rules=RULES)
