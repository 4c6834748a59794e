"""`make run` and `make token`: the development stack on this machine.

`make run` (no arguments) migrates the SQLite databases in the data folder, starts every
service, waits until each is healthy, prints what listens where, and stops them all cleanly on
Ctrl-C (and when one of them exits). `make token` (`token --email …`) prints a dev access token
from the same auth database.

Both derive the services' environment from the same overrides, so a second stack (or a test)
can run beside the first: `AUTH_PORT`, `TASKS_PORT`, `AGENT_PORT`, `EDGE_PORT` (50051, 50052,
50053 and 8000 by default; the services' own variables) and `TODO_DATA_DIR` (SQLite files and
logs; `data/` by default). A variable set explicitly, such as `AUTH_DATABASE_URL` or
`EDGE_TASKS_ADDRESS`, wins over what is derived from them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_VARIABLE = "TODO_DATA_DIR"
DEFAULT_DATA = ROOT / "data"
BIN = Path(sys.executable).parent
# Only a hung service takes this long: a cold start of one service has needed over 30 s on a
# busy 2-core machine (importing the Agents SDK and ChatKit is most of it).
STARTUP_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Service:
    """One process `make run` starts."""

    name: str
    port: int
    kind: str  # "grpc" (health-checked over grpc.health.v1) or "http" (GET /readyz)
    migrates: bool

    @property
    def command(self) -> str:
        return str(BIN / f"todo-{self.name}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.kind == "http" else f"127.0.0.1:{self.port}"


# In start-up order: each one needs the ones before it.
SERVICES = [
    Service("auth", 50051, "grpc", migrates=True),
    Service("tasks", 50052, "grpc", migrates=True),
    Service("agent", 50053, "grpc", migrates=False),
    Service("edge", 8000, "http", migrates=True),
]


def _port(env: Mapping[str, str], service: Service) -> int:
    variable = f"{service.name.upper()}_PORT"
    raw = env.get(variable, "").strip()
    if not raw:
        return service.port
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        # Port 0 ("any free port") is for tests: a stack printed and health-checked here needs
        # to know its ports before it starts.
        raise SystemExit(f"{variable}={raw!r}: make run needs a port number from 1 to 65535")
    return int(raw)


@dataclass(frozen=True)
class DevStack:
    """What `make run` starts, on which ports, with which data folder."""

    services: list[Service]
    data: Path

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> DevStack:
        """The documented defaults, overridden by `<SERVICE>_PORT` and TODO_DATA_DIR."""
        services = [Service(s.name, _port(env, s), s.kind, s.migrates) for s in SERVICES]
        ports = [s.port for s in services]
        if len(set(ports)) != len(ports):
            listing = ", ".join(f"{s.name.upper()}_PORT={s.port}" for s in services)
            raise SystemExit(f"two services cannot share a port: {listing}")
        data = Path(env.get(DATA_DIR_VARIABLE, "").strip() or DEFAULT_DATA).resolve()
        return cls(services, data)

    @property
    def logs(self) -> Path:
        """Where each service's output goes, one file per service."""
        return self.data / "logs"

    def log(self, service: Service) -> Path:
        """The log file of one service."""
        return self.logs / f"{service.name}.log"

    def shown(self, path: Path) -> str:
        """A path as people read it: relative to the checkout when inside it."""
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    def service(self, name: str) -> Service:
        """The service called `name`."""
        return next(s for s in self.services if s.name == name)

    def child_environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """The environment for every child: development mode, these ports and SQLite files."""
        env = dict(base)
        env.setdefault("EDGE_COOKIE_SECURE", "false")
        for service in self.services:
            name = service.name.upper()
            env.setdefault(f"{name}_ENVIRONMENT", "development")
            env[f"{name}_PORT"] = str(service.port)
            if service.migrates:
                env.setdefault(
                    f"{name}_DATABASE_URL", f"sqlite+aiosqlite:///{self.data / service.name}.db"
                )
        auth, tasks, agent, edge = (self.service(n) for n in ("auth", "tasks", "agent", "edge"))
        for variable, target in (
            ("JWT_AUTH_ADDRESS", auth),
            ("EDGE_AUTH_ADDRESS", auth),
            ("EDGE_TASKS_ADDRESS", tasks),
            ("AGENT_TASKS_ADDRESS", tasks),
            ("EDGE_AGENT_ADDRESS", agent),
        ):
            env.setdefault(variable, f"127.0.0.1:{target.port}")
        env.setdefault("EDGE_CORS_ORIGINS", f"http://localhost:{edge.port},{edge.url}")
        return env


