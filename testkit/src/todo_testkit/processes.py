"""Starts one service as a real subprocess (`todo-<name> serve`) and runs its other commands.

Each service's `serve` command logs one JSON line with msg "serving" and its bound `port`
once it listens; `start_service` launches it (on PORT=0 unless the env names a port) and waits
for that line. `todo_testkit.stack` starts several, wired to each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass
class ServiceProcess:
    """A running service process, the port it bound, and its log file."""

    name: str
    process: asyncio.subprocess.Process
    port: int
    log_path: Path
    _drain: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """host:port for gRPC channels."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """http://host:port for HTTP services."""
        return f"http://127.0.0.1:{self.port}"

    async def stop(self, grace_seconds: float = 10.0) -> int:
        """SIGTERM (graceful drain), then SIGKILL after `grace_seconds`. Returns the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace_seconds)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._drain is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
        return self.process.returncode if self.process.returncode is not None else -1

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the service's log, for failure messages."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


async def run_command(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Runs `todo-<name> <args>` to completion and returns its stdout; raises on failure."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / f"todo-{name}"),
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(
            f"todo-{name} {' '.join(args)} failed ({process.returncode}):\n{err.decode(errors='replace')[-3000:]}"
        )
    return out.decode()


def refused_start(name: str, env: Mapping[str, str | None], cwd: Path) -> str:
    """Runs `todo-<name> serve` with `env` over this process's environment (None unsets a
    name), asserts that it refuses to start the documented way (exit code 2, a message and no
    traceback) and returns what it wrote to stderr."""
    full_env = {**os.environ, **env}
    result = subprocess.run(
        [str(BIN / f"todo-{name}"), "serve"],
        env={key: value for key, value in full_env.items() if value is not None},
        cwd=cwd,
        capture_output=True,
        timeout=120,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr
    return stderr


async def start_service(
    name: str, env: dict[str, str], log_dir: Path, *, startup_seconds: float = 30.0
) -> ServiceProcess:
    """Starts `todo-<name> serve` with `<NAME>_PORT=0` and waits for its "serving" log line."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    full_env = {**os.environ, f"{name.upper()}_PORT": "0", **env}
    process = await asyncio.create_subprocess_exec(
        str(BIN / f"todo-{name}"),
        "serve",
        env=full_env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log = log_path.open("ab")
    port: int | None = None

    async def read_until_serving() -> int:
        assert process.stderr is not None
        while True:
            line = await process.stderr.readline()
            if not line:
                raise RuntimeError(f"{name} exited before serving; log: {log_path}")
            log.write(line)
            log.flush()
            with contextlib.suppress(ValueError, AttributeError):
                entry = json.loads(line)
                if entry.get("msg") == "serving" and entry.get("port"):
                    return int(entry["port"])

    try:
        port = await asyncio.wait_for(read_until_serving(), startup_seconds)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
        raise

    async def drain() -> None:
        assert process.stderr is not None
        try:
            while line := await process.stderr.readline():
                log.write(line)
                log.flush()
        finally:
            log.close()

    service = ServiceProcess(name=name, process=process, port=port, log_path=log_path)
    service._drain = asyncio.ensure_future(drain())
    return service
