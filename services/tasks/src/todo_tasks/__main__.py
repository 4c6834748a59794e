"""Command line: `todo-tasks serve` (the default) or `todo-tasks migrate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from todo_common.grpc_server import serve_until_signalled
from todo_common.logs import announce_serving, configure_logging
from todo_common.settings import TokenSettings

from todo_tasks.server import migrate, start_tasks_server
from todo_tasks.settings import TasksSettings

log = logging.getLogger("todo_tasks")


async def _serve(settings: TasksSettings) -> None:
    running = await start_tasks_server(settings, TokenSettings())
    announce_serving("tasks", settings.host, running.port)
    await serve_until_signalled(running, grace=settings.shutdown_grace_seconds)


async def _migrate(settings: TasksSettings) -> None:
    await migrate(settings)
    log.info("migrated", extra={"service": "tasks"})


def main(argv: list[str] | None = None) -> int:
    """Runs the tasks service or its migrations."""
    parser = argparse.ArgumentParser(prog="todo-tasks", description=__doc__)
    parser.add_argument(
        "command", nargs="?", default="serve", choices=("serve", "migrate"), help="what to do"
    )
    args = parser.parse_args(argv)
    try:
        settings = TasksSettings()
    except ValueError as exc:  # pydantic ValidationError: say what is wrong and stop
        print(f"todo-tasks: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging("tasks", settings.log_level)
    asyncio.run(_serve(settings) if args.command == "serve" else _migrate(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
