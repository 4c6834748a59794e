"""Command line: `todo-agent serve` (the default). `todo-agent migrate` is accepted and does
nothing (the agent owns no data), so scripts can treat every service alike."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from todo_common.cli import ProcessCli, serve_grpc
from todo_common.settings import TokenSettings

from todo_agent.server import start_agent_server
from todo_agent.settings import AgentSettings


async def serve(settings: AgentSettings) -> None:
    """Runs the server until SIGINT/SIGTERM."""
    running = await start_agent_server(settings, TokenSettings())
    await serve_grpc(
        "agent", settings, running, model=settings.model, tasks_address=settings.tasks_address
    )


CLI = ProcessCli(name="agent", description=__doc__ or "", settings=AgentSettings, serve=serve)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `todo-agent`."""
    return CLI.main(argv)


if __name__ == "__main__":
    sys.exit(main())
