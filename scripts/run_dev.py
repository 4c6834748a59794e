"""`make run`: migrates the SQLite databases under data/, starts every service, waits until each
is healthy, prints what listens where, and stops them all cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
LOGS = DATA / "logs"
BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Service:
    """One process `make run` starts."""

    name: str
    module: str  # the package whose __main__ must exist for the service to be started
    port: int
    kind: str  # "grpc" (health-checked over grpc.health.v1) or "http" (GET /readyz)
    migrates: bool

    @property
    def command(self) -> str:
        return str(BIN / f"todo-{self.name}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.kind == "http" else f"127.0.0.1:{self.port}"


SERVICES = [
    Service("auth", "todo_auth", 50051, "grpc", migrates=True),
    Service("tasks", "todo_tasks", 50052, "grpc", migrates=True),
    Service("agent", "todo_agent", 50053, "grpc", migrates=False),
    Service("edge", "todo_edge", 8000, "http", migrates=True),
]


def available(service: Service) -> bool:
    """True when the service's code exists in this checkout (later issues add services)."""
    return importlib.util.find_spec(f"{service.module}.__main__") is not None


def child_environment() -> dict[str, str]:
    """The environment for every child: development mode, SQLite files under data/."""
    env = dict(os.environ)
    env.setdefault("EDGE_COOKIE_SECURE", "false")
    for name in ("AUTH", "TASKS", "AGENT", "EDGE"):
        env.setdefault(f"{name}_ENVIRONMENT", "development")
    for name in ("auth", "tasks", "edge"):
        env.setdefault(f"{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{DATA / name}.db")
    return env


async def migrate(service: Service, env: dict[str, str]) -> None:
    """Runs `todo-<service> migrate` and fails loudly if it fails."""
    process = await asyncio.create_subprocess_exec(
        service.command,
        "migrate",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        sys.stderr.write(output.decode(errors="replace"))
        raise SystemExit(f"migrating {service.name} failed (exit {process.returncode})")


async def is_healthy(service: Service) -> bool:
    """One readiness probe: grpc.health.v1 SERVING, or HTTP 200 from /readyz."""
    if service.kind == "grpc":
        async with grpc.aio.insecure_channel(service.url) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
            except grpc.aio.AioRpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", service.port), 1
        )
    except (OSError, TimeoutError):
        return False
    writer.write(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    status_line = await reader.readline()
    writer.close()
    return status_line.split(b" ")[1:2] == [b"200"]


async def wait_healthy(service: Service, process: asyncio.subprocess.Process, log: Path) -> None:
    """Waits until the service is ready, or stops everything if it exits or never gets there."""
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"{service.name} exited with {process.returncode}; see {log}")
        if await is_healthy(service):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(
        f"{service.name} did not become ready in {STARTUP_TIMEOUT_SECONDS:.0f} s; see {log}"
    )


async def stop_all(processes: dict[str, asyncio.subprocess.Process]) -> None:
    """SIGTERM (services drain gracefully), then SIGKILL whatever is still running."""
    for process in reversed(list(processes.values())):
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    for name, process in processes.items():
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            print(f"  {name} did not stop in time; killing it")
            process.kill()
            await process.wait()


def tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


async def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    env = child_environment()
    services = [s for s in SERVICES if available(s)]
    for service in services:
        if service.migrates:
            await migrate(service, env)
    processes: dict[str, asyncio.subprocess.Process] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        for service in services:
            log = LOGS / f"{service.name}.log"
            processes[service.name] = await asyncio.create_subprocess_exec(
                service.command,
                "serve",
                env=env,
                cwd=ROOT,
                stdout=log.open("ab"),
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
            )
            await wait_healthy(service, processes[service.name], log)
    except RuntimeError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        for name in processes:
            print(
                f"--- last lines of data/logs/{name}.log\n{tail(LOGS / f'{name}.log')}",
                file=sys.stderr,
            )
        await stop_all(processes)
        return 1

    print("\nTodo Assistant is running:")
    for service in services:
        print(
            f"  {service.name:<6} {service.url:<24} ({service.kind}; log: data/logs/{service.name}.log)"
        )
    edge = next((s for s in services if s.name == "edge"), None)
    if edge:
        print(f"\nOpen {edge.url}/  (API docs: {edge.url}/docs)")
    print("Get a dev token with `make token EMAIL=you@example.com`. Press Ctrl-C to stop.\n")

    waiters = {asyncio.ensure_future(p.wait()): name for name, p in processes.items()}
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    for finished in done:
        if finished in waiters:
            name = waiters[finished]
            print(
                f"{name} exited unexpectedly; stopping the rest. Last log lines:\n{tail(LOGS / f'{name}.log')}"
            )
            exit_code = 1
    print("stopping…")
    await stop_all(processes)
    for future in (stopper, *waiters):
        future.cancel()
    print("stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
