"""The app's processes (all four, or any subset) as real subprocesses on free ports, wired to
each other and to migrated databases of their own: the way `make run` starts them, for the
cross-service tests, the browser tests and the benchmarks.

    async with running_stack("auth", "tasks", "agent", "edge", folder=tmp) as stack:
        url = stack["edge"].url
        async with stack.stopped("agent"):
            ...  # the agent is down here; it serves again (same port, same env) after

Databases are `new_database` ones (SQLite files in `folder`, or fresh schemas on
TEST_DATABASE_URL), or fresh schemas on `database_url`. Each process logs to
`<log_dir>/<name>.log`. On the way out every process gets SIGTERM, must exit with 0 (a clean
drain), and the databases are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.ports import free_ports
from todo_testkit.processes import ServiceProcess, run_command, start_service

SERVICES = ("auth", "tasks", "agent", "edge")
# The agent keeps nothing; the others own tables and migrate before they serve.
DATABASE_SERVICES = ("auth", "tasks", "edge")
# Who is told where each backend listens (the environment variables naming its address).
ADDRESS_VARIABLES = {
    "auth": ("JWT_AUTH_ADDRESS", "EDGE_AUTH_ADDRESS"),
    "tasks": ("AGENT_TASKS_ADDRESS", "EDGE_TASKS_ADDRESS"),
    "agent": ("EDGE_AGENT_ADDRESS",),
}
# A ceiling, not a wait: the agent and the edge import the Agents and ChatKit SDKs, which
# takes long when four processes start at once on a busy 2-core machine.
STARTUP_SECONDS = 120.0

Environment = Literal["development", "test", "production"]


@dataclass
class Stack:
    """The running processes by name, and the environment they were started with."""

    processes: dict[str, ServiceProcess]
    env: dict[str, str]
    log_dir: Path
    startup_seconds: float = STARTUP_SECONDS

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.processes

    async def start(self, name: str) -> ServiceProcess:
        """Starts `name` again, on the port it had and with the stack's environment."""
        process = await start_service(
            name, self.env, self.log_dir, startup_seconds=self.startup_seconds
        )
        self.processes[name] = process
        return process

    async def stop(self, name: str) -> int:
        """SIGTERM to one process (it drains); returns its exit code."""
        return await self.processes[name].stop()

    @asynccontextmanager
    async def stopped(self, name: str) -> AsyncIterator[None]:
        """`name` is down inside the block and serving again after it, whatever happened."""
        await self.stop(name)
        try:
            yield
        finally:
            await self.start(name)


def _base_env(names: tuple[str, ...], environment: Environment) -> dict[str, str]:
    env = {
        # Set, not inherited: a developer's shell may hold other values.
        "JWT_ISSUER": "todo-auth",
        "JWT_AUDIENCE": "todo-api",
        # One clock for every log line; the edge sets UTC for itself anyway (the ChatKit SDK
        # stamps items with naive local time).
        "TZ": "UTC",
        "AGENT_MODEL": "offline",
        # Plain http on localhost: a Secure cookie would never come back.
        "EDGE_COOKIE_SECURE": "false",
        "EDGE_READINESS_BACKENDS": ",".join(n for n in ADDRESS_VARIABLES if n in names),
    }
    for name in SERVICES:
        env[f"{name.upper()}_ENVIRONMENT"] = environment
    return env


@asynccontextmanager
async def running_stack(
    *names: str,
    folder: Path,
    log_dir: Path | None = None,
    environment: Environment = "test",
    env: Mapping[str, str] | None = None,
    database_url: str | None = None,
    startup_seconds: float = STARTUP_SECONDS,
) -> AsyncIterator[Stack]:
    """Migrates and starts `names` (any of auth, tasks, agent, edge), each told where the others
    listen. `env` is added to every process's environment last (it wins); `folder` holds SQLite
    files; `database_url` puts every database on that server instead."""
    unknown = sorted(set(names) - set(SERVICES))
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"names must be distinct services of {SERVICES}, got {names}")
    log_dir = log_dir or folder / "logs"
    databases: dict[str, IsolatedDatabase] = {
        name: new_database(name, folder, url=database_url)
        for name in names
        if name in DATABASE_SERVICES
    }
    full_env = _base_env(names, environment)
    for name, database in databases.items():
        full_env[f"{name.upper()}_DATABASE_URL"] = database.url
        full_env[f"{name.upper()}_DATABASE_SCHEMA"] = database.schema
    full_env.update(env or {})
    stack = Stack(processes={}, env=full_env, log_dir=log_dir, startup_seconds=startup_seconds)
    try:
        await asyncio.gather(*(run_command(name, "migrate", env=full_env) for name in databases))
        # Start-up is mostly Python imports, seconds each: rather than one after the other,
        # choose every port up front and start every process at once, each told where the
        # others will listen (clients connect lazily, so the order does not matter).
        for name, port in zip(names, free_ports(len(names)), strict=True):
            full_env[f"{name.upper()}_PORT"] = str(port)
            for variable in ADDRESS_VARIABLES.get(name, ()):
                full_env[variable] = f"127.0.0.1:{port}"
        started = await asyncio.gather(
            *(stack.start(name) for name in names), return_exceptions=True
        )
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        yield stack
        # Callers before backends, as a deployment drains; each must exit cleanly.
        exits = {name: await stack.stop(name) for name in _stop_order(stack)}
        unclean = {name: code for name, code in exits.items() if code != 0}
        assert not unclean, f"not a clean exit on SIGTERM: {unclean}\n" + "\n".join(
            f"--- {name}.log:\n{stack[name].log_tail()}" for name in unclean
        )
    finally:
        for name in _stop_order(stack):
            await stack.stop(name)
        for database in databases.values():
            await drop_database(database)


def _stop_order(stack: Stack) -> list[str]:
    return [name for name in reversed(SERVICES) if name in stack]
