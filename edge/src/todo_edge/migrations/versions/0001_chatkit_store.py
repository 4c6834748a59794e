"""Create the ChatKit store: chat_threads, chat_items, chat_item_feedback, chat_attachments."""

import sqlalchemy as sa
from alembic import op
from todo_common.migrations import serial_id_column

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        serial_id_column("seq"),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_chat_threads"),
        sa.UniqueConstraint("id", name="uq_chat_threads_id"),
    )
    op.create_index(
        "ix_chat_threads_owner_position", "chat_threads", ["owner_id", "created_at", "seq"]
    )
    op.create_table(
        "chat_items",
        serial_id_column("seq"),
        sa.Column("thread_id", sa.String(255), nullable=False),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("item_type", sa.String(64), nullable=False),
        sa.Column("widget_root", sa.String(32), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["chat_threads.id"],
            name="fk_chat_items_thread_id_chat_threads",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_chat_items"),
        sa.UniqueConstraint("thread_id", "id", name="uq_chat_items_thread_item"),
    )
    op.create_index(
        "ix_chat_items_thread_position", "chat_items", ["thread_id", "created_at", "seq"]
    )
    op.create_table(
        "chat_item_feedback",
        sa.Column("thread_id", sa.String(255), nullable=False),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id", "item_id"],
            ["chat_items.thread_id", "chat_items.id"],
            name="fk_chat_item_feedback_item",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thread_id", "item_id", name="pk_chat_item_feedback"),
    )
    op.create_table(
        "chat_attachments",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("thread_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chat_attachments"),
    )
    op.create_index("ix_chat_attachments_thread_id", "chat_attachments", ["thread_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_attachments_thread_id", table_name="chat_attachments")
    op.drop_table("chat_attachments")
    op.drop_table("chat_item_feedback")
    op.drop_index("ix_chat_items_thread_position", table_name="chat_items")
    op.drop_table("chat_items")
    op.drop_index("ix_chat_threads_owner_position", table_name="chat_threads")
    op.drop_table("chat_threads")
