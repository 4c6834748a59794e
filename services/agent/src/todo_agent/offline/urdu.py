"""The Urdu grammar: add, list, complete, small talk and help, in everyday Urdu.

Urdu puts the verb last ("دودھ خریدنا شامل کریں", buy milk — add), so most rules look for the
verb phrase at the end of the message and read what comes before it. `RULES` is tried in order;
the first rule that builds a command wins.
"""

# Urdu text legitimately uses the Arabic full stop and similar characters.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from datetime import date

from todo_agent.offline.commands import (
    Act,
    Add,
    Command,
    Decline,
    DueWindow,
    Greeting,
    Help,
    ListTasks,
    Search,
    State,
    TaskRef,
    Undo,
    Update,
)
from todo_agent.offline.dates import (
    URDU_MONTHS,
    URDU_WEEKDAYS,
    Due,
    extract_due,
    extract_window,
)
from todo_agent.offline.patterns import word
from todo_agent.offline.phrases import (
    ORDINALS,
    extract_priority,
    extract_tags,
    first_window,
    parse_add_items,
    parse_ref,
)
from todo_agent.offline.recurrence import RRULE_DAYS, first_weekday
from todo_agent.offline.replies import ONE_AT_A_TIME_UR
from todo_agent.offline.rules import Grammar, Rule, Utterance, anywhere, at_start


def prepare(text: str) -> str:
    """Takes the full stop, question and exclamation marks off the ends of a message."""
    return text.strip(" ۔؟!?")


_HELP = re.compile(r"(?:مدد|ہیلپ|آپ کیا کر سکتے)")
_GREETING = re.compile(
    r"^(?:السلام علیکم|سلام|آداب|ہیلو|شکریہ|بہت شکریہ|اللہ حافظ|خدا حافظ)[\s۔!]*$"
)
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

