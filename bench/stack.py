"""Starts the services as real processes on fresh PostgreSQL schemas for benchmarks.

`backend_stack("auth", "tasks", "agent", "edge")` migrates what needs migrating and starts the
named services at once on ports chosen up front, each told the addresses of the others. Logs are
at WARNING (an access-log line per call would be part of what is measured) and go to
bench/logs/. The edge runs in UTC with a non-Secure cookie (plain-http localhost) and, for
load runs, with its rate limits raised out of the way (`BENCH_RATE_LIMITS`): the benchmarks
measure throughput, not the limiter's refusals.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from todo_testkit.databases import IsolatedDatabase, drop_database
from todo_testkit.processes import ServiceProcess, run_command, start_service

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOG_DIR = Path(__file__).resolve().parent / "logs"
# Generous: the agent and edge import the Agents/ChatKit SDKs, slow on a busy machine.
STARTUP_SECONDS = 120.0

# The edge's rate limits during load runs: high enough that no benchmark is ever refused.
BENCH_RATE_LIMITS = {
    "EDGE_REQUESTS_PER_USER": "1000000000",
    "EDGE_AUTH_ATTEMPTS_PER_ACCOUNT": "1000000",
    "EDGE_AUTH_ATTEMPTS_PER_ADDRESS": "1000000",
    "EDGE_CHATKIT_SESSIONS_PER_USER": "1000000",
}
RATE_LIMIT_NOTE = (
    "Edge rate limits raised for the run (EDGE_REQUESTS_PER_USER=1e9 and the auth/session "
    "limits 1e6 per 60 s window), so no call is refused by the limiter."
)

_DATABASE_SERVICES = ("auth", "tasks", "edge")


def database_url() -> str:
    """BENCH_DATABASE_URL, else the local PostgreSQL the machine provides."""
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)


@asynccontextmanager
async def backend_stack(
    *names: str, extra_env: dict[str, str] | None = None
) -> AsyncIterator[dict[str, ServiceProcess]]:
    """Migrates fresh schemas and starts the named services (any of auth, tasks, agent,
    edge), wired to each other. `extra_env` is added to every process's env."""
    run_id = uuid.uuid4().hex[:8]
    url = database_url()
    databases = {
        n: IsolatedDatabase(url=url, schema=f"{n}_bench_{run_id}") for n in _DATABASE_SERVICES
    }
    env: dict[str, str] = {"JWT_AUTH_ADDRESS": ""}
    for name, database in databases.items():
        env[f"{name.upper()}_DATABASE_URL"] = database.url
        env[f"{name.upper()}_DATABASE_SCHEMA"] = database.schema
    for name in (*_DATABASE_SERVICES, "agent"):
        # Access logs off: one JSON line per call would be part of what is measured.
        env[f"{name.upper()}_LOG_LEVEL"] = "WARNING"
        env[f"{name.upper()}_ENVIRONMENT"] = "development"
    env.update(
        {
            "AGENT_MODEL": "offline",
            # The ChatKit SDK stamps items with naive local time; the edge must run in UTC.
            "TZ": "UTC",
            "EDGE_COOKIE_SECURE": "false",
            "EDGE_READINESS_BACKENDS": ",".join(
                n for n in ("auth", "tasks", "agent") if n in names
            ),
            **BENCH_RATE_LIMITS,
        }
    )
    env.update(extra_env or {})
    running: dict[str, ServiceProcess] = {}
    try:
        # Start-up is mostly Python imports (seconds each on a busy machine): migrate at once,
        # choose every port up front, then start every process at once, each told where the
        # others will listen (clients connect lazily, so the order does not matter).
        await asyncio.gather(
            *(run_command(n, "migrate", env=env) for n in names if n in _DATABASE_SERVICES)
        )
        ports = dict(zip(names, _free_ports(len(names)), strict=True))
        for name, port in ports.items():
            env[f"{name.upper()}_PORT"] = str(port)
            address = f"127.0.0.1:{port}"
            if name == "auth":
                env["JWT_AUTH_ADDRESS"] = address
            env[f"EDGE_{name.upper()}_ADDRESS"] = address
            env[f"AGENT_{name.upper()}_ADDRESS"] = address
        started = await asyncio.gather(
            *(start_service(n, env, LOG_DIR, startup_seconds=STARTUP_SECONDS) for n in names),
            return_exceptions=True,
        )
        for name, service in zip(names, started, strict=True):
            if isinstance(service, ServiceProcess):
                running[name] = service
        for service in started:
            if isinstance(service, BaseException):
                raise service
        yield running
    finally:
        for service in reversed(list(running.values())):
            await service.stop()
        for database in databases.values():
            await drop_database(database)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def rss_kib(pid: int) -> int:
    """The resident set size (VmRSS) of a process, in KiB, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")
