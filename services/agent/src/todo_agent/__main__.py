"""Command line: `todo-agent serve` (the default). `todo-agent migrate` is accepted and does
nothing (the agent owns no data), so scripts can treat every service alike."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from todo_common.grpc_server import serve_until_signalled
from todo_common.logs import announce_serving, configure_logging
from todo_common.settings import TokenSettings

from todo_agent.models import ModelConfigurationError
from todo_agent.server import start_agent_server
from todo_agent.settings import AgentSettings

log = logging.getLogger("todo_agent")


async def _serve(settings: AgentSettings) -> None:
    running = await start_agent_server(settings, TokenSettings())
    announce_serving(
        "agent",
        settings.host,
        running.port,
        model=settings.model,
        tasks_address=settings.tasks_address,
    )
    await serve_until_signalled(running, grace=settings.shutdown_grace_seconds)


def main(argv: list[str] | None = None) -> int:
    """Runs the agent service."""
    parser = argparse.ArgumentParser(prog="todo-agent", description=__doc__)
    parser.add_argument(
        "command", nargs="?", default="serve", choices=("serve", "migrate"), help="what to do"
    )
    args = parser.parse_args(argv)
    try:
        settings = AgentSettings()
    except ValueError as exc:  # pydantic ValidationError: say what is wrong and stop
        print(f"todo-agent: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging("agent", settings.log_level)
    if args.command == "migrate":
        log.info("nothing to migrate", extra={"service": "agent"})
        return 0
    try:
        asyncio.run(_serve(settings))
    except ModelConfigurationError as exc:
        print(f"todo-agent: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