_COMPLETED = re.compile(r"مکمل\s+(?:شدہ|ہو\s+چکے|کام|ہونے\s+والے)|ختم\s+شدہ")
_ALL_STATES = re.compile(r"(?:تمام|سارے|سب)")
# The first window named wins.
LIST_WINDOWS: tuple[tuple[re.Pattern[str], DueWindow], ...] = (
    (word(r"آج"), "today"),
    (word(r"کل"), "tomorrow"),
    (re.compile(r"اس\s+ہفتے"), "this_week"),
    # "جن کی تاریخ گزر گئی" (whose date has passed): overdue.
    (re.compile(r"(?:تاخیر|گزر\s+چکے|گزر\s+چکی|گزر\s+گئ|لیٹ|تاریخ\s+نکل|تاریخ\s+گزر)"), "overdue"),
    (re.compile(r"اگلے\s+ہفتے"), "next_week"),
)
_WEEKEND = re.compile(r"(?:ویک\s*اینڈ|ہفتے\s+کے\s+آخر)")
# A question about the list: "آج کیا کیا کرنا ہے؟", "کل کے لیے کیا ہے؟", "ویک اینڈ پر کچھ ہے؟".
_QUESTION = word(r"(?:کیا|کون|کچھ|کوئی)")
# "آج کیا کیا کرنا ہے" (what all is there to do today), "کون کون سے کام": a list question,
# with or without a question mark (an add names the task, never "what").
_WHAT_TO_DO = word(r"(?:کیا\s+کیا|کون\s+کون|کیا\s+کرنا)")
# "جمعہ تک" (by Friday): the days up to then, and what is already late.
_BY_DAY = word(r"(?P<when>\S+(?:\s+\S+)?)\s+تک")
_DONE_STATE = re.compile(r"(?:ہو\s+چکے|ہو\s+گئے\s+ہیں|مکمل\s+ہو\s+چکے)")
_CANNOT_SHARE = re.compile(r"(?:واٹس\s*ایپ|ای\s*میل|شیئر|بھیج)")
# "کاموں کا چارٹ بنا دو", "فہرست پرنٹ کر دو": asked of the assistant (an imperative), never a
# task ("رپورٹ پرنٹ کرنی ہے" is one).
_CANNOT_CHART = re.compile(
    r"(?:چارٹ|گراف)\s+(?:بنا\s+(?:دو|دیں)|بنائیں|بناؤ|دکھا\s+(?:دو|دیں)|دکھائیں)"
    r"|(?:پرنٹ|ایکسپورٹ)\s+(?:کر\s+(?:دو|دیں)|کریں|کرو)"
)
CANNOT_CHART_UR = (
    "معاف کیجیے، چارٹ بنانے، پرنٹ یا ایکسپورٹ کرنے کی سہولت نہیں ہے؛ میں کام دکھا سکتا ہوں۔"
)
_STATS = word(r"(?:کتنے|کتنا|کتنی)")
_UNDO = re.compile(r"(?:واپس\s+کر\s+دو|واپس\s+کرو|ان\s*ڈو|پچھلی\s+تبدیلی)")
_EVERY = word(r"ہر\s+(\S+)(?:\s+کو)?")
_DAILY = word(r"(روزانہ)")
REPEAT_UNCLEAR_UR = "معاف کیجیے، میں سمجھ نہیں سکا کہ یہ کام کتنی بار دہرانا ہے۔ مثلاً لکھیں: ہر پیر کو پودوں کو پانی دینا ہے"
# "سب کام مکمل کر دو", "آج کے سارے کام کل پر کر دو": a change to many tasks at once.
_ALL_TASKS = word(r"(?:سب|سارے|ساری|تمام)")
_CHANGE_VERB = re.compile(r"(?:مکمل|ہٹا|نکال|مٹا|ڈیلیٹ|ختم|پر\s+کر|تک\s+کر|ٹیگ|بدل)")
# "کیا میں نے بل جمع کروا دیا؟": a question about a task that may be done.
_DID_I = re.compile(r"^کیا\s+(?:میں\s+نے|میں)\s+(?P<q>.+)$")
_DID = re.compile(
    r"\s*(?:لے\s+آیا\s+ہوں|لے\s+آئی\s+ہوں|لے\s+آیا|ہو\s+گئی|ہو\s+گیا|ہوگیا|ہوگئی|کروا\s+دیا|کر\s+دیا|کر\s+لیا|دے\s+دیا|لیا|لی)(?:\s+ہے)?[\s۔!]*$"
)
_DELETE = re.compile(
    r"\s*(?:(?:فہرست|لسٹ)\s+سے\s+)?(?:ہٹا\s+(?:دو|دیں)|نکال\s+(?:دو|دیں)|مٹا\s+(?:دو|دیں)|ڈیلیٹ\s+(?:کر\s+)?(?:دو|دیں|کریں))[\s۔!]*$"
)
_REOPEN = re.compile(r"\s*(?:دوبارہ\s+کھول\s+(?:دو|دیں)|دوبارہ\s+کھولو)")
# "دودھ والا کام جمعے پر کر دو", "امی کو فون والا کام جمعے کو کر دو": a new day for a task.
_REDATE = re.compile(
    r"\s+(?P<when>\S+(?:\s+\S+)?)\s+(?:پر|تک|کو)\s+(?:کر\s+دو|ڈال\s+دو|کر\s+دیں|رکھ\s+دو|کرو)[\s۔!]*$"
)
_TAG = re.compile(r"\s+(?:پر|کو)\s+(?P<tag>\S+)\s+کا\s+ٹیگ\s+لگا\s+(?:دو|دیں)[\s۔!]*$")
_RENAME = re.compile(r"^(?P<target>.+?)\s+کا\s+نام\s+بدل\s+کر\s+(?P<new>.+?)\s+کر\s+(?:دو|دیں)$")
# A task said as something to do: an infinitive, often closed by "ہے" ("دودھ خریدنا ہے").
_TO_DO = re.compile(r"(?:نا|نی|نے)(?:\s+(?:ہے|ہیں))?(?:[،,]\s*(?:بہت\s+)?ضروری\s+ہے)?$")
_TAIL_AUX = re.compile(r"(?:\s*[،,]?\s*(?:بہت\s*)?(?:ضروری\s*)?(?:ہے|ہیں))*\s*[،,]?\s*(?:بہت)?\s*$")


