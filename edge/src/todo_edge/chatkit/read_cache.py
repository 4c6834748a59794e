"""What one `/chatkit` request has already read from the chat tables, so it reads each once.

The request checks look at the thread (and the item) a request names, then the SDK's
`process()` loads the same thread and item again; a streaming op reads the same page of items
twice. The store keeps what it read in the request's cache (`ChatContext.read_cache`) and
answers repeated reads from it. It holds the rows as the database returned them (JSON text),
so every read still decodes fresh objects that a caller may change freely.

Writes keep it true: the store replaces a saved thread or item in place and forgets the item
pages of a thread whose items were added or removed. The cache lives as long as its request
and sees only that request's writes; another request's writes meanwhile are as invisible as
they are to a request that read once and kept the objects, which is what the SDK does anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# One stored item as the store reads it: its id, its JSON and its widget-root marker.
ItemRow = tuple[str, str, str | None]


@dataclass
class CachedPage:
    """A page of a thread's items: its rows, and whether the thread holds more beyond them."""

    rows: list[ItemRow]
    has_more: bool


# A page query: thread id, after, limit, order.
PageKey = tuple[str, str | None, int, str]


@dataclass(eq=False)
class ReadCache:
    """Threads, items and item pages one request has read; see the module docstring.

    A disabled cache (`NO_READ_CACHE`, the default of a context built outside a request)
    keeps nothing, so every read goes to the database.
    """

    enabled: bool = True
    _threads: dict[str, str] = field(default_factory=dict)
    _items: dict[tuple[str, str], ItemRow] = field(default_factory=dict)
    _pages: dict[PageKey, CachedPage] = field(default_factory=dict)
    _new_threads: set[str] = field(default_factory=set)
    # Set by the server for threads.create: a new thread's INSERT waits for its first item.
    defer_new_threads: bool = False
    # Saved new threads not written yet: id → (JSON, created_at) (`TodoChatKitStore`).
    _unwritten: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    # ---- threads ----

    def note_new_thread(self, thread_id: str) -> None:
        """Remembers an id this request generated for a thread not stored yet."""
        if self.enabled:
            self._new_threads.add(thread_id)

    def is_new_thread(self, thread_id: str) -> bool:
        """True for a thread id this request generated and has not stored yet."""
        return thread_id in self._new_threads

    def defers(self, thread_id: str) -> bool:
        """True when the new thread's INSERT may wait for its first item's write."""
        return (
            self.enabled
            and self.defer_new_threads
            and (thread_id in self._new_threads or thread_id in self._unwritten)
        )

    def keep_unwritten(self, thread_id: str, data: str, created_at: datetime) -> None:
        """Remembers a saved new thread that is not in the database yet."""
        self.keep_thread(thread_id, data)
        self._unwritten[thread_id] = (data, created_at)

    def unwritten(self, thread_id: str) -> tuple[str, datetime] | None:
        """The JSON and creation time of a saved thread not written yet."""
        return self._unwritten.get(thread_id)

    def unwritten_threads(self) -> list[str]:
        """The ids of saved threads not written yet."""
        return list(self._unwritten)

    def written(self, thread_id: str) -> None:
        """The saved thread is in the database now."""
        self._unwritten.pop(thread_id, None)

    def thread(self, thread_id: str) -> str | None:
        """The thread's JSON, if this request has read or written it."""
        return self._threads.get(thread_id)

    def keep_thread(self, thread_id: str, data: str) -> None:
        """Remembers the thread's JSON as read or just written."""
        self._new_threads.discard(thread_id)
        if self.enabled:
            self._threads[thread_id] = data

    def forget_thread(self, thread_id: str) -> None:
        """Forgets the thread's JSON (a write to it failed, or it was deleted)."""
        self._new_threads.discard(thread_id)
        self._unwritten.pop(thread_id, None)
        self._threads.pop(thread_id, None)

    # ---- items ----

    def item(self, thread_id: str, item_id: str) -> ItemRow | None:
        """The item's row, if this request has read it (alone or on a page)."""
        found = self._items.get((thread_id, item_id))
        if found is not None:
            return found
        for key, page in self._pages.items():
            if key[0] == thread_id:
                for row in page.rows:
                    if row[0] == item_id:
                        return row
        return None

    def keep_item(self, thread_id: str, row: ItemRow) -> None:
        """Remembers one item's row as read."""
        if self.enabled:
            self._items[(thread_id, row[0])] = row

    def page(self, key: PageKey) -> CachedPage | None:
        """A page of items this request has read with the same query."""
        return self._pages.get(key)

    def keep_page(self, key: PageKey, page: CachedPage) -> None:
        """Remembers a page as read."""
        if self.enabled:
            self._pages[key] = page

    def replace_item(self, thread_id: str, row: ItemRow) -> bool:
        """Puts a saved item's new row where its old one was; False when this request has not
        read the item, so where it sits (or whether it is new) is unknown."""
        item_id = row[0]
        replaced = False
        if (thread_id, item_id) in self._items:
            self._items[(thread_id, item_id)] = row
            replaced = True
        for key, page in self._pages.items():
            if key[0] != thread_id:
                continue
            for index, known in enumerate(page.rows):
                if known[0] == item_id:
                    page.rows[index] = row
                    replaced = True
        return replaced

    def forget_items(self, thread_id: str) -> None:
        """Forgets the thread's items and pages (items were added or removed, or a write to
        them failed)."""
        self._items = {key: row for key, row in self._items.items() if key[0] != thread_id}
        self._pages = {key: page for key, page in self._pages.items() if key[0] != thread_id}


# Keeps nothing; shared by every context that is not a `/chatkit` request's.
NO_READ_CACHE = ReadCache(enabled=False)
