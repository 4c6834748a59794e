"""The ChatKit store's tables: threads, thread items, item feedback and attachment metadata.

Every row carries its owner's user id and every query filters on it. A ChatKit object is stored
whole as the JSON pydantic writes for it (`data`), so any item type, including ones a future
SDK adds, comes back exactly as it was saved; the other columns exist only to find, order and
scope rows.

Ordering: `created_at` is the ChatKit object's own timestamp; `seq` is an auto-incrementing
integer assigned at insertion. Pages order by (created_at, seq), so items created within the
same clock tick keep their insertion order, and an item replaced in place keeps its position.

Datetimes: ChatKit items carry naive datetimes (the SDK uses `datetime.now()`); the edge runs
with its clock in UTC, so the naive values are UTC. Columns hold naive UTC on both backends
(`timestamp without time zone` on PostgreSQL); an aware value is converted to UTC first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from todo_edge.db import Base

ID_MAX = 255
OWNER_ID_MAX = 128
ITEM_TYPE_MAX = 64
FEEDBACK_KIND_MAX = 16
WIDGET_ROOT_MAX = 32

# An auto-incrementing 64-bit key. SQLite only auto-increments an INTEGER PRIMARY KEY (the
# rowid), so the type is INTEGER there; SQLite integers are 64-bit anyway.
SequenceType = BigInteger().with_variant(Integer(), "sqlite")


class ChatThreadRow(Base):
    """One ChatKit thread: its ThreadMetadata (title, status, metadata) as JSON."""

    __tablename__ = "chat_threads"

    seq: Mapped[int] = mapped_column(SequenceType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(ID_MAX), unique=True)
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    data: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        # threads.list: one owner's threads in creation order.
        Index("ix_chat_threads_owner_position", "owner_id", "created_at", "seq"),
    )


class ChatItemRow(Base):
    """One thread item (any ThreadItem type) as JSON, positioned by (created_at, seq)."""

    __tablename__ = "chat_items"

    seq: Mapped[int] = mapped_column(SequenceType, primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(
        String(ID_MAX), ForeignKey("chat_threads.id", ondelete="CASCADE")
    )
    id: Mapped[str] = mapped_column(String(ID_MAX))
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    # The item's `type` discriminator ("user_message", "widget", ...), for queries and support.
    item_type: Mapped[str] = mapped_column(String(ITEM_TYPE_MAX))
    # Which widget root class a widget item was built with, when JSON alone would not bring it
    # back: a template-built `DynamicWidgetRoot` re-validates as the strict `Card`/`ListView`.
    widget_root: Mapped[str | None] = mapped_column(String(WIDGET_ROOT_MAX), nullable=True)
    data: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        # Item ids are unique within their thread; load_item and the `after` cursor use this.
        UniqueConstraint("thread_id", "id", name="uq_chat_items_thread_item"),
        # items.list and the history for the model: one thread's items in order.
        Index("ix_chat_items_thread_position", "thread_id", "created_at", "seq"),
    )


class ChatItemFeedbackRow(Base):
    """A user's latest thumbs up/down on one item (`items.feedback`); goes with the item."""

    __tablename__ = "chat_item_feedback"

    thread_id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_MAX))
    kind: Mapped[str] = mapped_column(String(FEEDBACK_KIND_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))

    __table_args__ = (
        ForeignKeyConstraint(
            ["thread_id", "item_id"],
            ["chat_items.thread_id", "chat_items.id"],
            name="fk_chat_item_feedback_item",
            ondelete="CASCADE",
        ),
    )


class ChatAttachmentRow(Base):
    """Attachment metadata (the Store interface requires it; uploads are not enabled)."""

    __tablename__ = "chat_attachments"

    id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(OWNER_ID_MAX))
    # Set once a user message carrying the attachment is saved; deleting the thread deletes it.
    thread_id: Mapped[str | None] = mapped_column(String(ID_MAX), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    data: Mapped[str] = mapped_column(Text)