def _ref(text: str) -> TaskRef | None:
    """ "دودھ والا کام" (the milk one), "پہلا" (the first), "یہ" (this) → a reference."""
    text = _REF_NOISE.sub("", text.strip(" ۔،")).strip()
    text = _REF_NOISE.sub("", text).strip()
    # "ڈاکٹر والی اپائنٹمنٹ", "دودھ والا": the words before "والا" name the task.
    text = re.sub(r"^(.+?)\s+(?:والا|والی|والے)(?:\s.*)?$", r"\1", text).strip()
    if not text:
        return None
    if text in ORDINALS:
        return TaskRef("position", position=ORDINALS[text])
    if text.isdigit():
        return TaskRef("position", position=int(text))
    if text in ("یہ", "وہ", "اسے", "اس"):
        return TaskRef("last")
    return parse_ref(text)


def _did_i(match: re.Match[str], utterance: Utterance) -> Command | None:
    """ "کیا میں نے بل جمع کروا دیا؟" → find the bill task in any state (a done one too)."""
    query = _DID.sub("", match.group("q")).strip(" ؟?")
    for _ in range(2):
        query = re.sub(
            r"(?<!\S)(?:جمع|کر|کروا|لے|دے|ہو|کیا|کی|کیے|کئے)(?!\S)\s*$", "", query
        ).strip()
    return Search(query) if query else None


def _list(_match: re.Match[str], utterance: Utterance) -> Command | None:
    text = utterance.text
    # "فہرست میں … شامل کریں" (add … to the list) names the list but asks to add.
    if _ADD.search(text) or _DELETE.search(text):
        return None
    state: State = "open"
    if _WEEKEND.search(text):
        days, _, _ = extract_window("this weekend", utterance.now)
        return ListTasks(state="open", days=days, label="ویک اینڈ")
    if _COMPLETED.search(text) or _DONE_STATE.search(text):
        state = "completed"
    elif _ALL_STATES.search(text):
        state = "all"
    due = first_window(LIST_WINDOWS, text)
    tags, rest = extract_tags(text)
    priority, _ = extract_priority(rest)
    tag = tags[0] if tags else None
    if due == "any":
        named = _named_days(text, utterance)
        if named is not None:
            first, last, overdue_too = named
            label = f"{_day_name(last)} تک" if overdue_too else _day_name(first)
            return ListTasks(state, priority, tag, "any", (first, last), overdue_too, label)
    return ListTasks(state=state, priority=priority, tag=tag, due=due)


_MONTH_NAMES = {number: name for name, number in URDU_MONTHS.items()}


def _day_name(day: date) -> str:
    """ "17 جنوری": a day as an Urdu list heading names it."""
    return f"{day.day} {_MONTH_NAMES[day.month]}"


def _named_days(text: str, utterance: Utterance) -> tuple[date, date, bool] | None:
    """The days a list question names beyond the fixed windows: "جمعہ تک" (by Friday: from
    today, late tasks too), or one day ("جمعے کو", "20 جنوری")."""
    by = _BY_DAY.search(text)
    if by is not None:
        due, _ = extract_due(by.group("when"), utterance.now)
        if due is not None:
            return utterance.now.date(), due.day, True
    due, _ = extract_due(text, utterance.now)
    return (due.day, due.day, False) if due is not None else None


def _question(match: re.Match[str], utterance: Utterance) -> Command | None:
    if not utterance.raw.rstrip().endswith(("؟", "?")):
        return None
    return _list(match, utterance)


