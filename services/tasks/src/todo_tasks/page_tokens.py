"""Opaque, signed ListTasks page tokens.

A token is `base64url(json) "." base64url(HMAC-SHA256(key, json))`. The JSON carries the
keyset cursor (the sort key and id of the last task returned) and a fingerprint of the owner,
the filters and the order, so a token cannot be forged, edited, replayed by another user or
reused with different filters. Anything wrong with a token is one INVALID_ARGUMENT with reason
INVALID_PAGE_TOKEN; the message does not say which check failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from todo_common.errors import FieldViolation, InvalidArgument

TOKEN_VERSION = 1
# Far larger than any token this module mints; anything longer is rejected before decoding.
MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the task with this sort key and id.

    `key` is the sort key as JSON-able data (an ISO time, a number, or None for "no due
    time"); `now` is the reference time of an `overdue` listing, kept so every page of one
    listing agrees on what is overdue.
    """

    key: Any
    last_id: str
    now: str | None = None


def invalid_page_token() -> InvalidArgument:
    """The one error for every kind of bad token."""
    return InvalidArgument(
        "The page token is not valid for this request; start again without a page token.",
        reason="INVALID_PAGE_TOKEN",
        field_violations=[
            FieldViolation(
                "page_token", "is not a token returned by a previous call with the same filters."
            )
        ],
    )


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokenCodec:
    """Mints and checks page tokens with one HMAC key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the page-token key is too short")
        self._key = key

    def fingerprint(self, owner_id: str, query: dict[str, Any]) -> str:
        """Binds a token to one owner and one exact filter + order (a keyed hash, so the
        owner id is not readable from the token)."""
        material = json.dumps({"owner": owner_id, "query": query}, sort_keys=True)
        digest = hmac.new(self._key, b"fingerprint:" + material.encode(), hashlib.sha256)
        return _b64encode(digest.digest()[:16])

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, b"page-token:" + body, hashlib.sha256).digest()

    def encode(self, fingerprint: str, cursor: Cursor) -> str:
        """A token for the page after `cursor`."""
        payload: dict[str, Any] = {
            "v": TOKEN_VERSION,
            "f": fingerprint,
            "k": cursor.key,
            "i": cursor.last_id,
        }
        if cursor.now is not None:
            payload["n"] = cursor.now
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64encode(body)}.{_b64encode(self._sign(body))}"

    def decode(self, token: str, fingerprint: str) -> Cursor:
        """The cursor in `token`, or INVALID_ARGUMENT when the token is forged, altered, or
        was minted for another owner, filter or order."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise invalid_page_token()
        body_text, signature_text = token.split(".")
        try:
            body = _b64decode(body_text)
            signature = _b64decode(signature_text)
        except (binascii.Error, ValueError):
            raise invalid_page_token() from None
        if not hmac.compare_digest(signature, self._sign(body)):
            raise invalid_page_token()
        try:
            payload = json.loads(body)
        except ValueError:
            raise invalid_page_token() from None
        if (
            not isinstance(payload, dict)
            or payload.get("v") != TOKEN_VERSION
            or not hmac.compare_digest(str(payload.get("f", "")), fingerprint)
            or not isinstance(payload.get("i"), str)
        ):
            raise invalid_page_token()
        now = payload.get("n")
        return Cursor(
            key=payload.get("k"), last_id=payload["i"], now=now if isinstance(now, str) else None
        )
