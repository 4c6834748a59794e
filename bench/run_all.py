"""Runs every benchmark in turn (`make bench`); each prints Markdown for bench/README.md."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    "bench.backends_grpc",
    "bench.edge_http",
    "bench.rest_compare",
    "bench.agent_grpc",
    "bench.chatkit_sse",
    "bench.chat_load",
]

if __name__ == "__main__":
    for module in BENCHMARKS:
        print(f"\n## {module}\n", flush=True)
        subprocess.run([sys.executable, "-m", module, *sys.argv[1:]], check=True)