def _refs_before(
    match: re.Match[str], utterance: Utterance, clause: re.Pattern[str] | None = None
) -> list[TaskRef]:
    """The tasks named before the verb phrase, each without the words `clause` matches."""
    pieces = _REF_SPLIT.split(utterance.text[: match.start()])
    if clause is not None:
        pieces = [clause.sub("", piece.strip()) for piece in pieces]
    return [ref for ref in (_ref(piece) for piece in pieces) if ref]


# "امی سے بات ہو گئی" (I've talked to mum): the task about that person ("امی کو فون کرنا").
_TALKED_TO = re.compile(r"\s+سے\s+بات(?:\s+چیت)?$")


def _did(match: re.Match[str], utterance: Utterance) -> Command | None:
    refs = _refs_before(match, utterance, _TALKED_TO)
    return Act("complete", refs) if refs else None


def _delete(match: re.Match[str], utterance: Utterance) -> Command | None:
    refs = _refs_before(match, utterance)
    return Act("delete", refs) if refs else None


# "سبزی ابھی نہیں لی" (haven't bought the vegetables yet): the clause says why, the task is
# the words before it.
_NOT_DONE_CLAUSE = re.compile(r"(?:\s+(?:ابھی|اب\s+تک|تو|بھی))*\s+نہیں(?:\s+\S+){0,3}\s*$")


def _reopen(match: re.Match[str], utterance: Utterance) -> Command | None:
    refs = _refs_before(match, utterance, _NOT_DONE_CLAUSE)
    return Act("reopen", refs[:1]) if refs else None


def _redate(match: re.Match[str], utterance: Utterance) -> Command | None:
    due, left = extract_due(match.group("when"), utterance.now)
    # Words of <when> that are no date ("کام" of "… والا کام جمعے") belong to the task.
    ref = _ref(f"{utterance.text[: match.start()]} {left}")
    if due is None or ref is None:
        return None
    return Update(ref, due=due, keep_time=True)


def _tag(match: re.Match[str], utterance: Utterance) -> Command | None:
    ref = _ref(utterance.text[: match.start()])
    return Update(ref, add_tags=[match.group("tag")]) if ref is not None else None


def _rename(match: re.Match[str], _: Utterance) -> Command | None:
    ref = _ref(match.group("target").strip("'\""))
    new = match.group("new").strip(" '\"")
    return Update(ref, title=new) if ref is not None and new else None


# "امی کو فون کرنا بہت ضروری ہے" with no date: an existing task becomes high priority.
_IS_URGENT = re.compile(r"^(?P<target>.+?)\s*[،,]?\s+(?:بہت\s+)?(?:ضروری|اہم|فوری)\s+(?:ہے|ہیں)$")


def _urgent(match: re.Match[str], utterance: Utterance) -> Command | None:
    target = match.group("target")
    if extract_due(target, utterance.now)[0] is not None:
        return None
    ref = _ref(target)
    return Update(ref, priority="high") if ref is not None else None


