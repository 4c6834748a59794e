"""The one command-line runner of the four processes: `todo-<name> [serve|migrate|…]`.

Every process has `serve` (the default) and `migrate` (a no-op for a process without a
database, so scripts can treat every process alike), plus its own extra commands. The runner
parses the command line, loads the settings from the environment — invalid ones end the
process with exit code 2 and one line per problem, naming the environment variable and never
echoing a value (it may be a secret) —, configures logging once, and runs the command in one
event loop. A command raises `CommandError` for a failure the operator must act on: its
message is printed without a traceback.

The event loop is uvloop's wherever it is installed (every Linux and macOS deployment): the
same asyncio API, but its callbacks, timers and socket transports run in C, which cuts the
per-event cost every streamed chat turn pays several times over (gRPC aio, the model's HTTP
stream, the edge's SSE). `run_in_event_loop` is the one place a process picks its loop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from todo_common.grpc_server import RunningServer, serve_until_signalled
from todo_common.logs import announce_serving, configure_logging
from todo_common.settings import GrpcServerSettings, ProcessSettings

log = logging.getLogger(__name__)

SettingsT = TypeVar("SettingsT", bound=ProcessSettings)

EXIT_INVALID_SETTINGS = 2


class CommandError(Exception):
    """A failure the operator must act on; `exit_code` ends the process."""

    exit_code = 1


class ConfigurationError(CommandError):
    """Settings that parse but cannot work together (e.g. a model name without its key)."""

    exit_code = EXIT_INVALID_SETTINGS


@dataclass(frozen=True)
class Command(Generic[SettingsT]):
    """One extra subcommand: its name, help line, arguments and what it does."""

    name: str
    help: str
    run: Callable[[SettingsT, argparse.Namespace], Awaitable[None]]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


@dataclass(frozen=True)
class ProcessCli(Generic[SettingsT]):
    """The command line of one process (`todo-<name>`)."""

    name: str
    description: str
    # Read from the environment when the command runs.
    settings: type[SettingsT]
    serve: Callable[[SettingsT], Awaitable[None]]
    # None: the process owns no database and `migrate` has nothing to do.
    migrate: Callable[[SettingsT], Awaitable[None]] | None = None
    commands: Sequence[Command[SettingsT]] = ()

    @property
    def prog(self) -> str:
        """The command's name."""
        return f"todo-{self.name}"

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Runs the command line and returns the process's exit code."""
        parser = self._parser()
        args = parser.parse_args(argv)
        try:
            settings = self.settings()
        except ValidationError as error:
            print(f"{self.prog}: invalid settings:", file=sys.stderr)
            for line in describe_invalid_settings(error, self.settings):
                print(f"  {line}", file=sys.stderr)
            return EXIT_INVALID_SETTINGS
        configure_logging(self.name, settings.log_level)
        try:
            run_in_event_loop(args.run(settings, args))
        except CommandError as error:
            print(f"{self.prog}: {error}", file=sys.stderr)
            return error.exit_code
        return 0

    def _parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=self.prog, description=self.description)
        parser.set_defaults(run=self._serve)
        commands = parser.add_subparsers(title="commands", metavar="COMMAND")
        commands.add_parser("serve", help="run the server (the default)").set_defaults(
            run=self._serve
        )
        commands.add_parser(
            "migrate",
            help="create or upgrade the database tables"
            if self.migrate
            else "nothing to do: this process owns no database",
        ).set_defaults(run=self._migrate)
        for command in self.commands:
            sub = commands.add_parser(command.name, help=command.help)
            if command.add_arguments is not None:
                command.add_arguments(sub)
            sub.set_defaults(run=command.run)
        return parser

    async def _serve(self, settings: SettingsT, _args: argparse.Namespace) -> None:
        await self.serve(settings)

    async def _migrate(self, settings: SettingsT, _args: argparse.Namespace) -> None:
        if self.migrate is None:
            log.info("nothing to migrate", extra={"service": self.name})
            return
        await self.migrate(settings)
        log.info("migrated", extra={"service": self.name})


GC_FIRST_GENERATION = 10_000


def run_in_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Runs `main` to completion in a new event loop: uvloop's when it is installed (see the
    module docstring), else asyncio's own (Windows, where uvloop does not exist).

    Everything imported so far (modules, pydantic schemas, protobuf descriptors) lives as long
    as the process, so it is frozen out of the cycle collector (`gc.freeze`): a full collection
    then walks only what the process allocated since. The first generation is collected every
    GC_FIRST_GENERATION allocations instead of 700: a chat turn allocates thousands of
    short-lived objects (SDK events, pydantic models), and the young collections were ~4 % of
    the agent's CPU under a chat burst (py-spy --native)."""
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION, *gc.get_threshold()[1:])
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every POSIX platform
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def describe_invalid_settings(error: ValidationError, settings: type[BaseSettings]) -> list[str]:
    """One line per problem: the environment variable (or nested field) and what is wrong.
    Input values are left out: they may be secrets."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        location = [str(part) for part in problem["loc"]]
        message = problem["msg"].removeprefix("Value error, ")
        if location:
            location[0] = environment_name(settings, location[0])
            lines.append(f"{'.'.join(location)}: {message}")
        else:  # a check across fields: its message names the variables
            lines.append(message)
    return lines


def environment_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` (prefix + name), or `field` itself when it
    is read under an alias (the error then names the alias already)."""
    info = settings.model_fields.get(field)
    if info is None or info.validation_alias is not None:
        return field
    prefix = str(settings.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


async def serve_grpc(
    name: str, settings: GrpcServerSettings, running: RunningServer, **extra: Any
) -> None:
    """Announces a started gRPC server (the `serving` line with its port) and serves until
    SIGINT/SIGTERM, then drains."""
    announce_serving(name, settings.host, running.port, **extra)
    await serve_until_signalled(running, grace=settings.shutdown_grace_seconds)
