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

`make run-replicas` (`replicas`) starts the same processes replicated, the way a cluster runs
them, on PostgreSQL and Redis: one auth, two tasks, two agents and two edges behind HAProxy.
Every gRPC client dials one target listing both replicas (`ipv4:127.0.0.1:p1,127.0.0.1:p2`)
with `round_robin`; the edges share rate-limit counters in Redis; a replica that exits (a
crash, `kill -9`, or SIGTERM for a rolling restart) is started again on its port, as an
orchestrator would. Its own ports, so it runs beside `make run`: `EDGE_PORT` (HAProxy, 8100),
`AUTH_PORT` (50151), `TASKS_PORTS`, `AGENT_PORTS`, `EDGE_PORTS` (comma-separated, one per
replica: 50152,50162 / 50153,50163 / 8101,8102), `REDIS_PORT` (6379: a Redis already
answering there is used, else `redis-server` is started), `REPLICAS_DATABASE_URL` (default
postgresql+asyncpg://postgres@127.0.0.1:5432/todo_replicas, created when missing; each
service owns its schema in it) and `TODO_DATA_DIR` (logs, HAProxy's configuration and
`processes.json`, which names each process's pid and port; `data/replicas` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # 0: the only one; 1, 2…: one of several replicas (`make run-replicas`).
    replica: int = 0
    # What to run instead of `todo-<name> serve` (HAProxy, Redis).
    argv: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """The name people see and logs are filed under: `tasks`, or `tasks-2`."""
        return f"{self.name}-{self.replica}" if self.replica else self.name

    @property
    def command(self) -> str:
        return str(BIN / f"todo-{self.name}")

    @property
    def serve_argv(self) -> list[str]:
        """The command line that serves."""
        return list(self.argv) if self.argv else [self.command, "serve"]

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
        return self.logs / f"{service.label}.log"

    def shown(self, path: Path) -> str:
        """A path as people read it: relative to the checkout when inside it."""
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)

    def service(self, name: str) -> Service:
        """The service labelled `name` (`tasks`, `tasks-2`, `balancer`)."""
        return next(s for s in self.services if s.label == name)

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
    """One readiness probe: grpc.health.v1 SERVING, HTTP 200 from /readyz, or Redis PONG."""
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
    try:
        if service.kind == "redis":
            writer.write(b"PING\r\n")
            return await asyncio.wait_for(reader.readline(), 1) == b"+PONG\r\n"
        writer.write(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        status_line = await asyncio.wait_for(reader.readline(), 2)
        return status_line.split(b" ")[1:2] == [b"200"]
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


async def wait_healthy(
    service: Service, process: asyncio.subprocess.Process, log: str, stop: asyncio.Event
) -> None:
    """Waits until the service is ready, or Ctrl-C; raises if it exits or never gets there."""
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if stop.is_set() or await is_healthy(service):
            return
        if process.returncode is not None:
            raise RuntimeError(f"{service.label} exited with {process.returncode}; see {log}")
        await asyncio.sleep(0.2)
    raise RuntimeError(
        f"{service.label} did not become ready in {STARTUP_TIMEOUT_SECONDS:.0f} s; see {log}"
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
        print(f"starting {service.label}…", flush=True)
        processes[service.label] = await spawn(stack, service, env)
        await wait_healthy(service, processes[service.label], stack.shown(stack.log(service)), stop)


async def spawn(
    stack: DevStack, service: Service, env: Mapping[str, str]
) -> asyncio.subprocess.Process:
    """Starts one service's serving process, its output appended to its log file."""
    argv = service.serve_argv
    return await asyncio.create_subprocess_exec(
        argv[0],
        *argv[1:],
        env=dict(env),
        cwd=ROOT,
        stdout=stack.log(service).open("ab"),
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
    )


def report_start_failure(
    stack: DevStack, error: RuntimeError, processes: Mapping[str, asyncio.subprocess.Process]
) -> None:
    """Why start-up failed, and the last lines of each started process's log."""
    print(f"start-up failed: {error}", file=sys.stderr)
    for label in processes:
        log = stack.log(stack.service(label))
        print(f"--- last lines of {stack.shown(log)}\n{tail(log)}", file=sys.stderr)


def print_running(stack: DevStack, services: list[Service]) -> None:
    """What listens where, and what to do next."""
    print("\nTodo Assistant is running:")
    for service in services:
        where = f"({service.kind}; log: {stack.shown(stack.log(service))})"
        print(f"  {service.label:<9} {service.url:<24} {where}")
    edge = next((s for s in services if s.name == "balancer"), None) or next(
        (s for s in services if s.name == "edge"), None
    )
    if edge:
        print(f"\nOpen {edge.url}/  (API docs: {edge.url}/docs)")
    if edge and edge.name == "edge":
        print("Get a dev token with `make token EMAIL=you@example.com`.", end=" ")
    print("Press Ctrl-C to stop.\n")
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
        report_start_failure(stack, exc, processes)
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


# `make run-replicas`: its own ports (beside `make run`'s), one per replica.
REPLICA_PORTS = {
    "auth": ("AUTH_PORT", "50151"),
    "tasks": ("TASKS_PORTS", "50152,50162"),
    "agent": ("AGENT_PORTS", "50153,50163"),
    "edge": ("EDGE_PORTS", "8101,8102"),
}
BALANCER_PORT = ("EDGE_PORT", "8100")  # HAProxy, the one address people use
REDIS_PORT = ("REDIS_PORT", "6379")
REPLICAS_DATABASE_VARIABLE = "REPLICAS_DATABASE_URL"
DEFAULT_REPLICAS_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/todo_replicas"
DEFAULT_REPLICAS_DATA = DEFAULT_DATA / "replicas"
# Who started a replica that exited waits this long before starting it again.
RESTART_DELAY_SECONDS = 0.5
# HAProxy's shared configuration (SSE-safe, /readyz checks, retries only where safe); the
# launcher adds a `backend edges` listing its replicas.
HAPROXY_CONFIG = ROOT / "docker" / "haproxy" / "haproxy.cfg"


def _ports(env: Mapping[str, str], variable: str, default: str) -> list[int]:
    raw = env.get(variable, "").strip() or default
    ports = []
    for item in raw.split(","):
        item = item.strip()
        if not item.isdigit() or not 1 <= int(item) <= 65535:
            raise SystemExit(
                f"{variable}={raw!r}: give port numbers from 1 to 65535, comma-separated"
            )
        ports.append(int(item))
    return ports


@dataclass(frozen=True)
class ReplicaStack(DevStack):
    """What `make run-replicas` starts: replicated services on PostgreSQL, Redis, HAProxy."""

    database_url: str
    redis_port: int

    @classmethod
    def replicas_from_environment(cls, env: Mapping[str, str]) -> ReplicaStack:
        """The documented defaults, overridden by the variables in the module docstring."""
        services: list[Service] = []
        for name, (variable, default) in REPLICA_PORTS.items():
            ports = _ports(env, variable, default)
            if name == "auth" and len(ports) != 1:
                raise SystemExit(f"{variable}: auth runs once (its port, not a list)")
            kind = "http" if name == "edge" else "grpc"
            migrates = name != "agent"
            many = len(ports) > 1
            services += [
                Service(name, port, kind, migrates, replica=i if many else 0)
                for i, port in enumerate(ports, 1)
            ]
        data = Path(env.get(DATA_DIR_VARIABLE, "").strip() or DEFAULT_REPLICAS_DATA).resolve()
        [balancer_port] = _ports(env, *BALANCER_PORT)
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        argv = (haproxy, "-db", "-f", str(HAPROXY_CONFIG), "-f", str(data / "haproxy-edges.cfg"))
        services.append(Service("balancer", balancer_port, "http", False, argv=argv))
        [redis_port] = _ports(env, *REDIS_PORT)
        ports = [s.port for s in services] + [redis_port]
        if len(set(ports)) != len(ports):
            listing = ", ".join(f"{s.label}={s.port}" for s in services)
            raise SystemExit(f"two processes cannot share a port: {listing}, redis={redis_port}")
        database_url = env.get(REPLICAS_DATABASE_VARIABLE, "").strip() or DEFAULT_REPLICAS_DATABASE
        return cls(services, data, database_url, redis_port)

    def replicas(self, name: str) -> list[Service]:
        """Every replica of `name`."""
        return [s for s in self.services if s.name == name]

    def target(self, name: str) -> str:
        """One gRPC target listing every replica of `name` (resolved without DNS)."""
        return "ipv4:" + ",".join(f"127.0.0.1:{s.port}" for s in self.replicas(name))

    @property
    def redis(self) -> Service:
        """redis-server on the configured port, when this stack has to start it."""
        argv = ("redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1")
        return Service("redis", self.redis_port, "redis", False, argv=(*argv, "--save", ""))

    @property
    def processes_file(self) -> Path:
        """Where the stack says which pid serves on which port (for people and tests)."""
        return self.data / "processes.json"

    def child_environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """Every child's environment: PostgreSQL, Redis, round_robin over every replica."""
        env = dict(base)
        env.setdefault("EDGE_COOKIE_SECURE", "false")
        for name in REPLICA_PORTS:
            env.setdefault(f"{name.upper()}_ENVIRONMENT", "development")
        for name in ("auth", "tasks", "edge"):
            env.setdefault(f"{name.upper()}_DATABASE_URL", self.database_url)
        for caller in ("TASKS", "AGENT", "EDGE"):
            env.setdefault(f"{caller}_GRPC_LOAD_BALANCING", "round_robin")
        for variable, backend in (
            ("JWT_AUTH_ADDRESS", "auth"),
            ("EDGE_TASKS_ADDRESS", "tasks"),
            ("AGENT_TASKS_ADDRESS", "tasks"),
            ("EDGE_AGENT_ADDRESS", "agent"),
        ):
            env.setdefault(variable, self.target(backend))
        env.pop("EDGE_AUTH_ADDRESS", None)  # the edge takes JWT_AUTH_ADDRESS: one address
        # Every tasks replica must sign page tokens with the same key.
        env.setdefault("TASKS_PAGE_TOKEN_SECRET", secrets.token_urlsafe(32))
        env.setdefault("EDGE_REDIS_URL", f"redis://127.0.0.1:{self.redis_port}/0")
        env.setdefault("EDGE_READINESS_BACKENDS", "auth,tasks,agent")
        balancer = self.service("balancer")
        env.setdefault("EDGE_CORS_ORIGINS", f"http://localhost:{balancer.port},{balancer.url}")
        env["BALANCER_BIND"] = f"127.0.0.1:{balancer.port}"  # read by haproxy.cfg
        return env

    def haproxy_backend(self) -> str:
        """HAProxy's `backend edges`: every edge replica (beside the shared configuration)."""
        servers = [f"    server {s.label} 127.0.0.1:{s.port} check" for s in self.replicas("edge")]
        return "\n".join(["backend edges", *servers, ""])


def environment_of(service: Service, env: Mapping[str, str]) -> dict[str, str]:
    """The environment of one replica: the stack's, with its own port."""
    if service.argv:
        return dict(env)
    return {**env, f"{service.name.upper()}_PORT": str(service.port)}


async def create_database(url: str) -> None:
    """Creates the database `url` names on its PostgreSQL server when it does not exist."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit(f"{REPLICAS_DATABASE_VARIABLE} must name a PostgreSQL database")
    try:
        connection = await asyncpg.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            database="postgres",
            timeout=5,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(
            f"cannot reach PostgreSQL at {parsed.host}:{parsed.port or 5432} ({exc}); start one "
            f"or set {REPLICAS_DATABASE_VARIABLE}=postgresql+asyncpg://user@host:port/database"
        ) from None
    try:
        name = parsed.database or "todo_replicas"
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            print(f"creating database {name}…", flush=True)
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def write_processes_file(
    stack: ReplicaStack, processes: Mapping[str, asyncio.subprocess.Process]
) -> None:
    """processes.json: label → pid, port and kind of each running process (atomically)."""
    listing = {
        label: {"pid": p.pid, "port": stack.service(label).port, "kind": stack.service(label).kind}
        for label, p in processes.items()
        if p.returncode is None and label in {s.label for s in stack.services}
    }
    temporary = stack.processes_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(listing, indent=2) + "\n")
    temporary.replace(stack.processes_file)


async def supervise(
    stack: ReplicaStack,
    env: Mapping[str, str],
    stop: asyncio.Event,
    processes: dict[str, asyncio.subprocess.Process],
) -> None:
    """Starts again, on its port, every service that exits before Ctrl-C (as an orchestrator
    restarts a crashed or drained pod), until Ctrl-C."""

    async def keep(service: Service) -> None:
        while not stop.is_set():
            process = processes[service.label]
            waiter = asyncio.ensure_future(process.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if stop.is_set():
                return
            write_processes_file(stack, processes)
            print(f"{service.label} exited ({process.returncode}); starting it again", flush=True)
            await asyncio.sleep(RESTART_DELAY_SECONDS)
            processes[service.label] = await spawn(stack, service, environment_of(service, env))
            try:
                await wait_healthy(
                    service, processes[service.label], stack.shown(stack.log(service)), stop
                )
            except RuntimeError as exc:
                print(f"{exc}; trying again", flush=True)
                continue
            write_processes_file(stack, processes)
            print(f"{service.label} is serving again", flush=True)

    await asyncio.gather(*(keep(stack.service(label)) for label in list(processes)))


async def run_replicas(stack: ReplicaStack) -> int:
    """`make run-replicas`: database, Redis, migrations, every replica, HAProxy; restarts a
    replica that exits; Ctrl-C stops everything (HAProxy and the edges first)."""
    stack.logs.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    base = stack.child_environment(os.environ)
    await create_database(stack.database_url)
    (stack.data / "haproxy-edges.cfg").write_text(stack.haproxy_backend())
    helpers: dict[str, asyncio.subprocess.Process] = {}
    processes: dict[str, asyncio.subprocess.Process] = {}
    redis = stack.redis
    try:
        if await is_healthy(redis):
            print(f"using the Redis already answering on 127.0.0.1:{redis.port}", flush=True)
        else:
            print(f"starting redis on 127.0.0.1:{redis.port}…", flush=True)
            helpers["redis"] = await spawn(stack, redis, base)
            await wait_healthy(redis, helpers["redis"], stack.shown(stack.log(redis)), stop)
        for name in ("auth", "tasks", "edge"):
            if not stop.is_set():
                print(f"migrating {name}…", flush=True)
                await migrate(stack.replicas(name)[0], base, stop)
        # Tier by tier (each needs the one before); the replicas of a tier start together.
        for tier in ("auth", "tasks", "agent", "edge", "balancer"):
            replicas = stack.replicas(tier)
            for service in replicas:
                if not stop.is_set():
                    print(f"starting {service.label}…", flush=True)
                    processes[service.label] = await spawn(
                        stack, service, environment_of(service, base)
                    )
            await asyncio.gather(
                *(
                    wait_healthy(s, processes[s.label], stack.shown(stack.log(s)), stop)
                    for s in replicas
                    if s.label in processes
                )
            )
    except RuntimeError as exc:
        report_start_failure(stack, exc, processes)
        await stop_all(processes)
        await stop_all(helpers)
        return 1
    if not stop.is_set():
        write_processes_file(stack, processes)
        print_running(stack, stack.services)
        print(f"Processes and pids: {stack.shown(stack.processes_file)}\n", flush=True)
        await supervise(stack, base, stop, processes)
    print("stopping…")
    stack.processes_file.unlink(missing_ok=True)
    await stop_all(processes)
    await stop_all(helpers)
    print("stopped.")
    return 0


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
    commands.add_parser("replicas", help="start the replicated stack (PostgreSQL, Redis, HAProxy)")
    token_command = commands.add_parser("token", help="print a dev access token (last line)")
    token_command.add_argument("--email", required=True, help="the user's email address")
    args = parser.parse_args()
    if args.command == "replicas":
        return asyncio.run(run_replicas(ReplicaStack.replicas_from_environment(os.environ)))
    stack = DevStack.from_environment(os.environ)
    if args.command == "token":
        token(stack, args.email)
    return asyncio.run(run(stack))


if __name__ == "__main__":
    sys.exit(main())
