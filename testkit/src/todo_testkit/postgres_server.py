"""A throwaway PostgreSQL server for fault tests (stop the database, watch the service cope).

`PostgresServer` runs `initdb` and `pg_ctl` from the installed PostgreSQL binaries on a free
port in its own temporary folder. PostgreSQL refuses to run as root, so when the tests run as
root the binaries run as the `postgres` OS user (`runuser -u postgres --`) and the folder is
owned by it. Tests call `require_postgres_binaries()` (or use `throwaway_postgres()`, which
calls it) and are skipped with a clear message on machines without PostgreSQL.

    async with throwaway_postgres() as pg:
        url = pg.url                # postgresql+asyncpg://postgres@127.0.0.1:<port>/postgres
        await pg.stop(); await pg.start(); await pg.restart()
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from todo_testkit.ports import free_port

POSTGRES_USER = "postgres"
_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_postgres_bin_dir() -> Path | None:
    """The folder holding `initdb` and `pg_ctl` (newest installed version first), or None."""
    candidates = sorted(
        glob.glob(_BIN_GLOB), key=lambda p: int(Path(p).parent.name or 0), reverse=True
    )
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _running_as_root() -> bool:
    return os.geteuid() == 0


def missing_requirement() -> str | None:
    """Why a throwaway server cannot be started here, or None when it can."""
    if find_postgres_bin_dir() is None:
        return (
            "no PostgreSQL server binaries (initdb, pg_ctl) found under "
            f"{_BIN_GLOB} or on PATH; install postgresql to run this test"
        )
    if _running_as_root():
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            return "running as root but there is no 'postgres' OS user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root but `runuser` is not available to drop to 'postgres'"
    return None


def require_postgres_binaries() -> None:
    """Skips the calling test when no throwaway PostgreSQL server can be started."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, listening on 127.0.0.1:`port`."""

    def __init__(self, bin_dir: Path, root: Path, port: int | None = None) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "sockets"
        self.log_file = root / "postgres.log"
        self.port = port or free_port()
        self._initialised = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's `postgres` database (trust auth, no password)."""
        return f"postgresql+asyncpg://{POSTGRES_USER}@127.0.0.1:{self.port}/postgres"

    async def _run(self, program: str, *args: str, limit_seconds: float = 60.0) -> str:
        command = [str(self.bin_dir / program), *args]
        if _running_as_root():
            command = ["runuser", "-u", POSTGRES_USER, "--", *command]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), limit_seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(f"{program} {' '.join(args)} timed out") from None
        text = output.decode(errors="replace")
        if process.returncode != 0:
            raise RuntimeError(f"{program} failed ({process.returncode}):\n{text[-3000:]}")
        return text

    async def init(self) -> None:
        """Creates the cluster (once)."""
        if self._initialised:
            return
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            user = pwd.getpwnam(POSTGRES_USER)
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        await self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            POSTGRES_USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._initialised = True

    async def start(self) -> None:
        """Starts the server and waits until it accepts connections."""
        await self.init()
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        await self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    async def stop(self) -> None:
        """Stops the server at once (fast shutdown: open connections are cut)."""
        await self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    async def restart(self) -> None:
        """Stops and starts the server on the same port."""
        await self.stop()
        await self.start()

    async def is_running(self) -> bool:
        """True when `pg_ctl status` reports a running server."""
        try:
            await self._run("pg_ctl", "-D", str(self.data_dir), "status")
        except RuntimeError:
            return False
        return True

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server log, for failure messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[PostgresServer]:
    """A started throwaway server, stopped and deleted afterwards; skips the test when
    PostgreSQL is not installed."""
    require_postgres_binaries()
    bin_dir = find_postgres_bin_dir()
    assert bin_dir is not None
    # Not under pytest's tmp_path: its parents are private to the current user, and the
    # `postgres` OS user must be able to reach the folder.
    root = Path(tempfile.mkdtemp(prefix="todo-pg-"))
    server = PostgresServer(bin_dir, root)
    try:
        await server.start()
        yield server
    finally:
        if await server.is_running():
            await server.stop()
        shutil.rmtree(root, ignore_errors=True)
