"""The one way the offline grammar writes a pattern: case-insensitive, and long ones in parts.

People type in any case, so every word pattern of the grammar is compiled with `re.IGNORECASE`;
a pattern too long for one line is written as parts (and shared sub-patterns such as a priority
word) that are joined in order. Patterns that must tell case apart use `re.compile` directly.
"""

from __future__ import annotations

import re


def rx(*parts: str) -> re.Pattern[str]:
    """The case-insensitive pattern that `parts`, joined in order, spell."""
    return re.compile("".join(parts), re.IGNORECASE)


def word(*parts: str) -> re.Pattern[str]:
    """The pattern `parts` spell, standing only between spaces (or the ends of the text): a
    whole word in Urdu, where `\\b` also stops inside a word at its combining marks."""
    return re.compile(r"(?<!\S)" + "".join(parts) + r"(?!\S)")
