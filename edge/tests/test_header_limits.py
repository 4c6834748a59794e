"""Oversized request headers are refused (431) before they are buffered whole: checked against
a real `todo-edge serve` process over raw sockets, with its memory watched."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from todo_testkit.edge import assert_problem
from todo_testkit.processes import ServiceProcess
from todo_testkit.stack import running_stack

KIB = 1024
MIB = 1024 * KIB


@pytest.fixture(scope="module")
async def edge_process(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServiceProcess]:
    """A real edge process (in front of a real auth process) on free ports."""
    folder = tmp_path_factory.mktemp("header-limits")
    async with running_stack("auth", "edge", folder=folder) as stack:
        yield stack["edge"]


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KIB
    raise AssertionError("no VmRSS")


async def _send_huge_header(port: int, size: int) -> bytes:
    """Sends a GET whose Authorization header is `size` bytes, 1 MiB at a time, stopping when
    the server closes; returns what the server answered (possibly nothing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""
    try:
        writer.write(b"GET /api/tasks HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer ")
        chunk = b"a" * MIB
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < size:
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
                if reader.at_eof() or writer.is_closing():
                    break
            writer.write(b"\r\n\r\n")
            await writer.drain()
        with contextlib.suppress(ConnectionError, TimeoutError):
            answer = await asyncio.wait_for(reader.read(64 * KIB), 30)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answer


async def test_one_header_over_16_kib_is_431(edge_process: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=edge_process.url, timeout=15) as http:
        response = await http.get("/api/tasks", headers={"X-Padding": "p" * (20 * KIB)})
        body = assert_problem(response, 431, "HEADERS_TOO_LARGE")
        assert body["header"] == "x-padding"
        assert "x-content-type-options" in response.headers
        # The same connection pool keeps working for a sane request.
        assert_problem(await http.get("/api/tasks"), 401)


async def test_headers_over_64_kib_in_all_are_431(edge_process: ServiceProcess) -> None:
    headers = {f"X-Padding-{n}": "p" * (12 * KIB) for n in range(8)}
    async with httpx.AsyncClient(base_url=edge_process.url, timeout=15) as http:
        response = await http.get("/api/tasks", headers=headers)
    assert_problem(response, 431, "HEADERS_TOO_LARGE")


async def test_a_huge_authorization_header_is_refused_with_memory_bounded(
    edge_process: ServiceProcess,
) -> None:
    pid = edge_process.process.pid
    before = _rss_bytes(pid)
    answers = await asyncio.gather(
        *(_send_huge_header(edge_process.port, 32 * MIB) for _ in range(4))
    )
    after = _rss_bytes(pid)
    for answer in answers:
        # Either the 431 arrived, or the close reset the connection before the client read it
        # (the server stops reading at the limit; the client was still sending).
        if answer:
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 431 "), head[:200]
            assert b"application/problem+json" in head
            assert json.loads(body)["status"] == 431
    # A loose sanity bound, not a measurement: four 32 MiB headers used to add hundreds of MiB.
    assert after - before < 48 * MIB, (before // MIB, after // MIB)
    # And the edge still serves.
    async with httpx.AsyncClient(base_url=edge_process.url, timeout=15) as http:
        assert (await http.get("/healthz")).status_code == 200
