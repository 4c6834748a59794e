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

    uv run python -m bench.rest_compare [--seconds 6]

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
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
from todo.tasks.v1 import tasks_service_pb2_grpc as tasks_grpc
from todo_testkit.ports import free_port
from todo_testkit.waiting import eventually

from bench.backends_grpc import read_calls
from bench.edge_http import prepare, write_script
from bench.load import HEADER, run_load
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


async def main(seconds: float) -> None:
    wrk = require_wrk()
    async with backend_stack("auth", "tasks", "edge") as stack:
        edge_url = stack["edge"].url
        token, ids = await prepare(edge_url)
        async with httpx.AsyncClient(timeout=10) as http:
            jwks = (await http.get(f"{edge_url}/.well-known/jwks.json")).text
        monolith, monolith_url = await start_monolith(
            {
                "MONOLITH_DATABASE_URL": stack.env["TASKS_DATABASE_URL"],
                "MONOLITH_SCHEMA": stack.env["TASKS_DATABASE_SCHEMA"],
                "MONOLITH_JWKS": json.dumps(json.loads(jwks)),
                "JWT_ISSUER": stack.env["JWT_ISSUER"],
                "JWT_AUDIENCE": stack.env["JWT_AUDIENCE"],
            }
        )
        folder = Path(tempfile.mkdtemp(prefix="bench-compare-"))
        try:
            await same_answers(edge_url, monolith_url, token, ids[0])
            scripts = {mode: write_script(folder, mode, token, ids) for mode, _ in CALLS}
            ours_pids = [stack[name].process.pid for name in ("edge", "tasks", "auth")]
            rows: list[tuple[str, int, Row, Row]] = []
            for mode, name in CALLS:
                for connections in CONNECTIONS:
                    ours = await measure(
                        wrk, edge_url, scripts[mode], name, connections, seconds, ours_pids
                    )
                    theirs = await measure(
                        wrk, monolith_url, scripts[mode], name, connections, seconds, [monolith.pid]
                    )
                    rows.append((name, connections, ours, theirs))
        finally:
            monolith.terminate()
            await monolith.wait()
            shutil.rmtree(folder, ignore_errors=True)

        channel = grpc.aio.insecure_channel(stack["tasks"].address)
        get_task, list_tasks = read_calls(tasks_grpc.TaskServiceStub(channel), token, ids)
        grpc_rows = [
            await run_load("GetTask", get_task, concurrency=16, seconds=seconds),
            await run_load("ListTasks(50)", list_tasks, concurrency=1, seconds=seconds),
        ]
        await channel.close()

    print(
        f"### REST reads: edge → tasks (gRPC) → PostgreSQL against the monolith, wrk, "
        f"{seconds:.0f} s per row\n"
    )
    print(
        "| call | connections | edge RPS | monolith RPS | RPS ratio | edge p50 ms | "
        "monolith p50 ms | p50 ratio | edge CPU ms/req | monolith CPU ms/req | CPU ratio | "
        "errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, connections, ours, theirs in rows:
        a, b = ours.result, theirs.result
        print(
            f"| {name} | {connections} | {a.rps:,.0f} | {b.rps:,.0f} | {a.rps / b.rps:.2f} | "
            f"{a.p50_ms:.2f} | {b.p50_ms:.2f} | {a.p50_ms / b.p50_ms:.2f} | "
            f"{ours.cpu_ms_per_request:.2f} | {theirs.cpu_ms_per_request:.2f} | "
            f"{ours.cpu_ms_per_request / theirs.cpu_ms_per_request:.2f} | {a.errors} / {b.errors} |"
        )
    print(f"\n### Tasks service over gRPC (PostgreSQL), {seconds:.0f} s per row\n")
    print(HEADER)
    for loaded in grpc_rows:
        print(loaded.row())
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


def parse_seconds() -> float:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each row")
    return float(parser.parse_args().seconds)


if __name__ == "__main__":
    asyncio.run(main(parse_seconds()))
