"""Starts auth and tasks (and later services) as real processes on PostgreSQL for benchmarks."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from todo_testing.databases import TestDatabase, drop_database
from todo_testing.processes import ServiceProcess, run_command, start_service

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOG_DIR = Path(__file__).resolve().parent / "logs"


def database_url() -> str:
    """BENCH_DATABASE_URL, else the local PostgreSQL the machine provides."""
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)


@asynccontextmanager
async def backend_stack(*names: str) -> AsyncIterator[dict[str, ServiceProcess]]:
    """Migrates fresh schemas and starts the named services (in order) with logs at warning."""
    run_id = uuid.uuid4().hex[:8]
    url = database_url()
    databases = {
        n: TestDatabase(url=url, schema=f"{n}_bench_{run_id}") for n in ("auth", "tasks", "edge")
    }
    env: dict[str, str] = {"JWT_AUTH_ADDRESS": ""}
    for name, database in databases.items():
        env[f"{name.upper()}_DATABASE_URL"] = database.url
        env[f"{name.upper()}_DATABASE_SCHEMA"] = database.schema
        env[f"{name.upper()}_LOG_LEVEL"] = "WARNING"
        env[f"{name.upper()}_ENVIRONMENT"] = "development"
    running: dict[str, ServiceProcess] = {}
    try:
        for name in names:
            if name in ("auth", "tasks"):
                await run_command(name, "migrate", env=env)
            service = await start_service(name, env, LOG_DIR)
            running[name] = service
            if name == "auth":
                env["JWT_AUTH_ADDRESS"] = service.address
                env["EDGE_AUTH_ADDRESS"] = service.address
            env[f"EDGE_{name.upper()}_ADDRESS"] = service.address
            env[f"AGENT_{name.upper()}_ADDRESS"] = service.address
        yield running
    finally:
        for service in reversed(list(running.values())):
            await service.stop()
        for database in databases.values():
            await drop_database(database)
