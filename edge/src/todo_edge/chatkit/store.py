"""The ChatKit Store on the edge's own tables; all of the chat store's SQL lives here.

The ChatKit server calls this store for every thread and item it reads or writes; see
`models.py` for the tables, the ordering rule and the datetime convention. Every method opens
one session (one unit of work) and scopes every statement by `context.user_id`: another user's
thread or item is indistinguishable from a missing one (`NotFoundError`), and listing another
user's thread gives an empty page. Within one `/chatkit` request a thread, an item or a page
of items is read from the database once (`context.read_cache`, see `read_cache.py`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

import asyncpg
from chatkit.store import NotFoundError, Store, StoreItemType, default_generate_id
from chatkit.types import (
    Attachment,
    FeedbackKind,
    Page,
    ThreadItem,
    ThreadMetadata,
    WidgetItem,
)
from chatkit.widgets import DynamicWidgetRoot
from pydantic import TypeAdapter
from sqlalchemy import (
    DateTime,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    delete,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from todo_common.db import Database, is_postgres
from todo_common.prepared import PreparedReads

from todo_edge.chatkit.context import ChatContext
from todo_edge.chatkit.models import (
    ChatAttachmentRow,
    ChatItemFeedbackRow,
    ChatItemRow,
    ChatThreadRow,
)
from todo_edge.chatkit.read_cache import CachedPage, ItemRow

# The SDK's id prefixes (`chatkit.store.default_generate_id`), kept so ids stay recognisable in
# the UI, logs and support requests. The SDK's own ids carry 8 hex digits (32 bits); ours carry
# a whole UUID4, so two items never collide however long the thread.
ID_PREFIXES: dict[StoreItemType, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}

# The largest page one call returns; a bigger `limit` is lowered to it, a limit below 1 is
# raised to 1 (the SDK already turns a missing or zero limit into 20).
MAX_PAGE_SIZE = 1000

FEEDBACK_KINDS: frozenset[str] = frozenset(get_args(FeedbackKind))

# The most items one `items.feedback` may name. The client sends the items of one answer (a
# handful); the cap keeps a crafted body from turning into a statement with 100k parameters.
MAX_FEEDBACK_ITEMS = 100

# `widget_root` marker for widget items built from a template (see ChatItemRow.widget_root).
DYNAMIC_WIDGET_ROOT = "DynamicWidgetRoot"

_THREAD_ITEM: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_ATTACHMENT: TypeAdapter[Attachment] = TypeAdapter(Attachment)

_THREAD_NOT_FOUND = "Thread not found"
_ITEM_NOT_FOUND = "Thread item not found"
_ATTACHMENT_NOT_FOUND = "Attachment not found"

Order = Literal["asc", "desc"]


def new_id(prefix: str) -> str:
    """A new unique id with the given prefix, e.g. `msg_3f2a…` (32 hex digits)."""
    return f"{prefix}_{uuid.uuid4().hex}"


def column_time(value: datetime) -> datetime:
    """The naive-UTC value stored in a datetime column (aware values are converted to UTC)."""
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def utc_now() -> datetime:
    """Now, as naive UTC (the store's column convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _page_size(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE_SIZE))


def _order(order: str) -> Order:
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    return cast(Order, order)


def _encode_item(item: ThreadItem) -> ItemRow:
    """The item's id, JSON and widget-root marker.

    No serialisation context is passed, so attachment `metadata` (which the SDK strips from
    responses) is stored too.
    """
    widget_root = None
    if isinstance(item, WidgetItem) and isinstance(item.widget, DynamicWidgetRoot):
        widget_root = DYNAMIC_WIDGET_ROOT
    return item.id, _THREAD_ITEM.dump_json(item).decode(), widget_root


def _decode_item(row: ItemRow) -> ThreadItem:
    """The item saved as the row, of the same classes it was saved with."""
    _, data, widget_root = row
    if widget_root == DYNAMIC_WIDGET_ROOT:
        # Read a template-built root as what it was: the WidgetRoot union tries the strict roots
        # first, which would turn it into `Card`/`ListView` and drop its extra properties, and
        # costs ~2 ms for one task-list card (profiled), against ~0.4 ms for the dynamic model.
        fields = json.loads(data)
        fields["widget"] = DynamicWidgetRoot.model_validate(fields["widget"])
        return WidgetItem.model_validate(fields)
    return _THREAD_ITEM.validate_json(data)


class _Core:
    """A session's connection for Core statements on the hot path of a chat turn: the ORM
    session's execute adds its bulk-insert and ORM-compile layers to statements that return
    no objects (profiled: ~1/3 of a store write's CPU)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        connection = await self._session.connection()
        return await connection.execute(statement, params)

    async def scalar(self, statement: Any) -> Any:
        connection = await self._session.connection()
        return await connection.scalar(statement)


def _core(session: AsyncSession) -> _Core:
    return _Core(session)


def _affected(result: Any) -> int:
    """Rows an INSERT/UPDATE/DELETE touched."""
    return cast(CursorResult[Any], result).rowcount


_ITEM_COLUMNS = ["id", "thread_id", "owner_id", "created_at", "item_type", "widget_root", "data"]


class _Writes:
    """The three writes of a chat turn (UPDATE or INSERT a thread, upsert an item), each built
    once with named parameters and run as one autocommit statement.

    On PostgreSQL they run as prepared statements on the pooled connection's asyncpg driver
    connection (compiled to SQL once; asyncpg prepares each text once per connection): building
    and compiling the statement per call, SQLAlchemy's cache-key walk and its asyncio/greenlet
    layers were ~1/4 of the edge's CPU per chat turn (profiled). On SQLite the same statements
    run through a statement session.
    """

    # Parameter names carry a `p_` prefix: SQLAlchemy reserves the column names for itself.

    def __init__(self, database: Database) -> None:
        self._database = database
        self._postgres = is_postgres(database.engine)
        self._dialect = database.engine.dialect
        owned = (
            ChatThreadRow.id == bindparam("p_thread_id", type_=String()),
            ChatThreadRow.owner_id == bindparam("p_owner_id", type_=String()),
        )
        self.update_thread = update(ChatThreadRow).where(*owned).values(data=bindparam("p_data"))
        self.insert_thread = (
            insert(ChatThreadRow)
            .inline()
            .values(
                id=bindparam("p_thread_id"),
                owner_id=bindparam("p_owner_id"),
                created_at=bindparam("p_created_at"),
                data=bindparam("p_data"),
            )
        )
        # INSERT … SELECT from the caller's thread row (no row when the thread is not theirs,
        # so nothing is written) ON CONFLICT (thread_id, id) DO UPDATE.
        source = select(
            bindparam("p_item_id", type_=String()),
            ChatThreadRow.id,
            ChatThreadRow.owner_id,
            bindparam("p_created_at", type_=DateTime()),
            bindparam("p_item_type", type_=String()),
            bindparam("p_widget_root", type_=String()),
            bindparam("p_data", type_=Text()),
        ).where(*owned)
        # Both dialects spell the upsert the same way; only the construct's class differs.
        dialect_insert: Any = postgresql.insert if self._postgres else sqlite.insert
        upsert = dialect_insert(ChatItemRow).from_select(_ITEM_COLUMNS, source)
        self.upsert_item = upsert.on_conflict_do_update(
            index_elements=["thread_id", "id"],
            set_={
                "item_type": upsert.excluded.item_type,
                "widget_root": upsert.excluded.widget_root,
                "data": upsert.excluded.data,
            },
        )
        # A new thread and its first item in one statement (PostgreSQL): the item is
        # INSERTed … SELECT from the thread row the CTE inserts. A new thread has no items,
        # so there is no conflict to resolve.
        new_thread = (
            insert(ChatThreadRow)
            .values(
                id=bindparam("p_thread_id", type_=String()),
                owner_id=bindparam("p_owner_id", type_=String()),
                created_at=bindparam("p_thread_created_at", type_=DateTime()),
                data=bindparam("p_thread_data", type_=Text()),
            )
            .returning(ChatThreadRow.id, ChatThreadRow.owner_id)
            .cte("new_thread")
        )
        first_item = select(
            bindparam("p_item_id", type_=String()),
            new_thread.c.id,
            new_thread.c.owner_id,
            bindparam("p_created_at", type_=DateTime()),
            bindparam("p_item_type", type_=String()),
            bindparam("p_widget_root", type_=String()),
            bindparam("p_data", type_=Text()),
        )
        self.insert_thread_with_item = insert(ChatItemRow).from_select(_ITEM_COLUMNS, first_item)
        self._sql: dict[int, tuple[str, tuple[str, ...]]] = {}

    async def rows_written(self, statement: Any, params: dict[str, Any]) -> int:
        """Runs one of the statements; the number of rows it inserted or updated. A unique
        violation raises IntegrityError on both backends."""
        if not self._postgres:
            async with self._database.statement_session() as session:
                return _affected(await _core(session).execute(statement, params))
        sql, names = self._compiled(statement)
        try:
            async with self._database.statement_connection() as connection:
                raw = await connection.get_raw_connection()
                driver: Any = raw.driver_connection
                status = await driver.execute(sql, *(params[name] for name in names))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(sql, None, exc) from exc
        # The command tag: "UPDATE 1", "INSERT 0 1".
        return int(str(status).rsplit(" ", 1)[-1])

    async def thread_with_item(self, params: dict[str, Any]) -> None:
        """INSERTs a new thread and its first item, both or neither (one statement on
        PostgreSQL, one transaction on SQLite). A taken thread id raises IntegrityError."""
        if self._postgres:
            await self.rows_written(self.insert_thread_with_item, params)
            return
        thread = {
            "p_thread_id": params["p_thread_id"],
            "p_owner_id": params["p_owner_id"],
            "p_created_at": params["p_thread_created_at"],
            "p_data": params["p_thread_data"],
        }
        async with self._database.session() as session:
            core = _core(session)
            await core.execute(self.insert_thread, thread)
            await core.execute(self.upsert_item, params)

    def _compiled(self, statement: Any) -> tuple[str, tuple[str, ...]]:
        """The statement's PostgreSQL text (`$1`, `$2`, …) and its parameter names in order."""
        found = self._sql.get(id(statement))
        if found is None:
            compiled = statement.compile(dialect=self._dialect)
            found = (compiled.string, tuple(compiled.positiontup or ()))
            self._sql[id(statement)] = found
        return found


class TodoChatKitStore(Store[ChatContext]):
    """ChatKit threads, items, feedback and attachment metadata of the edge, per user."""

    def __init__(self, database: Database) -> None:
        self._database = database
        # The hot reads (a thread, a page of items) and the turn's writes: prepared
        # statements on PostgreSQL.
        self._reads = PreparedReads(database)
        self._writes = _Writes(database)

    # ---- ids ----

    def generate_thread_id(self, context: ChatContext) -> str:
        """A new thread id (`thr_…`), noted in the request's cache as not yet stored."""
        thread_id = new_id(ID_PREFIXES["thread"])
        context.read_cache.note_new_thread(thread_id)
        return thread_id

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: ChatContext
    ) -> str:
        """A new item id with the SDK's prefix for the item type (`msg_…`, `tc_…`, …)."""
        # An item type a newer SDK adds gets the SDK's own prefix for it.
        prefix = ID_PREFIXES.get(item_type) or default_generate_id(item_type).split("_", 1)[0]
        return new_id(prefix)

    # ---- threads ----

    async def load_thread(self, thread_id: str, context: ChatContext) -> ThreadMetadata:
        """The caller's thread, or NotFoundError."""
        data = context.read_cache.thread(thread_id)
        if data is None:
            rows = await self._reads.fetch(
                _THREAD_DATA, {"thread_id": thread_id, "owner": context.user_id}
            )
            data = rows[0]["data"] if rows else None
            if data is None:
                raise NotFoundError(_THREAD_NOT_FOUND)
            context.read_cache.keep_thread(thread_id, data)
        return ThreadMetadata.model_validate_json(data)

    async def save_thread(self, thread: ThreadMetadata, context: ChatContext) -> None:
        """Creates or updates the caller's thread; another user's thread id → NotFoundError."""
        # The server sometimes passes a `Thread` (metadata plus a page of items): items are
        # stored as rows, never inside the thread.
        data = thread.model_dump_json(exclude={"items"})
        cache = context.read_cache
        if cache.defers(thread.id):
            # threads.create: the INSERT goes with the first item's write (`_write_item`),
            # one round trip instead of two; the server writes it alone if no item follows
            # (`write_unwritten_threads`).
            cache.keep_unwritten(thread.id, data, column_time(thread.created_at))
            return
        try:
            await self._write_thread(thread, data, context)
        except BaseException:
            context.read_cache.forget_thread(thread.id)
            raise
        context.read_cache.keep_thread(thread.id, data)

    async def _write_thread(self, thread: ThreadMetadata, data: str, context: ChatContext) -> None:
        """UPDATE the caller's row, else INSERT it: one statement each, in autocommit. A thread
        id this process just generated (`generate_thread_id`) is INSERTed at once: it cannot
        exist yet, and the UPDATE would be a wasted round trip."""
        writes = self._writes
        params: dict[str, Any] = {
            "p_thread_id": thread.id,
            "p_owner_id": context.user_id,
            "p_data": data,
        }
        if not context.read_cache.is_new_thread(thread.id) and await writes.rows_written(
            writes.update_thread, params
        ):
            return
        params["p_created_at"] = column_time(thread.created_at)
        try:
            await writes.rows_written(writes.insert_thread, params)
        except IntegrityError as exc:
            # The id exists and belongs to someone else.
            raise NotFoundError(_THREAD_NOT_FOUND) from exc

    async def write_unwritten_threads(self, context: ChatContext) -> None:
        """Writes the request's saved new threads that no item write took along (a
        threads.create that failed or was cancelled before its first item was stored), so
        the thread is stored just as when its INSERT runs at once."""
        cache = context.read_cache
        for thread_id in cache.unwritten_threads():
            unwritten = cache.unwritten(thread_id)
            if unwritten is None:
                continue
            data, created_at = unwritten
            params: dict[str, Any] = {
                "p_thread_id": thread_id,
                "p_owner_id": context.user_id,
                "p_data": data,
                "p_created_at": created_at,
            }
            try:
                await self._writes.rows_written(self._writes.insert_thread, params)
            except IntegrityError as exc:
                cache.forget_thread(thread_id)
                raise NotFoundError(_THREAD_NOT_FOUND) from exc
            cache.written(thread_id)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: ChatContext
    ) -> Page[ThreadMetadata]:
        """A page of the caller's threads by creation; `after` is the previous page's last id."""
        direction = _order(order)
        size = _page_size(limit)
        async with self._database.read_session() as session:
            query = select(ChatThreadRow.id, ChatThreadRow.data).where(
                ChatThreadRow.owner_id == context.user_id
            )
            position = tuple_(ChatThreadRow.created_at, ChatThreadRow.seq)
            if after is not None:
                cursor = (
                    await session.execute(
                        select(ChatThreadRow.created_at, ChatThreadRow.seq).where(
                            ChatThreadRow.id == after, ChatThreadRow.owner_id == context.user_id
                        )
                    )
                ).one_or_none()
                query = _after(query, position, cursor, direction, _THREAD_NOT_FOUND)
            query = query.order_by(*_order_by(ChatThreadRow, direction)).limit(size + 1)
            rows = (await session.execute(query)).all()
        threads = [ThreadMetadata.model_validate_json(row.data) for row in rows[:size]]
        has_more = len(rows) > size
        return Page[ThreadMetadata](
            data=threads, has_more=has_more, after=threads[-1].id if has_more else None
        )

    async def delete_thread(self, thread_id: str, context: ChatContext) -> None:
        """Deletes the caller's thread with its items, their feedback and its attachments."""
        context.read_cache.forget_thread(thread_id)
        context.read_cache.forget_items(thread_id)
        async with self._database.session() as session:
            # Items (and through them feedback) go by ON DELETE CASCADE.
            deleted = await session.execute(
                delete(ChatThreadRow).where(
                    ChatThreadRow.id == thread_id, ChatThreadRow.owner_id == context.user_id
                )
            )
            if not _affected(deleted):
                raise NotFoundError(_THREAD_NOT_FOUND)
            await session.execute(
                delete(ChatAttachmentRow).where(
                    ChatAttachmentRow.thread_id == thread_id,
                    ChatAttachmentRow.owner_id == context.user_id,
                )
            )

    # ---- items ----

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: ChatContext,
    ) -> Page[ThreadItem]:
        """A page of the thread's items by (created_at, insertion order).

        Another user's (or a missing) thread gives an empty page; an `after` id that is not an
        item of the caller's thread raises NotFoundError.
        """
        page = await self.load_item_rows(thread_id, after, limit, order, context)
        items = [_decode_item(row) for row in page.rows]
        return Page[ThreadItem](
            data=items, has_more=page.has_more, after=items[-1].id if page.has_more else None
        )

    async def load_item_rows(
        self, thread_id: str, after: str | None, limit: int, order: str, context: ChatContext
    ) -> CachedPage:
        """The rows of the page `load_thread_items` returns, undecoded (the stored JSON), from
        the request's read cache when it has read the page before. `item_json.py` builds
        `items.list` / `threads.get_by_id` responses from them without decoding cards."""
        direction = _order(order)
        size = _page_size(limit)
        key = (thread_id, after, size, direction)
        page = context.read_cache.page(key)
        if page is None:
            page = await self._read_items(thread_id, after, size, direction, context)
            context.read_cache.keep_page(key, page)
        return page

    async def _read_items(
        self, thread_id: str, after: str | None, size: int, direction: Order, context: ChatContext
    ) -> CachedPage:
        """Up to `size` rows of the page, and whether the thread holds more after them."""
        params: dict[str, Any] = {
            "thread_id": thread_id,
            "owner": context.user_id,
            "limit": size + 1,
        }
        if after is not None:
            cursor = await self._reads.fetch(_ITEM_CURSOR, {**params, "after": after})
            if not cursor:
                raise NotFoundError(_ITEM_NOT_FOUND)
            params["after_created"], params["after_seq"] = cursor[0]["created_at"], cursor[0]["seq"]
        rows = await self._reads.fetch(_ITEM_PAGES[direction, after is not None], params)
        return CachedPage(
            rows=[(row["id"], row["data"], row["widget_root"]) for row in rows[:size]],
            has_more=len(rows) > size,
        )

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: ChatContext) -> None:
        """Appends the item to the caller's thread (NotFoundError if it is not theirs).

        An item whose id is already in the thread is replaced in place instead, so a repeated
        `thread.item.done` can never fail a stream.
        """
        await self._upsert_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: ChatContext) -> None:
        """Replaces the item in place (keeping its position), or appends it if it is new."""
        await self._upsert_item(thread_id, item, context)

    async def load_item(self, thread_id: str, item_id: str, context: ChatContext) -> ThreadItem:
        """The caller's item, or NotFoundError."""
        row = context.read_cache.item(thread_id, item_id)
        if row is None:
            async with self._database.read_session() as session:
                query = _select_items(thread_id, context).where(ChatItemRow.id == item_id)
                found = (await _core(session).execute(query)).one_or_none()
            if found is None:
                raise NotFoundError(_ITEM_NOT_FOUND)
            row = (found.id, found.data, found.widget_root)
            context.read_cache.keep_item(thread_id, row)
        return _decode_item(row)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: ChatContext) -> None:
        """Deletes the item (and its feedback) from the caller's thread.

        An item the thread does not hold is a no-op: the server also removes items that were
        streamed but never saved. A thread that is not the caller's → NotFoundError.
        """
        context.read_cache.forget_items(thread_id)
        async with self._database.session() as session:
            deleted = await session.execute(
                delete(ChatItemRow).where(
                    ChatItemRow.thread_id == thread_id,
                    ChatItemRow.id == item_id,
                    ChatItemRow.owner_id == context.user_id,
                )
            )
            if not _affected(deleted) and not await self._owns_thread(session, thread_id, context):
                raise NotFoundError(_THREAD_NOT_FOUND)

    # ---- feedback (`items.feedback`; the server's add_feedback calls this) ----

    async def add_feedback(
        self, thread_id: str, item_ids: Sequence[str], kind: str, context: ChatContext
    ) -> None:
        """Records the caller's latest feedback on items of their thread.

        A thread or any item that is not the caller's → NotFoundError, and nothing is recorded;
        an unknown kind or more than MAX_FEEDBACK_ITEMS items → ValueError.
        """
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {sorted(FEEDBACK_KINDS)}")
        wanted = list(dict.fromkeys(item_ids))
        if len(wanted) > MAX_FEEDBACK_ITEMS:
            raise ValueError(f"feedback may name at most {MAX_FEEDBACK_ITEMS} items")
        async with self._database.session() as session:
            if not await self._owns_thread(session, thread_id, context):
                raise NotFoundError(_THREAD_NOT_FOUND)
            if not wanted:
                return
            found = set(
                await session.scalars(
                    select(ChatItemRow.id).where(
                        ChatItemRow.thread_id == thread_id,
                        ChatItemRow.owner_id == context.user_id,
                        ChatItemRow.id.in_(wanted),
                    )
                )
            )
            if len(found) != len(wanted):
                raise NotFoundError(_ITEM_NOT_FOUND)
            await session.execute(
                delete(ChatItemFeedbackRow).where(
                    ChatItemFeedbackRow.thread_id == thread_id,
                    ChatItemFeedbackRow.item_id.in_(wanted),
                )
            )
            now = utc_now()
            session.add_all(
                ChatItemFeedbackRow(
                    thread_id=thread_id,
                    item_id=item_id,
                    owner_id=context.user_id,
                    kind=kind,
                    created_at=now,
                )
                for item_id in wanted
            )

    async def load_feedback(self, thread_id: str, context: ChatContext) -> dict[str, FeedbackKind]:
        """The caller's current feedback on the thread's items: item id → kind."""
        async with self._database.read_session() as session:
            rows = (
                await session.execute(
                    select(ChatItemFeedbackRow.item_id, ChatItemFeedbackRow.kind).where(
                        ChatItemFeedbackRow.thread_id == thread_id,
                        ChatItemFeedbackRow.owner_id == context.user_id,
                    )
                )
            ).all()
        return {row.item_id: cast(FeedbackKind, row.kind) for row in rows}

    # ---- attachments (the interface requires them; the edge does not enable uploads) ----

    async def save_attachment(self, attachment: Attachment, context: ChatContext) -> None:
        """Creates or updates the caller's attachment metadata; another user's id → NotFoundError."""
        data = _ATTACHMENT.dump_json(attachment).decode()
        async with self._database.session() as session:
            updated = await session.execute(
                update(ChatAttachmentRow)
                .where(
                    ChatAttachmentRow.id == attachment.id,
                    ChatAttachmentRow.owner_id == context.user_id,
                )
                .values(data=data, thread_id=attachment.thread_id)
            )
            if _affected(updated):
                return
            try:
                session.add(
                    ChatAttachmentRow(
                        id=attachment.id,
                        owner_id=context.user_id,
                        thread_id=attachment.thread_id,
                        created_at=utc_now(),
                        data=data,
                    )
                )
                await session.flush()
            except IntegrityError as exc:
                raise NotFoundError(_ATTACHMENT_NOT_FOUND) from exc

    async def load_attachment(self, attachment_id: str, context: ChatContext) -> Attachment:
        """The caller's attachment metadata, or NotFoundError."""
        async with self._database.session() as session:
            data = await session.scalar(
                select(ChatAttachmentRow.data).where(
                    ChatAttachmentRow.id == attachment_id,
                    ChatAttachmentRow.owner_id == context.user_id,
                )
            )
        if data is None:
            raise NotFoundError(_ATTACHMENT_NOT_FOUND)
        return _ATTACHMENT.validate_json(data)

    async def delete_attachment(self, attachment_id: str, context: ChatContext) -> None:
        """Deletes the caller's attachment metadata, or NotFoundError."""
        async with self._database.session() as session:
            deleted = await session.execute(
                delete(ChatAttachmentRow).where(
                    ChatAttachmentRow.id == attachment_id,
                    ChatAttachmentRow.owner_id == context.user_id,
                )
            )
            if not _affected(deleted):
                raise NotFoundError(_ATTACHMENT_NOT_FOUND)

    # ---- helpers ----

    async def _owns_thread(
        self, session: AsyncSession, thread_id: str, context: ChatContext
    ) -> bool:
        if context.read_cache.thread(thread_id) is not None:
            # Read (or written) as the caller's earlier in this request.
            return True
        found = await session.scalar(
            select(ChatThreadRow.seq).where(
                ChatThreadRow.id == thread_id, ChatThreadRow.owner_id == context.user_id
            )
        )
        return bool(found is not None)

    async def _upsert_item(self, thread_id: str, item: ThreadItem, context: ChatContext) -> None:
        """Inserts the item into the caller's thread, or replaces it there keeping its position.

        One statement: INSERT … SELECT from the caller's thread row (no row when the thread is
        not theirs, so nothing is written) ON CONFLICT (thread_id, id) DO UPDATE. An item this
        request has read keeps its place in the read cache; any other may be new, which changes
        the thread's pages.
        """
        row = _encode_item(item)
        try:
            await self._write_item(thread_id, item, row, context)
        except BaseException:
            context.read_cache.forget_items(thread_id)
            raise
        if not context.read_cache.replace_item(thread_id, row):
            context.read_cache.forget_items(thread_id)

    async def _write_item(
        self, thread_id: str, item: ThreadItem, row: ItemRow, context: ChatContext
    ) -> None:
        _, data, widget_root = row
        params = {
            "p_item_id": item.id,
            "p_thread_id": thread_id,
            "p_owner_id": context.user_id,
            "p_created_at": column_time(item.created_at),
            "p_item_type": item.type,
            "p_widget_root": widget_root,
            "p_data": data,
        }
        unwritten = context.read_cache.unwritten(thread_id)
        if unwritten is not None:
            # The thread saved by this threads.create goes in with its first item.
            params["p_thread_data"], params["p_thread_created_at"] = unwritten
            try:
                await self._writes.thread_with_item(params)
            except IntegrityError as exc:
                # The id exists and belongs to someone else.
                context.read_cache.forget_thread(thread_id)
                raise NotFoundError(_THREAD_NOT_FOUND) from exc
            context.read_cache.written(thread_id)
            return
        # One statement: atomic without a transaction around it.
        if not await self._writes.rows_written(self._writes.upsert_item, params):
            raise NotFoundError(_THREAD_NOT_FOUND)


