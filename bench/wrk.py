"""Runs Debian's `wrk` (a C HTTP load generator) with a Lua script and parses its result.

Every script ends with `DONE_HOOK`, which makes wrk print one `BENCH_JSON {...}` line with
the request count, duration, error counts and its own latency percentiles (50, 95, 99).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "This benchmark needs wrk (a C HTTP load generator). Install it with:\n"
    "    sudo apt-get install -y wrk        # Debian/Ubuntu\n"
    "    brew install wrk                   # macOS"
)

DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""

HEADER = (
    "| call | connections | RPS | p50 ms | p99 ms | errors (non-2xx + socket) |\n"
    "|---|---:|---:|---:|---:|---:|"
)


@dataclass
class WrkResult:
    """What one wrk run reported."""

    name: str
    concurrency: int
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def row(self) -> str:
        """name | connections | RPS | p50 | p99 | errors (non-2xx + socket)."""
        return (
            f"| {self.name} | {self.concurrency} | {self.rps:,.0f} | {self.p50_ms:.2f} | "
            f"{self.p99_ms:.2f} | {self.errors} ({self.non_2xx} + {self.socket_errors}) |"
        )


def require_wrk() -> str:
    """The wrk binary, or exit saying how to install it."""
    found = shutil.which("wrk")
    if found is None:
        sys.exit(INSTALL_HINT)
    return found


async def run_wrk(
    wrk: str, url: str, script: Path, name: str, connections: int, seconds: float
) -> WrkResult:
    """Runs wrk once (1 thread at one connection, else 2) and parses its BENCH_JSON line."""
    threads = 1 if connections == 1 else 2
    process = await asyncio.create_subprocess_exec(
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    text = out.decode()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()}{text}")
    line = next((line for line in text.splitlines() if line.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{text}\n{err.decode()}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkResult(
        name=name,
        concurrency=connections,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non_2xx=data["status"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
    )
