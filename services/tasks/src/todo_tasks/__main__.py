"""Command line: `todo-tasks serve` (the default) or `todo-tasks migrate`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from todo_common.cli import ProcessCli, serve_grpc
from todo_common.settings import TokenSettings

from todo_tasks.server import migrate, start_tasks_server
from todo_tasks.settings import TasksSettings


async def serve(settings: TasksSettings) -> None:
    """Runs the server until SIGINT/SIGTERM."""
    await serve_grpc("tasks", settings, await start_tasks_server(settings, TokenSettings()))


CLI = ProcessCli(
    name="tasks", description=__doc__ or "", settings=TasksSettings, serve=serve, migrate=migrate
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `todo-tasks`."""
    return CLI.main(argv)


if __name__ == "__main__":
    sys.exit(main())