def _item_page(direction: Order, after: bool) -> Select[str, str, str | None]:
    """A page of a thread's items (`:thread_id`, `:owner`, `:limit`), strictly past the
    cursor position (`:after_created`, `:after_seq`) when `after`."""
    query = select(ChatItemRow.id, ChatItemRow.data, ChatItemRow.widget_root).where(
        ChatItemRow.thread_id == bindparam("thread_id"),
        ChatItemRow.owner_id == bindparam("owner"),
    )
    if after:
        position = tuple_(ChatItemRow.created_at, ChatItemRow.seq)
        cursor = tuple_(
            bindparam("after_created", type_=ChatItemRow.created_at.type),
            bindparam("after_seq", type_=ChatItemRow.seq.type),
        )
        query = query.where(position > cursor if direction == "asc" else position < cursor)
    return query.order_by(*_order_by(ChatItemRow, direction)).limit(
        bindparam("limit", type_=Integer())
    )


# The store's hot reads, built once with named parameters (one prepared statement each).
_THREAD_DATA = select(ChatThreadRow.data).where(
    ChatThreadRow.id == bindparam("thread_id"), ChatThreadRow.owner_id == bindparam("owner")
)
_ITEM_CURSOR = select(ChatItemRow.created_at, ChatItemRow.seq).where(
    ChatItemRow.thread_id == bindparam("thread_id"),
    ChatItemRow.id == bindparam("after"),
    ChatItemRow.owner_id == bindparam("owner"),
)


def _select_items(thread_id: str, context: ChatContext) -> Select[str, str, str | None]:
    """The caller's items of the thread, as the columns of an ItemRow."""
    return select(ChatItemRow.id, ChatItemRow.data, ChatItemRow.widget_root).where(
        ChatItemRow.thread_id == thread_id, ChatItemRow.owner_id == context.user_id
    )


def _after(
    query: Any, position: ColumnElement[Any], cursor: Any, direction: Order, missing: str
) -> Any:
    """Keyset paging: rows strictly past the `after` row; an `after` that is not the caller's is
    NotFound, like a missing one."""
    if cursor is None:
        raise NotFoundError(missing)
    return query.where(position > tuple(cursor) if direction == "asc" else position < tuple(cursor))


def _order_by(
    table: type[ChatThreadRow] | type[ChatItemRow], direction: Order
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """ORDER BY (created_at, seq), ascending or descending."""
    if direction == "asc":
        return table.created_at.asc(), table.seq.asc()
    return table.created_at.desc(), table.seq.desc()


_ITEM_PAGES: dict[tuple[Order, bool], Select[str, str, str | None]] = {
    (direction, after): _item_page(direction, after)
    for direction in ("asc", "desc")
    for after in (False, True)
}
