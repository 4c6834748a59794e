"""`make token` while `make run` starts: the stack comes up, stays up, and every token works.

The README's loop as a newcomer runs it: `make run` in one terminal (scripts/run_dev.py:
migrations, the four processes, health checks) and `make token` in another while it starts,
here again and again from the moment `make run` starts until after it is ready. Both commands
share the generated gRPC code, the locked environment and the auth database, so each one's
set-up must be harmless to the other: generated code that disappeared for a moment killed a
starting service (`ModuleNotFoundError: No module named 'todo'`), and two migrations of one
database at once failed one of them.

The stack runs on free ports with a temporary data folder (the overrides scripts/run_dev.py
honours), on SQLite files there, or on fresh PostgreSQL schemas when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from todo_testkit import databases as test_databases
from todo_testkit.plugin import DatabaseFactory
from todo_testkit.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent
# A deadline, not an expectation: on a busy 2-core machine the four processes have needed
# two minutes to become healthy. Waiting ends as soon as the stack is ready (or dies).
READY_DEADLINE_SECONDS = 300
# `make token` runs once the stack is ready too, so tokens minted both ways are checked.
TOKENS_AFTER_READY = 2
EMAILS = ("newcomer@example.com", "second.user@example.com")
# How `make run` says it is ready (scripts/run_dev.py prints it once every service is healthy).
READY_LINE = "Todo Assistant is running:"
# What the tests' own environment must not leak into the stack: its services' settings, and
# the outer make's flags (this test may itself run under `make test`).
SERVICE_PREFIXES = ("AUTH_", "TASKS_", "AGENT_", "EDGE_", "JWT_")
OUTER_MAKE = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
# The documented overrides of `make run` and `make token` (README, scripts/run_dev.py).
DATA_DIR_VARIABLE = "TODO_DATA_DIR"
SERVICES = ("auth", "tasks", "agent", "edge")
GRPC_SERVICES = ("auth", "tasks", "agent")


async def start_make(
    env: dict[str, str], *args: str, stderr: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """`make <args>` in the checkout, in a process group of its own as a terminal starts it."""
    return await asyncio.create_subprocess_exec(
        *("make", "--no-print-directory", *args),
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        start_new_session=True,
    )


@dataclass
class Command:
    """A running `make …` whose output (stdout and stderr) is read line by line."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> Command:
        return cls(await start_make(env, *args, stderr=asyncio.subprocess.STDOUT))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def read_until(self, line_wanted: str | None = None) -> bool:
        """Collects output until a line starts with `line_wanted` (True) or it ends (False)."""
        assert self.process.stdout is not None
        while raw := await self.process.stdout.readline():
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if line_wanted is not None and line.startswith(line_wanted):
                return True
        return False

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process, from Linux's /proc; None when it is gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), fields[19]
    return None


def process_tree(pid: int) -> dict[int, str]:
    """`pid` and every process below it, each with its start time (which tells a pid reused by
    another process apart). make run's services run in sessions of their own, so signalling
    make's process group does not reach them. Empty where there is no /proc."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        if (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
            started[int(entry.name)] = stat[1]
    tree: dict[int, str] = {}
    queue = [pid]
    while queue:
        current = queue.pop()
        if current in started:
            tree[current] = started[current]
        queue.extend(children.get(current, []))
    return tree


@dataclass(frozen=True)
class MintedToken:
    """One `make token` run: who for, whether the stack was ready already, what it printed."""

    email: str
    stack_was_ready: bool
    exit_code: int
    stdout: str
    stderr: str

    @property
    def token(self) -> str:
        lines = self.stdout.strip().splitlines()
        return lines[-1] if lines else ""


async def make_token(env: dict[str, str], email: str, stack_ready: bool) -> MintedToken:
    """`make -s token EMAIL=…` as the README runs it: the token is the last line of stdout."""
    process = await start_make(env, "-s", "token", f"EMAIL={email}")
    try:
        out, err = await process.communicate()
    finally:
        if process.returncode is None:  # cancelled: leave nothing running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    assert process.returncode is not None
    return MintedToken(email, stack_ready, process.returncode, out.decode(), err.decode())


async def mint_tokens_meanwhile(
    env: dict[str, str], ready: asyncio.Event, stack: Command
) -> list[MintedToken]:
    """`make token` back to back from now until TOKENS_AFTER_READY ran on the ready stack
    (or `make run` ended)."""
    minted: list[MintedToken] = []
    while stack.process.returncode is None:
        was_ready = ready.is_set()
        minted.append(await make_token(env, EMAILS[len(minted) % len(EMAILS)], was_ready))
        if sum(m.stack_was_ready for m in minted) >= TOKENS_AFTER_READY:
            break
    return minted


@dataclass(frozen=True)
class DevStack:
    """Where the stack under test listens and keeps its data."""

    data: Path
    ports: dict[str, int]
    databases: dict[str, test_databases.IsolatedDatabase]

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['edge']}"

    def environment(self) -> dict[str, str]:
        """This test's environment without anything that would configure the stack, plus the
        overrides: ports, the data folder and (PostgreSQL) the databases."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(SERVICE_PREFIXES)
            and name not in OUTER_MAKE
            and name != DATA_DIR_VARIABLE
        }
        env[DATA_DIR_VARIABLE] = str(self.data)
        for name, port in self.ports.items():
            env[f"{name.upper()}_PORT"] = str(port)
        for name, database in self.databases.items():
            env[f"{name.upper()}_DATABASE_URL"] = database.url
            env[f"{name.upper()}_DATABASE_SCHEMA"] = database.schema
        return env

    async def unhealthy(self) -> list[str]:
        """The services that do not answer healthy: gRPC health SERVING, the edge's /readyz."""
        found = []
        for name in GRPC_SERVICES:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{self.ports[name]}") as channel:
                try:
                    reply = await health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(), timeout=10
                    )
                    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
                except grpc.aio.AioRpcError:
                    serving = False
            if not serving:
                found.append(name)
        async with httpx.AsyncClient(base_url=self.edge_url, timeout=10) as http:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/readyz")).status_code == 200:
                    return found
        return [*found, "edge"]

    def logs(self) -> str:
        """The end of every service's log, for failure messages."""
        parts = []
        for name in SERVICES:
            path = self.data / "logs" / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            parts.append(f"--- {path}\n" + "\n".join(text.splitlines()[-40:]))
        return "\n".join(parts)