def _to_do(match: re.Match[str], utterance: Utterance) -> Command | None:
    """ "کل بجلی کا بل جمع کروانا ہے": a thing to do, with its date, is an add."""
    tags, text = extract_tags(utterance.text)
    priority, rest = extract_priority(text)
    rest = _TAIL_AUX.sub("", rest.strip()).strip(" ،,")
    every = _EVERY.search(rest) or _DAILY.search(rest)
    rule = ""
    if every is not None:
        word = every.group(1)
        today = utterance.now.date()
        day = today
        if word in URDU_WEEKDAYS:
            weekday = URDU_WEEKDAYS[word]
            day = first_weekday(utterance.now, weekday)
            rule = f"FREQ=WEEKLY;BYDAY={RRULE_DAYS[weekday]}"
        elif word in ("روز", "دن", "روزانہ"):
            rule = "FREQ=DAILY"
        elif word in ("ہفتے", "ہفتہ"):
            rule = f"FREQ=WEEKLY;BYDAY={RRULE_DAYS[today.weekday()]}"
        elif word in ("مہینے", "ماہ", "مہینہ"):
            rule = f"FREQ=MONTHLY;BYMONTHDAY={today.day}"
        else:
            # "ہر …" said of something this cannot read: no junk task titled with it.
            return Decline(REPEAT_UNCLEAR_UR)
        rest = f"{rest[: every.start()]} {rest[every.end() :]}"
    if rule:
        tasks = parse_add_items(rest, utterance.now, split=False)
    else:
        # One date for the whole message; then "X کرنا اور Y لینا" may be two tasks.
        due, body = extract_due(rest, utterance.now)
        tasks = parse_add_items(body, utterance.now)
        for task in tasks:
            task.due = task.due or due
    if not tasks or not tasks[0].title:
        return None
    if rule:
        tasks[0].due = tasks[0].due or Due(day)
        tasks[0].recurrence = rule
    tasks[0].priority = tasks[0].priority or priority
    tasks[0].tags = tasks[0].tags + [t for t in tags if t not in tasks[0].tags]
    return Add(tasks)


def _dated(match: re.Match[str], utterance: Utterance) -> Command | None:
    """ "عید کی خریداری 25 مارچ تک": a phrase with a date is an add."""
    due, rest = extract_due(utterance.text, utterance.now)
    if due is None or not rest.strip():
        return None
    return _to_do(match, utterance)


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
    Rule("undo", anywhere(_UNDO), lambda _m, _u: Undo()),
    Rule(
        "cannot: many tasks at once",
        anywhere(_ALL_TASKS),
        lambda _m, u: Decline(ONE_AT_A_TIME_UR) if _CHANGE_VERB.search(u.text) else None,
    ),
    Rule("search: did I do X?", at_start(_DID_I), _did_i),
    Rule(
        "cannot: share or send",
        anywhere(_CANNOT_SHARE),
        lambda _m, _u: Decline("معاف کیجیے، فہرست بھیجنے یا شیئر کرنے کی سہولت نہیں ہے۔"),
    ),
    Rule(
        "cannot: chart, print or export",
        anywhere(_CANNOT_CHART),
        lambda _m, _u: Decline(CANNOT_CHART_UR),
    ),
    Rule(
        "cannot: statistics",
        anywhere(_STATS),
        lambda _m, _u: Decline(
            "معاف کیجیے، یہ سہولت نہیں ہے: میں گنتی یا اعداد و شمار نہیں بتا سکتا۔"
        ),
    ),
    Rule("rename: X کا نام بدل کر Y کر دو", at_start(_RENAME), _rename),
    Rule("tags: X پر T کا ٹیگ لگا دو", anywhere(_TAG), _tag),
    Rule("delete: … ہٹا دو", anywhere(_DELETE), _delete),
    Rule("reopen: … دوبارہ کھول دو", anywhere(_REOPEN), _reopen),
    Rule("due: … جمعے پر کر دو", anywhere(_REDATE), _redate),
    Rule("list: a question", anywhere(_QUESTION), _question),
    Rule("list: کیا کیا کرنا ہے", anywhere(_WHAT_TO_DO), _list),
    Rule("list: … دکھائیں", anywhere(_LIST), _list),
    Rule("complete: … مکمل کریں", anywhere(_COMPLETE), _complete),
    Rule("add: … شامل کریں", anywhere(_ADD), _add),
    Rule("add: نیا کام …", at_start(_ADD_START), _add),
    Rule("complete: … ہو گیا", anywhere(_DID), _did),
    Rule("priority: X ضروری ہے", at_start(_IS_URGENT), _urgent),
    Rule("add: … کرنا ہے", anywhere(_TO_DO), _to_do),
    Rule("add: a phrase with a date", at_start(re.compile(r"^")), _dated),
)

URDU = Grammar(language="ur", prepare=prepare, rules=RULES)
