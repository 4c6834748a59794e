"""Text hygiene for what the auth service stores: emails, names and external subject ids."""

from __future__ import annotations

import unicodedata


def has_control_characters(text: str) -> bool:
    """True when `text` holds a control character (NUL, newline, …). No email, name or id we
    store may: PostgreSQL rejects NUL outright, and the others only cause trouble later."""
    return any(unicodedata.category(char) == "Cc" for char in text)


def without_control_characters(text: str) -> str:
    """`text` with its control characters removed (for names from external issuers)."""
    return "".join(char for char in text if unicodedata.category(char) != "Cc")
