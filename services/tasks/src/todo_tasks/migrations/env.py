"""Alembic environment of the tasks service (the shared runner does the work)."""

from todo_common.migrations import run_env
from todo_tasks.models import Base

run_env(Base.metadata)
