"""Index sign_in_failures.fail_time, so pruning every expired failure stays cheap."""

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.create_index("ix_sign_in_failures_fail_time", "sign_in_failures", ["fail_time"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_failures_fail_time", table_name="sign_in_failures")
