"""Issue 11 benchmark: our REST reads (edge → gRPC tasks → PostgreSQL) side by side with a
monolith (`bench/monolith.py`: one FastAPI process, SQLAlchemy async + asyncpg, an EdDSA JWT
verified per request), in one run, on the same rows.

The real stack (todo-auth, todo-tasks, todo-edge) is started by `bench/stack.py` on fresh
PostgreSQL schemas; one user and 60 tasks are made through the edge; the monolith is then
started on the tasks service's schema (the same table, rows and indexes) with the auth
service's public keys. `wrk` drives GET /api/tasks/{id} and GET /api/tasks (the default page
of 50) on both at 1 and 32 connections, edge and monolith rows back to back so they see the
same machine load. CPU-seconds of the server processes are read from /proc around each row.
Then the tasks service alone over gRPC: GetTask at concurrency 16, ListTasks(50) at 1.

    uv run python -m bench.rest_compare [--seconds 6] [--baseline DIR]

`--baseline DIR` starts a second stack of ours whose processes import the edge, tasks, auth and
`todo_common` from the checkout DIR (e.g. `git archive` of main), seeded the same way; every
row is then run for the baseline, the monolith, this checkout and the monolith again, so
before and after come from one run under the same load.

Prints Markdown for bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
from todo.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc
from todo_testkit.ports import free_port
from todo_testkit.stack import Stack
from todo_testkit.waiting import eventually

from bench.backends_grpc import read_calls
from bench.edge_http import prepare, write_script
from bench.load import LoadResult, run_load
from bench.stack import LOG_DIR, RATE_LIMIT_NOTE, backend_stack
from bench.wrk import WrkResult, require_wrk, run_wrk

CONNECTIONS = (1, 32)
WARMUP_SECONDS = 1
CALLS = (("get", "GET /api/tasks/{id}"), ("list", "GET /api/tasks (50)"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            # Fields after the command name (which may hold spaces) start at the state, field 3.
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


@dataclass
class Row:
    """One wrk run and the CPU the servers spent on it."""

    result: WrkResult
    cpu_seconds: float

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.result.requests if self.result.requests else 0.0


async def measure(
    wrk: str, url: str, script: Path, name: str, connections: int, seconds: float, pids: list[int]
) -> Row:
    await run_wrk(wrk, url, script, name, connections, WARMUP_SECONDS)
    before = cpu_seconds(pids)
    result = await run_wrk(wrk, url, script, name, connections, seconds)
    return Row(result, cpu_seconds(pids) - before)


async def start_monolith(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    """`python -m bench.monolith` on a free port; returns it once /healthz answers."""
    port = free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "monolith.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.monolith",
            "--port",
            str(port),
            env={**os.environ, **env},
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"

    async def answers() -> bool:
        assert process.returncode is None, "the monolith exited; see bench/logs/monolith.log"
        async with httpx.AsyncClient(timeout=2) as http:
            try:
                return (await http.get(f"{url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

    await eventually(answers, within=60, what="the monolith answering /healthz")
    return process, url


async def same_answers(edge_url: str, monolith_url: str, token: str, task_id: str) -> None:
    """Both answer the same task and the same page, field for field, to the same token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        for path in (f"/api/tasks/{task_id}", "/api/tasks?page_size=50"):
            ours = await http.get(f"{edge_url}{path}")
            theirs = await http.get(f"{monolith_url}{path}")
            assert ours.status_code == theirs.status_code == 200, (ours.text, theirs.text)
            a, b = ours.json(), theirs.json()
            # The same tasks in the same JSON (the page tokens differ in form, not in presence).
            assert a.get("tasks", [a]) == b.get("tasks", [b]), (a, b)
    async with httpx.AsyncClient(timeout=10) as anonymous:
        refused = await anonymous.get(f"{monolith_url}/api/tasks/{task_id}")
        assert refused.status_code == 401, "the monolith must verify the token"


@dataclass
class Edge:
    """One running stack of ours: its URL, its user's token and tasks, its server pids."""

    url: str
    token: str
    ids: list[str]
    pids: list[int]
    tasks_address: str
    scripts: dict[str, Path]


async def seeded_edge(stack: Stack, folder: Path) -> Edge:
    url = stack["edge"].url
    token, ids = await prepare(url)
    own = folder / url.rsplit(":", 1)[1]  # one folder of scripts per stack (by its port)
    own.mkdir()
    scripts = {mode: write_script(own, mode, token, ids) for mode, _ in CALLS}
    pids = [stack[name].process.pid for name in ("edge", "tasks", "auth")]
    return Edge(url, token, ids, pids, stack["tasks"].address, scripts)


def baseline_env(baseline: str | None) -> dict[str, str] | None:
    """PYTHONPATH that makes every process import our packages from the checkout `baseline`."""
    if baseline is None:
        return None
    source = os.path.abspath(baseline)
    paths = [
        f"{source}/{folder}/src"
        for folder in ("edge", "services/tasks", "services/auth", "libs/common")
    ]
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if os.path.isdir(p))}


