"""Alembic environment for the auth service (the shared run_env does the work)."""

from todo_auth.models import Base
from todo_common.migrations import run_env

run_env(Base.metadata)
