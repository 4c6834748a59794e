"""What the offline model understands: one user message → one `Command`.

A message is normalised, its language is told from its script, and that language's rules read
it (`english.RULES`, `urdu.RULES`; see `rules` for how a grammar is tried). English covers add,
list, search, show, complete/reopen/delete/update/rename/re-date, help and small talk; Urdu
covers add, list, complete, help and small talk. Anything else is `Unknown`, and the model says
honestly what it can do instead of guessing.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from todo_agent.offline.commands import Command
from todo_agent.offline.english import ENGLISH
from todo_agent.offline.rules import Grammar, Parse
from todo_agent.offline.urdu import URDU

_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z]")
_URDU_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def is_urdu(text: str) -> bool:
    """True when the text is mostly written in Arabic script (Urdu)."""
    arabic = len(_ARABIC_SCRIPT.findall(text))
    return arabic > 0 and arabic >= len(_LATIN.findall(text))


def normalize(text: str) -> str:
    """One spelling for what people type several ways: Unicode forms, Urdu digits, curly
    quotes, runs of whitespace."""
    text = unicodedata.normalize("NFC", text).translate(_URDU_DIGITS)
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


def grammar_for(text: str) -> Grammar:
    """The grammar of the language a (normalised) message is written in."""
    return URDU if is_urdu(text) else ENGLISH


def explain(text: str, now: datetime) -> Parse:
    """Understands one user message and names the rule that did (for tests and debugging)."""
    text = normalize(text)
    return grammar_for(text).explain(text, now)


def parse(text: str, now: datetime) -> Command:
    """Understands one user message. `now` is the user's local time (dates are relative to it)."""
    return explain(text, now).command