async def stop(command: Command) -> None:
    """Ctrl-C, as in the terminal; whatever is still running a minute later is killed."""
    tree = process_tree(command.process.pid)
    if command.process.returncode is None:
        command.signal_group(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(command.read_until(), 60)
            await asyncio.wait_for(command.process.wait(), 10)
    if command.process.returncode is None:
        command.signal_group(signal.SIGKILL)
        await command.process.wait()
    for pid, start_time in tree.items():
        stat = _stat(pid)
        if stat is not None and stat[1] == start_time:  # still that process, not a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(READY_DEADLINE_SECONDS + 180)
async def test_make_token_while_make_run_starts(
    tmp_path: Path, database_factory: DatabaseFactory
) -> None:
    # PostgreSQL schemas when TEST_DATABASE_URL is set; else SQLite files in the data folder,
    # made by `make run` itself.
    databases: dict[str, test_databases.IsolatedDatabase] = {}
    if test_databases.postgres_url() is not None:
        databases = {name: await database_factory(name) for name in ("auth", "tasks", "edge")}
    stack = DevStack(
        tmp_path / "data", dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True)), databases
    )
    env = stack.environment()
    ready = asyncio.Event()
    run = await Command.start(env, "run")
    tokens: asyncio.Task[list[MintedToken]] | None = None
    try:
        tokens = asyncio.ensure_future(mint_tokens_meanwhile(env, ready, run))
        try:
            came_up = await asyncio.wait_for(run.read_until(READY_LINE), READY_DEADLINE_SECONDS)
        except TimeoutError:
            came_up = False
        assert came_up, f"make run never became ready:\n{run.output}\n{stack.logs()}"
        ready.set()
        minted = await tokens

        assert run.process.returncode is None, f"make run stopped:\n{run.output}\n{stack.logs()}"
        assert await stack.unhealthy() == [], stack.logs()
        failed = [m for m in minted if m.exit_code != 0]
        assert not failed, "\n\n".join(
            f"make token EMAIL={m.email} (exit {m.exit_code}):\n{m.stdout}\n{m.stderr[-3000:]}"
            for m in failed
        )
        assert any(not m.stack_was_ready for m in minted)  # the race was run, not skipped

        async with httpx.AsyncClient(base_url=stack.edge_url, timeout=10) as http:
            for m in minted:
                headers = {"Authorization": f"Bearer {m.token}"}
                me = await http.get("/api/auth/me", headers=headers)
                assert me.status_code == 200, (m, me.text)
                assert me.json()["email"] == m.email
                # The tasks service verifies the token itself (JWKS from auth).
                listed = await http.get("/api/tasks", headers=headers)
                assert listed.status_code == 200, (m, listed.text)

        await stop(run)
        assert "stopped." in run.lines, run.output  # Ctrl-C stopped every service in order
    finally:
        if tokens is not None and not tokens.done():
            tokens.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await tokens
        await stop(run)
