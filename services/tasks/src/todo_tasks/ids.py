"""Task ids: time-ordered UUIDs (version 7 layout), so ordering by id follows creation order.

Keyset pagination breaks ties on the id; with time-ordered ids tasks that share a sort key
(same priority, same due time) come back oldest first instead of in random order.
"""

from __future__ import annotations

import os
import re
import time
import uuid

_CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_task_id() -> str:
    """A new UUIDv7 string: 48 bits of Unix milliseconds, then random bits."""
    unix_ms = time.time_ns() // 1_000_000
    value = (unix_ms & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def is_task_id(value: str) -> bool:
    """True when `value` has the shape of a task id (lower-case canonical UUID)."""
    return bool(_CANONICAL.match(value))
