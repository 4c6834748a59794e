"""The shape of the offline grammar: per language, an ordered list of `Rule`s, first match wins.

A rule is a name, a matcher (usually a regular expression anchored at the start of the message)
and a builder that turns the match into a `Command`. A builder may decline (return None) when
the match turns out to hold nothing usable, e.g. "complete" with no task after it; the next rule
is tried then. So a new phrasing is one new rule, placed where it should win over the others,
and a test can ask which rule understood a message (`Grammar.explain`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from todo_agent.offline.commands import Command, Unknown


@dataclass(frozen=True)
class Utterance:
    """One user message as the rules see it."""

    # The message with spacing, quotes and digits normalised, otherwise as typed.
    raw: str
    # `raw` with the language's courtesy words ("please", "can you", "thanks") taken off.
    text: str
    # The user's local time: dates in the message are relative to it.
    now: datetime


Matcher = Callable[[Utterance], re.Match[str] | None]
Builder = Callable[[re.Match[str], Utterance], Command | None]


def at_start(pattern: re.Pattern[str]) -> Matcher:
    """Matches when the message (courtesy words removed) starts with `pattern`."""
    return lambda utterance: pattern.match(utterance.text)


def anywhere(pattern: re.Pattern[str]) -> Matcher:
    """Matches when `pattern` occurs anywhere in the message (courtesy words removed)."""
    return lambda utterance: pattern.search(utterance.text)


def raw_at_start(pattern: re.Pattern[str]) -> Matcher:
    """Matches the message as typed, before courtesy words are removed."""
    return lambda utterance: pattern.match(utterance.raw)


@dataclass(frozen=True)
class Rule:
    """One phrasing the grammar understands and what it means."""

    name: str
    match: Matcher
    build: Builder

    def apply(self, utterance: Utterance) -> Command | None:
        """The command this rule reads in the message, or None when it does not apply."""
        found = self.match(utterance)
        return None if found is None else self.build(found, utterance)


@dataclass(frozen=True)
class Parse:
    """A message understood: the command, and the name of the rule that read it
    (empty when no rule did and the command is `Unknown`)."""

    command: Command
    rule: str


@dataclass(frozen=True)
class Grammar:
    """The rules of one language, tried in order."""

    language: str
    # Takes the courtesy words off a message (`Utterance.text`).
    prepare: Callable[[str], str]
    rules: Sequence[Rule]

    def explain(self, message: str, now: datetime) -> Parse:
        """Reads one normalised message: the first rule that builds a command wins."""
        utterance = Utterance(raw=message, text=self.prepare(message), now=now)
        for rule in self.rules:
            command = rule.apply(utterance)
            if command is not None:
                return Parse(command, rule.name)
        return Parse(Unknown(), "")
