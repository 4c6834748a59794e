"""session_revocations: the revoked sessions whose access tokens may still be unexpired."""

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    op.create_table(
        "session_revocations",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("revoke_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_revocations")),
    )
    op.create_index("ix_session_revocations_revoke_time", "session_revocations", ["revoke_time"])
    op.create_index("ix_session_revocations_expire_time", "session_revocations", ["expire_time"])


def downgrade() -> None:
    op.drop_table("session_revocations")