async def migrate(service: Service, env: dict[str, str], stop: asyncio.Event) -> None:
    """Runs `todo-<service> migrate` and fails loudly if it fails (unless Ctrl-C stopped it:
    it is in our process group, so the terminal interrupts it too)."""
    process = await asyncio.create_subprocess_exec(
        service.command,
        "migrate",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0 and not stop.is_set():
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


async def wait_healthy(
    service: Service, process: asyncio.subprocess.Process, log: str, stop: asyncio.Event
) -> None:
    """Waits until the service is ready, or Ctrl-C; raises if it exits or never gets there."""
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if stop.is_set() or await is_healthy(service):
            return
        if process.returncode is not None:
            raise RuntimeError(f"{service.name} exited with {process.returncode}; see {log}")
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


async def start_all(
    stack: DevStack,
    services: list[Service],
    env: dict[str, str],
    stop: asyncio.Event,
    processes: dict[str, asyncio.subprocess.Process],
) -> None:
    """Starts the services in order, each once the previous one is healthy, into `processes`.

    Returns early on Ctrl-C; raises RuntimeError when one exits or never becomes healthy.
    """
    for service in services:
        if stop.is_set():
            return
        print(f"starting {service.name}…", flush=True)
        log = stack.log(service)
        processes[service.name] = await asyncio.create_subprocess_exec(
            service.command,
            "serve",
            env=env,
            cwd=ROOT,
            stdout=log.open("ab"),
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        await wait_healthy(service, processes[service.name], stack.shown(log), stop)


def print_running(stack: DevStack, services: list[Service]) -> None:
    """What listens where, and what to do next."""
    print("\nTodo Assistant is running:")
    for service in services:
        where = f"({service.kind}; log: {stack.shown(stack.log(service))})"
        print(f"  {service.name:<6} {service.url:<24} {where}")
    edge = next((s for s in services if s.name == "edge"), None)
    if edge:
        print(f"\nOpen {edge.url}/  (API docs: {edge.url}/docs)")
    print("Get a dev token with `make token EMAIL=you@example.com`. Press Ctrl-C to stop.\n")
    sys.stdout.flush()


async def wait_for_stop_or_exit(
    stack: DevStack, processes: dict[str, asyncio.subprocess.Process], stop: asyncio.Event
) -> int:
    """Waits for Ctrl-C (returns 0) or for a service to exit (returns 1)."""
    waiters = {asyncio.ensure_future(p.wait()): name for name, p in processes.items()}
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
    for future in (stopper, *waiters):
        future.cancel()
    exit_code = 0
    for finished in done:
        if finished in waiters:
            log = stack.log(stack.service(waiters[finished]))
            print(
                f"{waiters[finished]} exited unexpectedly; stopping the rest. "
                f"Last log lines:\n{tail(log)}"
            )
            exit_code = 1
    return exit_code


async def run(stack: DevStack) -> int:
    """`make run`: migrate, start in order, wait for health, serve until Ctrl-C or a crash."""
    stack.logs.mkdir(parents=True, exist_ok=True)
    env = stack.child_environment(os.environ)
    services = stack.services
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    for service in services:
        if service.migrates and not stop.is_set():
            print(f"migrating {service.name}…", flush=True)
            await migrate(service, env, stop)
    processes: dict[str, asyncio.subprocess.Process] = {}
    try:
        await start_all(stack, services, env, stop, processes)
    except RuntimeError as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        for name in processes:
            log = stack.log(stack.service(name))
            print(f"--- last lines of {stack.shown(log)}\n{tail(log)}", file=sys.stderr)
        await stop_all(processes)
        return 1
    exit_code = 0
    if not stop.is_set():  # else Ctrl-C came while starting
        print_running(stack, services)
        exit_code = await wait_for_stop_or_exit(stack, processes, stop)
    print("stopping…")
    await stop_all(processes)
    print("stopped.")
    return exit_code


def token(stack: DevStack, email: str) -> NoReturn:
    """`make token`: `todo-auth dev-token` on the auth database `make run` uses.

    It replaces this process, so its output (the token on the last line) and exit code are
    the command's own.
    """
    command = BIN / "todo-auth"
    argv = [str(command), "dev-token", "--email", email]
    os.execve(command, argv, stack.child_environment(os.environ))  # noqa: S606 - fixed argv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="start every service (the default)")
    token_command = commands.add_parser("token", help="print a dev access token (last line)")
    token_command.add_argument("--email", required=True, help="the user's email address")
    args = parser.parse_args()
    stack = DevStack.from_environment(os.environ)
    if args.command == "token":
        token(stack, args.email)
    return asyncio.run(run(stack))


if __name__ == "__main__":
    sys.exit(main())
