"""What `make run-replicas` derives from its overrides, checked without starting anything: every
client dials one round_robin target listing every replica, tasks replicas share one page-token
key, the edges share Redis, ports never collide, and HAProxy is set up for streaming; and
HAProxy itself (the real one, against a stand-in edge that dies mid-request) answers a write
it cannot retry with a 503 problem, not its HTML 502. (The stack itself, under load, is in
test_replicas.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from todo_edge.settings import EdgeSettings
from todo_tasks.settings import TasksSettings
from todo_testkit.ports import free_ports
from todo_testkit.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_dev", ROOT / "scripts" / "run_dev.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_dev"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


OVERRIDES = {
    "AUTH_PORT": "41001",
    "TASKS_PORTS": "41002,41003",
    "AGENT_PORTS": "41004,41005",
    "EDGE_PORTS": "41006,41007",
    "EDGE_PORT": "41000",
    "REDIS_PORT": "41008",
}


def test_clients_dial_every_replica_with_round_robin(run_dev: ModuleType) -> None:
    stack = run_dev.ReplicaStack.replicas_from_environment(OVERRIDES)
    env = stack.child_environment({})
    assert env["JWT_AUTH_ADDRESS"] == "ipv4:127.0.0.1:41001"
    assert env["EDGE_TASKS_ADDRESS"] == env["AGENT_TASKS_ADDRESS"]
    assert env["EDGE_TASKS_ADDRESS"] == "ipv4:127.0.0.1:41002,127.0.0.1:41003"
    assert env["EDGE_AGENT_ADDRESS"] == "ipv4:127.0.0.1:41004,127.0.0.1:41005"
    for caller in ("TASKS", "AGENT", "EDGE"):
        assert env[f"{caller}_GRPC_LOAD_BALANCING"] == "round_robin"
    assert env["EDGE_REDIS_URL"] == "redis://127.0.0.1:41008/0"
    # Each replica's own port; the settings load as the processes will load them.
    edges = stack.replicas("edge")
    assert [e.label for e in edges] == ["edge-1", "edge-2"]
    edge_env = run_dev.environment_of(edges[1], env)
    assert edge_env["EDGE_PORT"] == "41007"


def test_every_tasks_replica_signs_page_tokens_with_one_key(
    run_dev: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = run_dev.ReplicaStack.replicas_from_environment(OVERRIDES)
    env = stack.child_environment({})
    keys = set()
    for replica in stack.replicas("tasks"):
        with monkeypatch.context() as patch:
            for variable, value in run_dev.environment_of(replica, env).items():
                patch.setenv(variable, value)
            keys.add(TasksSettings().page_token_key)
    assert len(keys) == 1


def test_the_edges_load_their_settings(
    run_dev: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = run_dev.ReplicaStack.replicas_from_environment(OVERRIDES)
    env = run_dev.environment_of(stack.replicas("edge")[0], stack.child_environment({}))
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    settings = EdgeSettings()
    assert settings.auth_address == "ipv4:127.0.0.1:41001"
    assert settings.readiness_backends == ["auth", "tasks", "agent"]
    assert settings.port == 41006


HAPROXY = Path("/usr/sbin/haproxy")
HAPROXY_DIR = ROOT / "docker" / "haproxy"


def _haproxy_accepts(*files: Path, bind: str) -> None:
    """`haproxy -c` (check only) accepts the configuration made of `files`."""
    if not HAPROXY.exists():
        return
    argv = [str(HAPROXY), "-c"] + [arg for f in files for arg in ("-f", str(f))]
    checked = subprocess.run(
        argv, capture_output=True, text=True, env={"BALANCER_BIND": bind}, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_haproxy_streams_and_checks_readiness(run_dev: ModuleType, tmp_path: Path) -> None:
    stack = run_dev.ReplicaStack.replicas_from_environment(OVERRIDES)
    shared = (HAPROXY_DIR / "haproxy.cfg").read_text()
    assert "option httpchk GET /readyz" in shared
    assert "compression" not in shared and "http-no-delay" in shared  # responses stream
    assert "timeout server 180s" in shared  # longer than the longest reply (120 s)
    assert stack.child_environment({})["BALANCER_BIND"] == "127.0.0.1:41000"
    backend = stack.haproxy_backend()
    assert "server edge-1 127.0.0.1:41006 check" in backend
    assert "server edge-2 127.0.0.1:41007 check" in backend
    local = tmp_path / "haproxy-edges.cfg"
    local.write_text(backend)
    _haproxy_accepts(HAPROXY_DIR / "haproxy.cfg", local, bind="127.0.0.1:41000")
    _haproxy_accepts(HAPROXY_DIR / "haproxy.cfg", HAPROXY_DIR / "compose.cfg", bind=":8000")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"TASKS_PORTS": "41002,41002"}, "cannot share a port"),
        ({"EDGE_PORT": "41006"}, "cannot share a port"),
        ({"AGENT_PORTS": "41004,x"}, "AGENT_PORTS"),
        ({"AUTH_PORT": "41001,41009"}, "auth runs once"),
    ],
)
def test_bad_overrides_stop_with_a_clear_message(
    run_dev: ModuleType, override: dict[str, str], message: str
) -> None:
    with pytest.raises(SystemExit, match=message):
        run_dev.ReplicaStack.replicas_from_environment({**OVERRIDES, **override})


def test_haproxy_error_files_are_problems() -> None:
    """HAProxy sends errors/*.http verbatim: each must be a whole HTTP response (its
    Content-Length right) with a problem+json body of the status it declares."""
    expected = {"502.http": 503, "503.http": 503, "504.http": 504}
    assert sorted(p.name for p in (HAPROXY_DIR / "errors").iterdir()) == sorted(expected)
    shared = (HAPROXY_DIR / "haproxy.cfg").read_text()
    for name, status in expected.items():
        assert f"errorfile {name[:3]} errors/{name}" in shared
        head, _, body = (HAPROXY_DIR / "errors" / name).read_bytes().partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0].startswith(f"HTTP/1.1 {status} ")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        assert headers["content-type"] == "application/problem+json"
        assert int(headers["content-length"]) == len(body)
        problem = json.loads(body)
        assert problem["status"] == status and problem["detail"]
        assert problem["type"].startswith("urn:todo-assistant:problem:")


@dataclass
class StandInEdge:
    """A stand-in edge behind the real HAProxy: healthy for HAProxy's /readyz checks, and
    answering (or not) every other request as `answer` says; `requests` lists the request
    lines it was sent, health checks aside."""

    answer: Callable[[int], bytes | None]
    requests: list[bytes] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: request after request, until it is closed, by either side."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            for number_on_connection in itertools.count(1):
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        await reader.readexactly(int(value))
                request_line = head.split(b"\r\n", 1)[0]
                if request_line.startswith(b"GET /readyz "):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                self.requests.append(request_line)
                response = self.answer(number_on_connection)
                if response is None:
                    break
                writer.write(response)
                await writer.drain()
        writer.close()


def _dies_mid_request(_: int) -> None:
    """Gone (the connection closed, no answer) for every request, as an edge killed while
    handling it."""
    return None


def _answers_once_per_connection(number_on_connection: int) -> bytes | None:
    """Answers the first request of a connection and keeps the connection open, then closes
    it without an answer when another request comes on it: an edge closing a kept-alive
    connection just as the next request arrives (its idle timeout, a SIGTERM, a kill)."""
    if number_on_connection > 1:
        return None
    return b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


@contextlib.asynccontextmanager
async def _haproxy_before(edge: StandInEdge, tmp_path: Path) -> AsyncIterator[str]:
    """The shared HAProxy configuration in front of one stand-in edge; yields HAProxy's URL
    once it has found the edge healthy."""
    if not HAPROXY.exists():
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    balancer, edge_port = free_ports(2)
    server = await asyncio.start_server(edge.serve, "127.0.0.1", edge_port)
    backend = tmp_path / "haproxy-edges.cfg"
    backend.write_text(f"backend edges\n    server edge-1 127.0.0.1:{edge_port} check\n")
    process = await asyncio.create_subprocess_exec(
        str(HAPROXY),
        "-db",
        "-f",
        str(HAPROXY_DIR / "haproxy.cfg"),
        "-f",
        str(backend),
        env={**os.environ, "BALANCER_BIND": f"127.0.0.1:{balancer}"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{balancer}"
    try:
        async with httpx.AsyncClient(base_url=url) as http:

            async def edge_in_rotation() -> bool:
                assert process.returncode is None, "haproxy exited"
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(edge_in_rotation, within=30, what="HAProxy to find the edge healthy")
        yield url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await process.wait()
        server.close()
        await server.wait_closed()


async def test_a_write_cut_by_a_dying_edge_is_a_503_problem(tmp_path: Path) -> None:
    """The first request of a client connection, cut by the edge: a 503 problem, not HAProxy's
    HTML 502."""
    edge = StandInEdge(_dies_mid_request)
    async with _haproxy_before(edge, tmp_path) as url, httpx.AsyncClient(base_url=url) as http:
        # A write without Idempotency-Key is never retried (it may have happened).
        response = await http.post("/api/tasks", json={"title": "buy milk"})
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        problem = response.json()
        assert problem["type"] == "urn:todo-assistant:problem:edge-unavailable"
        assert "may or may not have been carried out" in problem["detail"]
    assert edge.requests == [b"POST /api/tasks HTTP/1.1"]


async def test_a_write_cut_on_a_kept_alive_connection_is_closed_unanswered_and_sent_once(
    tmp_path: Path,
) -> None:
    """The same cut on a client connection that already carried a request: HAProxy 2.6 closes
    the client's connection without an answer (http_ana.c `abort_keep_alive`, by design: "the
    client is required to retry"), which says what the 503 says, "may or may not have
    happened". What matters holds either way: the write was sent to an edge once, never
    repeated. (Why the kill -9 proof accepts either answer for a write without a key.)"""
    edge = StandInEdge(_dies_mid_request)
    async with _haproxy_before(edge, tmp_path) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/readyz")).status_code == 200  # the connection is kept alive
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/api/tasks", json={"title": "buy milk"})
    assert edge.requests == [b"POST /api/tasks HTTP/1.1"]


async def test_no_request_is_sent_on_a_connection_the_edge_may_be_closing(
    tmp_path: Path,
) -> None:
    """Every request goes to the edge on a new connection (`option http-server-close`): an
    edge that closes a kept-alive connection as the next request arrives costs nothing, even
    for writes HAProxy may not retry. Kept-alive edge connections were the cause of the
    writes and chat turns closed without an answer after an edge kill (bench/README.md)."""
    edge = StandInEdge(_answers_once_per_connection)
    async with _haproxy_before(edge, tmp_path) as url, httpx.AsyncClient(base_url=url) as http:
        for n in range(5):
            response = await http.post("/api/tasks", json={"title": f"task {n}"})
            assert response.status_code == 201, response.text
    assert edge.requests == [b"POST /api/tasks HTTP/1.1"] * 5
