"""Alembic environment of the edge (the shared runner does the work)."""

import todo_edge.chatkit.models  # noqa: F401  (registers the ChatKit tables on the metadata)
from todo_common.migrations import run_env
from todo_edge.db import Base

run_env(Base.metadata)
