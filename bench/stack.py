"""The services as real processes on fresh PostgreSQL schemas, for benchmarks.

`backend_stack("auth", "tasks", "agent", "edge")` is the test kit's launcher
(`todo_testkit.stack.running_stack`: migrate, free ports chosen up front, every process told
where the others listen) with what a measurement needs: logs at WARNING (an access-log line per
call would be part of what is measured) in bench/logs/, schemas on BENCH_DATABASE_URL, and the
edge's rate limits raised out of the way (`BENCH_RATE_LIMITS`): the benchmarks measure
throughput, not the limiter's refusals.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from todo_testkit.stack import SERVICES, Stack, running_stack

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOG_DIR = Path(__file__).resolve().parent / "logs"

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


def database_url() -> str:
    """BENCH_DATABASE_URL, else the local PostgreSQL the machine provides."""
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)


@asynccontextmanager
async def backend_stack(
    *names: str, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Stack]:
    """Fresh schemas on `database_url()` and the named services (any of auth, tasks, agent,
    edge) started by the test kit's launcher, wired to each other; `stack["edge"].url` etc.
    `extra_env` is added to every process's env."""
    env = {
        # Access logs off: one JSON line per call would be part of what is measured.
        **{f"{name.upper()}_LOG_LEVEL": "WARNING" for name in SERVICES},
        **BENCH_RATE_LIMITS,
        **(extra_env or {}),
    }
    async with running_stack(
        *names,
        folder=LOG_DIR,
        log_dir=LOG_DIR,
        environment="development",
        env=env,
        database_url=database_url(),
    ) as stack:
        yield stack


def rss_kib(pid: int) -> int:
    """The resident set size (VmRSS) of a process, in KiB, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")
