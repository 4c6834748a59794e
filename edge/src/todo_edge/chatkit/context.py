"""The per-request context every ChatKit Store and server call receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from todo_edge.chatkit.read_cache import NO_READ_CACHE, ReadCache


@dataclass(frozen=True, slots=True)
class ChatContext:
    """Who is asking, taken from the verified bearer token (never from the request body), and
    what their client told us about them.

    `user_id` scopes every store query; `token` is forwarded to the backends as the caller's
    bearer (kept out of `repr`, so it cannot end up in a log line); `request_id` correlates logs.
    `locale` (from `Accept-Language`, empty if none) and `time_zone` (an IANA name) shape the
    assistant's answers. `read_cache` holds what this request has read from the store (see
    `read_cache`); a context built outside a `/chatkit` request keeps nothing.
    """

    user_id: str
    token: str = field(repr=False)
    request_id: str = ""
    locale: str = ""
    time_zone: str = "UTC"
    read_cache: ReadCache = field(default=NO_READ_CACHE, repr=False, compare=False)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone (UTC if the name is unknown)."""
        return zone_or_utc(self.time_zone)


def zone_or_utc(name: str) -> ZoneInfo:
    """The named IANA zone, or UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