async def main(seconds: float, baseline: str | None) -> None:
    wrk = require_wrk()
    folder = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    async with AsyncExitStack() as running:
        edges: dict[str, Edge] = {}
        if baseline is not None:
            base = await running.enter_async_context(
                backend_stack("auth", "tasks", "edge", extra_env=baseline_env(baseline))
            )
            edges["baseline"] = await seeded_edge(base, folder)
        stack = await running.enter_async_context(backend_stack("auth", "tasks", "edge"))
        edges["this"] = this = await seeded_edge(stack, folder)
        async with httpx.AsyncClient(timeout=10) as http:
            jwks = (await http.get(f"{this.url}/.well-known/jwks.json")).text
        monolith, monolith_url = await start_monolith(
            {
                "MONOLITH_DATABASE_URL": stack.env["TASKS_DATABASE_URL"],
                "MONOLITH_SCHEMA": stack.env["TASKS_DATABASE_SCHEMA"],
                "MONOLITH_JWKS": json.dumps(json.loads(jwks)),
                "JWT_ISSUER": stack.env["JWT_ISSUER"],
                "JWT_AUDIENCE": stack.env["JWT_AUDIENCE"],
            }
        )
        rows: list[tuple[str, int, str, Row, Row]] = []
        try:
            await same_answers(this.url, monolith_url, this.token, this.ids[0])
            for mode, name in CALLS:
                for connections in CONNECTIONS:
                    # Each of ours right before the monolith's row: same load, side by side.
                    for code, edge in edges.items():
                        ours = await measure(
                            wrk, edge.url, edge.scripts[mode], name, connections, seconds, edge.pids
                        )
                        theirs = await measure(
                            wrk,
                            monolith_url,
                            this.scripts[mode],
                            name,
                            connections,
                            seconds,
                            [monolith.pid],
                        )
                        rows.append((name, connections, code, ours, theirs))
        finally:
            monolith.terminate()
            await monolith.wait()
            shutil.rmtree(folder, ignore_errors=True)

        grpc_rows: list[tuple[str, LoadResult, float]] = []
        for code, edge in edges.items():
            channel = grpc.aio.insecure_channel(edge.tasks_address)
            get_task, list_tasks = read_calls(
                tasks_grpc.TaskServiceStub(channel), edge.token, edge.ids
            )
            tasks_pid = [edge.pids[1]]
            for label, call, concurrency in (
                ("GetTask", get_task, 16),
                ("ListTasks(50)", list_tasks, 1),
            ):
                before = cpu_seconds(tasks_pid)
                loaded = await run_load(label, call, concurrency=concurrency, seconds=seconds)
                cpu_ms = 1000 * (cpu_seconds(tasks_pid) - before) / max(1, loaded.calls)
                grpc_rows.append((code, loaded, cpu_ms))
            await channel.close()

    print(
        f"### REST reads: edge → tasks (gRPC) → PostgreSQL against the monolith, wrk, "
        f"{seconds:.0f} s per row\n"
    )
    if baseline is not None:
        print(
            f"*code*: `baseline` = every process of ours importing from {baseline}, `this` = "
            "this checkout; each row of ours is followed by a monolith row, so every ratio "
            "compares two runs made back to back.\n"
        )
    print(
        "| call | connections | code | edge RPS | monolith RPS | RPS ratio | edge p50 ms | "
        "monolith p50 ms | p50 ratio | edge CPU ms/req | monolith CPU ms/req | CPU ratio | "
        "errors |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, connections, code, ours, theirs in rows:
        a, b = ours.result, theirs.result
        print(
            f"| {name} | {connections} | {code} | {a.rps:,.0f} | {b.rps:,.0f} | "
            f"{a.rps / b.rps:.2f} | {a.p50_ms:.2f} | {b.p50_ms:.2f} | {a.p50_ms / b.p50_ms:.2f} | "
            f"{ours.cpu_ms_per_request:.2f} | {theirs.cpu_ms_per_request:.2f} | "
            f"{ours.cpu_ms_per_request / theirs.cpu_ms_per_request:.2f} | {a.errors} / {b.errors} |"
        )
    print(f"\n### Tasks service over gRPC (PostgreSQL), {seconds:.0f} s per row\n")
    print("| call | concurrency | code | RPS | p50 ms | p99 ms | errors | tasks CPU ms/call |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for code, loaded, cpu_ms in grpc_rows:
        print(
            f"| {loaded.name} | {loaded.concurrency} | {code} | {loaded.rps:,.0f} | "
            f"{loaded.percentile(50):.2f} | {loaded.percentile(99):.2f} | {loaded.errors} | "
            f"{cpu_ms:.3f} |"
        )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    notes = [
        RATE_LIMIT_NOTE,
        "Edge CPU counts the edge, tasks and auth processes; the monolith is one process. "
        "PostgreSQL's CPU is in neither. On a loaded machine the CPU per request is the "
        "steadier comparison: three processes get more of a contended CPU than one, which "
        "flatters our RPS and p50 against the monolith's.",
        f"wrk: keep-alive, 1 thread at 1 connection and 2 otherwise, a {WARMUP_SECONDS} s "
        "unmeasured run before each row. Errors: non-2xx + socket errors, edge / monolith.",
        "Servers, PostgreSQL, wrk and the Python gRPC client share this machine's "
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}); load average at the end {load}.",
    ]
    print(
        "\nTargets: p50 ratio ≤ 1.3 at 1 connection; RPS ratio ≥ 1.5 at 32; GetTask ≥ 1,500 RPS "
        "at 16; ListTasks(50) p50 ≤ 3 ms.\n"
    )
    print("\n".join(f"- {note}" for note in notes))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each row")
    parser.add_argument(
        "--baseline", default=None, help="a checkout (e.g. an export of main) to run beside"
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    asyncio.run(main(arguments.seconds, arguments.baseline))
