"""Proofs on the replicated stack (`make run-replicas`'s launcher) under load: the load spreads
over the replicas of each tier, the rate limit holds across edges, `kill -9` of one replica
of each tier costs no REST request, and a rolling restart (SIGTERM each replica in turn)
costs none either while chat streams started just before each SIGTERM finish.

Run with `make test-replicas` (they are left out of `make test`: the stack alone takes a
minute or more to start on a small machine). Durations are printed, not asserted; the
recorded numbers are in bench/README.md ("Replicated run").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from todo_testkit.chatkit import ChatClient, Stream, user_message
from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.ports import free_ports
from todo_testkit.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# A ceiling for seven processes starting on a busy 2-core machine, not a wait.
STARTUP_SECONDS = 300.0
# The rate limit the cross-edge proof counts against (sign-ins per account per window).
SIGN_INS_PER_ACCOUNT = 6
REPLICATED = ("tasks", "agent", "edge")


async def _server_answers(url: str) -> bool:
    parsed = make_url(url)
    try:
        connection = await asyncpg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            database=parsed.database,
            timeout=3,
        )
    except (OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


@dataclass
class Replicas:
    """The running replicated stack."""

    url: str
    data: Path
    launcher: asyncio.subprocess.Process
    ports: dict[str, int] = field(default_factory=dict)

    def processes(self) -> dict[str, dict[str, Any]]:
        """processes.json: label → pid, port, kind (only processes that are running)."""
        try:
            listing: dict[str, dict[str, Any]] = json.loads(
                (self.data / "processes.json").read_text()
            )
        except (OSError, ValueError):
            return {}
        return listing

    def labels(self, name: str) -> list[str]:
        """The replicas of one tier (`tasks-1`, `tasks-2`)."""
        return sorted(label for label in self.processes() if label.rsplit("-", 1)[0] == name)

    def log_counts(self, message: str) -> Counter[str]:
        """How many log lines with `msg` == message each process has written so far."""
        counts: Counter[str] = Counter()
        for path in (self.data / "logs").glob("*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if f'"msg": "{message}"' in line or f'"msg":"{message}"' in line:
                    counts[path.stem] += not self._is_health_check(line)
        return counts

    @staticmethod
    def _is_health_check(text: str) -> bool:
        # HAProxy's GET /readyz, the launcher's probes and the edges' readiness calls are not load.
        return any(probe in text for probe in ("/readyz", "/healthz", "grpc.health"))

    async def signal(self, label: str, signum: int) -> int:
        """Sends `signum` to one replica; returns the pid it had."""
        pid = int(self.processes()[label]["pid"])
        os.kill(pid, signum)
        return pid

    async def replaced(self, label: str, old_pid: int) -> None:
        """Waits until the launcher has started `label` again and it serves."""

        def serving_again() -> bool:
            entry = self.processes().get(label)
            return bool(entry) and int(entry["pid"]) != old_pid  # listed only once healthy

        await eventually(serving_again, within=STARTUP_SECONDS, what=f"{label} serving again")

    def served(self, label: str, *, since_start: bool = True) -> set[str]:
        """The request ids `label` handled (health checks aside), since its latest start."""
        ids: set[str] = set()
        for line in (self.data / "logs" / f"{label}.log").read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if since_start and entry.get("msg") == "serving":
                ids.clear()
            route = str(entry.get("route", "")) + str(entry.get("method", ""))
            if entry.get("msg") in ("http", "rpc") and not self._is_health_check(route):
                ids.add(str(entry.get("request_id")))
        return ids

    async def rejoined(self, label: str) -> None:
        """Waits until every caller of the restarted `label` uses it again (as Kubernetes'
        minReadySeconds would, but on what happened rather than a clock): the new edge has
        answered a request through HAProxy; a new backend replica has served a call from
        each edge (request ids travel with the calls)."""
        tier = label.rsplit("-", 1)[0]

        def called_by_every_caller() -> bool:
            served = self.served(label)
            assert served, f"the new {label} has served nothing yet"
            if tier != "edge":
                for edge in self.labels("edge"):
                    assert served & self.served(edge, since_start=False), f"{edge} → {label}"
            return True

        await eventually(called_by_every_caller, within=60, what=f"callers using {label} again")

    def edge_url(self, label: str) -> str:
        """One edge replica directly (not through HAProxy)."""
        return f"http://127.0.0.1:{self.processes()[label]['port']}"


def _restartable_ports(count: int) -> list[int]:
    """Free ports below the kernel's ephemeral range (where port-0 binds and outgoing
    connections take theirs), so that while a killed replica restarts on its port no other
    process on a shared machine — another test's server on port 0 — takes it meanwhile (seen:
    the edges then called someone else's gRPC server and got UNIMPLEMENTED)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = random.sample(range(max(1024, low - 12_000), low), k=count * 4)
    chosen: list[int] = []
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
        if len(chosen) == count:
            return chosen
    return free_ports(count)  # a crowded range: the ephemeral ones will have to do


@pytest.fixture(scope="module")
async def replicas(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Replicas]:
    """`scripts/run_dev.py replicas` on free ports; stopped (and its schemas dropped) after."""
    for binary in ("haproxy", "redis-server"):
        if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
            pytest.skip(f"{binary} is not installed (apt-get install {binary})")
    server = os.environ.get("TEST_DATABASE_URL", "").strip() or DEFAULT_SERVER
    if not await _server_answers(server):
        pytest.skip(f"no PostgreSQL answers at {make_url(server).host}:{make_url(server).port}")
    folder = tmp_path_factory.mktemp("replicas")
    databases: dict[str, IsolatedDatabase] = {
        name: new_database(name, folder, url=server) for name in ("auth", "tasks", "edge")
    }
    auth, tasks1, tasks2, agent1, agent2, edge1, edge2, balancer, redis = _restartable_ports(9)
    env = {
        **os.environ,
        "TODO_DATA_DIR": str(folder),
        "REPLICAS_DATABASE_URL": server,
        "AUTH_PORT": str(auth),
        "TASKS_PORTS": f"{tasks1},{tasks2}",
        "AGENT_PORTS": f"{agent1},{agent2}",
        "EDGE_PORTS": f"{edge1},{edge2}",
        "EDGE_PORT": str(balancer),
        "REDIS_PORT": str(redis),
        # A long window, so no window boundary falls inside the rate-limit proof.
        "EDGE_RATE_LIMIT_WINDOW_SECONDS": "3600",
        "EDGE_AUTH_ATTEMPTS_PER_ACCOUNT": str(SIGN_INS_PER_ACCOUNT),
        "EDGE_AUTH_ATTEMPTS_PER_ADDRESS": "100000",
        "EDGE_REQUESTS_PER_USER": "100000",
        "AUTH_SIGN_IN_MAX_FAILURES": "100000",
        **{f"{n.upper()}_DATABASE_SCHEMA": d.schema for n, d in databases.items()},
    }
    output = (folder / "launcher.txt").open("wb")
    launcher = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "scripts" / "run_dev.py"),
        "replicas",
        env=env,
        cwd=ROOT,
        stdout=output,
        stderr=asyncio.subprocess.STDOUT,
    )
    stack = Replicas(url=f"http://127.0.0.1:{balancer}", data=folder, launcher=launcher)
    expected = {"auth", "tasks-1", "tasks-2", "agent-1", "agent-2", "edge-1", "edge-2", "balancer"}

    def started() -> bool:
        assert launcher.returncode is None, (folder / "launcher.txt").read_text()
        return set(stack.processes()) == expected

    try:
        await eventually(started, within=STARTUP_SECONDS, what="every replica serving")
        yield stack
    finally:
        if launcher.returncode is None:
            launcher.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(launcher.wait(), 60)
            except TimeoutError:
                launcher.kill()
                await launcher.wait()
        output.close()
        for database in databases.values():
            await drop_database(database)


@dataclass
class User:
    """A signed-up user and an HTTP client through HAProxy that sends their token."""

    email: str
    password: str
    http: httpx.AsyncClient

    @property
    def chat(self) -> ChatClient:
        return ChatClient(self.http)


@pytest.fixture(scope="module")
async def user(replicas: Replicas) -> AsyncIterator[User]:
    email, password = f"load-{time.time_ns()}@example.com", "correct horse battery staple"
    async with httpx.AsyncClient(base_url=replicas.url, timeout=30) as http:
        response = await http.post("/api/auth/signup", json={"email": email, "password": password})
        assert response.status_code in (200, 201), response.text
        token = response.json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        for n in range(5):
            created = await http.post(
                "/api/tasks", json={"title": f"task {n}"}, headers={"Idempotency-Key": f"seed-{n}"}
            )
            assert created.status_code == 201, created.text
        yield User(email, password, http)


@dataclass
class Load:
    """REST reads (and idempotent creates) in a loop until stopped; every failure is kept."""

    user: User
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    done: int = 0
    failures: list[str] = field(default_factory=list)
    # Requests sent again after their connection closed without a response.
    retried: list[str] = field(default_factory=list)
    # Chat turns, one at a time beside the REST workers (so every agent gets calls too).
    chats: int = 0
    chat_failures: list[str] = field(default_factory=list)
    # A bound on the loop whatever happens to `stop`.
    max_requests: int = 20_000
    # Every fifth request a create WITHOUT Idempotency-Key too: nobody may retry it, so it
    # either succeeds or fails cleanly: a 503 problem+json (counted in `unkeyed_503s`) or,
    # only while an edge is being killed (`edge_dying`), a connection closed without an
    # answer (`unkeyed_cut`, their titles): HAProxy's answer on a kept-alive connection for
    # a write the dying edge was handling (test_replica_stack.py). Either says "may or may
    # not have happened"; the test checks that none happened twice.
    unkeyed_writes: bool = False
    unkeyed_503s: list[str] = field(default_factory=list)
    edge_dying: bool = False
    unkeyed_cut: list[str] = field(default_factory=list)

    def _unkeyed(self, n: int) -> bool:
        return self.unkeyed_writes and n % 5 == 2

    async def _one(self, n: int) -> None:
        try:
            await self._request(n)
        except httpx.RemoteProtocolError as exc:
            if self._unkeyed(n):
                if self.edge_dying:
                    self.unkeyed_cut.append(self._unkeyed_title(n))
                else:
                    self.failures.append(f"unkeyed POST cut: {type(exc).__name__}: {exc}")
                return
            # The connection closed before any response: what HTTP lets a client retry for a
            # request that is idempotent (RFC 9110 9.2.2; browsers do). Counted, not hidden.
            self.retried.append(f"{type(exc).__name__}: {exc}")
            await self._request(n)

    def _unkeyed_title(self, n: int) -> str:
        # Unique, and no title contains another's (the list's `query` matches substrings).
        return f"unkeyed-{id(self)}-{n}."

    async def _request(self, n: int) -> None:
        http = self.user.http
        try:
            if self._unkeyed(n):
                title = self._unkeyed_title(n)
                response = await http.post("/api/tasks", json={"title": title})
                ok = response.status_code == 201 or self._clean_503(response)
            elif n % 5 == 4:
                key = f"load-{id(self)}-{n}"
                response = await http.post(
                    "/api/tasks", json={"title": f"load {n}"}, headers={"Idempotency-Key": key}
                )
                ok = response.status_code == 201
            else:
                response = await http.get("/api/tasks", params={"page_size": 5})
                ok = response.status_code == 200
            if not ok:
                self.failures.append(
                    f"{response.request.method} {response.status_code} {response.text[:200]}"
                )
        except httpx.RemoteProtocolError:
            raise
        except httpx.HTTPError as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
        self.done += 1

    def _clean_503(self, response: httpx.Response) -> bool:
        """A 503 problem (HAProxy's for an edge that died mid-request, or the edge's for a
        backend replica that did): the clean failure a write nobody may retry is allowed."""
        clean = response.status_code == 503 and response.headers.get("content-type") == (
            "application/problem+json"
        )
        if clean:
            self.unkeyed_503s.append(str(response.json().get("type")))
        return clean

    async def run(self, workers: int = 4) -> None:
        counter = iter(range(self.max_requests))

        async def worker() -> None:
            for n in counter:
                if self.stop.is_set():
                    return
                await self._one(n)

        async def chatter() -> None:
            for _ in range(self.max_requests // 10):
                if self.stop.is_set():
                    return
                try:
                    await chat_turn(self.user)
                except (AssertionError, httpx.HTTPError) as exc:
                    self.chat_failures.append(f"{type(exc).__name__}: {str(exc)[:300]}")
                self.chats += 1

        await asyncio.gather(chatter(), *(worker() for _ in range(workers)))


@contextlib.asynccontextmanager
async def _running(load: Load) -> AsyncIterator[Load]:
    """`load` running in the background inside the block."""
    task = asyncio.ensure_future(load.run())
    await eventually(lambda: load.done >= 20, within=60, what="the load going")
    try:
        yield load
    finally:
        load.stop.set()
        await task


@pytest.fixture
async def load(user: User) -> AsyncIterator[Load]:
    """Load running in the background for the test's duration."""
    async with _running(Load(user)) as running:
        yield running


@pytest.fixture
async def load_with_unkeyed_writes(user: User) -> AsyncIterator[Load]:
    """The same, with creates that carry no Idempotency-Key among the requests."""
    async with _running(Load(user, unkeyed_writes=True)) as running:
        yield running


async def chat_turn(user: User, text: str = "show my tasks") -> float:
    """One new chat turn through HAProxy; returns how long it took. Fails unless the reply
    streamed to its end (an assistant message, no error event)."""
    started = time.perf_counter()
    stream = await user.chat.create(text)
    assert stream.status == 200, stream.text[:300]
    assert "error" not in stream.types, stream.events
    assert stream.reply, stream.types
    return time.perf_counter() - started


pytestmark = [pytest.mark.replicas, pytest.mark.timeout(900)]

# Each tier's replicas must each take this share of the tier's load, ±20 %.
TOLERANCE = 0.20
REST_REQUESTS = 200
CHAT_TURNS = 20
# Which log line counts one unit of a tier's work: a request (edge), an RPC (tasks, agent).
WORK_LINES = {"edge": "http", "tasks": "rpc", "agent": "rpc"}


def _delta(after: Counter[str], before: Counter[str], labels: list[str]) -> dict[str, int]:
    return {label: after[label] - before[label] for label in labels}


async def test_load_spreads_evenly_over_the_replicas_of_each_tier(
    replicas: Replicas, user: User
) -> None:
    before = {tier: replicas.log_counts(line) for tier, line in WORK_LINES.items()}
    for n in range(REST_REQUESTS):
        response = await user.http.get("/api/tasks", params={"page_size": 5, "query": str(n)})
        assert response.status_code == 200, response.text
    for _ in range(CHAT_TURNS):
        await chat_turn(user)
    for tier, line in WORK_LINES.items():
        labels = replicas.labels(tier)
        assert len(labels) == 2, labels
        shares = _delta(replicas.log_counts(line), before[tier], labels)
        total = sum(shares.values())
        print(f"{tier}: {shares}")
        assert total > 0, tier
        for count in shares.values():
            fair = total / len(labels)
            assert abs(count - fair) <= TOLERANCE * fair, f"{tier}: {shares}"


async def test_the_rate_limit_holds_across_edges(replicas: Replicas) -> None:
    """Sign-up and sign-ins of one account, alternating between the two edges directly:
    exactly the per-account limit is admitted (sign-up counts as an attempt too), because
    both edges count in the same Redis."""
    edges = [replicas.edge_url(label) for label in replicas.labels("edge")]
    body = {"email": f"limited-{time.time_ns()}@example.com", "password": "correct horse battery"}
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(timeout=30) as http:
        signed_up = await http.post(f"{edges[0]}/api/auth/signup", json=body)
        assert signed_up.status_code in (200, 201), signed_up.text
        for n in range(SIGN_INS_PER_ACCOUNT * 3):
            response = await http.post(f"{edges[(n + 1) % 2]}/api/auth/login", json=body)
            statuses[response.status_code] += 1
    admitted = SIGN_INS_PER_ACCOUNT - 1  # after the sign-up
    assert statuses == {200: admitted, 429: SIGN_INS_PER_ACCOUNT * 3 - admitted}, statuses


@contextlib.asynccontextmanager
async def _tab(replicas: Replicas, user: User, edge: str) -> AsyncIterator[ChatClient]:
    """One browser tab of `user`, talking to one edge replica directly."""
    headers = {"Authorization": user.http.headers["Authorization"]}
    async with httpx.AsyncClient(
        base_url=replicas.edge_url(edge), headers=headers, timeout=30
    ) as http:
        yield ChatClient(http)


@contextlib.contextmanager
def _frozen(replicas: Replicas, *labels: str) -> Iterator[None]:
    """SIGSTOP each replica inside the block, SIGCONT after (nothing for one killed
    meanwhile). A frozen agent accepts calls and answers none, so a reply it was given is
    still under way when the test acts: the offline model would finish it in well under a
    second. Kept short: a frozen agent slows the edges' readiness checks."""
    pids = [int(replicas.processes()[label]["pid"]) for label in labels]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _message(thread_id: str, text: str) -> dict[str, Any]:
    return {"thread_id": thread_id, "input": user_message(text)}


def _assert_in_turns(types: list[str], messages: int) -> None:
    """Each user message is followed by its own reply before the next one: never two user
    messages in a row, none left unanswered, `messages` of them."""
    assert types.count("user_message") == messages, types
    assert types[0] == "user_message" and types[-1] != "user_message", types
    for before, after in itertools.pairwise(types):
        assert (before, after) != ("user_message", "user_message"), types


# Rounds of both tabs sending at the same moment.
SIMULTANEOUS_ROUNDS = 10


async def test_two_tabs_on_two_edges_take_turns_in_one_thread(
    replicas: Replicas, user: User
) -> None:
    """One reply at a time per thread across edges: while a reply runs (held at a frozen
    agent), the other tab's message through the other edge is refused with 409
    REPLY_IN_PROGRESS and stores nothing; sent at the same moment, one of the two runs and the
    thread's items never interleave."""
    edge1, edge2 = replicas.labels("edge")
    async with _tab(replicas, user, edge1) as tab1, _tab(replicas, user, edge2) as tab2:
        created = await tab1.create("show my tasks")
        assert created.reply, created.types
        thread_id = created.thread_id
        with _frozen(replicas, *replicas.labels("agent")):
            running = await _open_turn(tab1.http, "threads.add_user_message", thread_id=thread_id)
            refused = await tab2.post(
                "threads.add_user_message", _message(thread_id, "from the other tab")
            )
            assert refused.status_code == 409, refused.text
            assert refused.json()["reason"] == "REPLY_IN_PROGRESS", refused.text
            assert "already in progress" in refused.json()["detail"]
            _ = await tab2.item_types(thread_id)  # readable meanwhile
        finished = await running.finish()
        assert "error" not in finished.types and finished.reply, finished.events
        answered = await tab2.say(thread_id, "from the other tab")
        assert "error" not in answered.types and answered.reply, answered.events
        accepted, refusals = 3, 0
        for n in range(SIMULTANEOUS_ROUNDS):
            responses = await asyncio.gather(
                tab1.post("threads.add_user_message", _message(thread_id, f"one {n}")),
                tab2.post("threads.add_user_message", _message(thread_id, f"two {n}")),
            )
            for response in responses:
                if response.status_code == 409:
                    assert response.json()["reason"] == "REPLY_IN_PROGRESS", response.text
                    refusals += 1
                    continue
                assert response.status_code == 200, response.text
                assert "error" not in Stream.parse(200, response.headers, response.text).types
                accepted += 1
        _assert_in_turns(await tab1.item_types(thread_id), accepted)
    print(
        f"run lock: {SIMULTANEOUS_ROUNDS} rounds of two tabs at once on two edges: "
        f"{accepted - 3} replies, {refusals} refused as in progress"
    )


async def _next_turn_in(user: User, threads: list[str], killed: float) -> float:
    """A new turn in each thread through HAProxy, at once and on the first try (HAProxy
    sends nothing on a connection to the dead edge: `option http-server-close`); returns how
    long after the kill the first one had its whole reply."""
    first = None
    for thread_id in threads:
        stream = await user.chat.say(thread_id, "show my tasks")
        assert stream.status == 200 and "error" not in stream.types, stream.events
        assert stream.reply, stream.types
        first = first or time.perf_counter() - killed
    assert first is not None
    return first


async def _rejoined_with_chats(replicas: Replicas, user: User, label: str) -> None:
    """`replicas.rejoined(label)`, with chat turns through HAProxy as the traffic that brings
    the restarted replica its calls (each of them must succeed)."""
    stop = asyncio.Event()

    async def chats() -> None:
        while not stop.is_set():
            await chat_turn(user)

    chatting = asyncio.ensure_future(chats())
    try:
        await replicas.rejoined(label)
    finally:
        stop.set()
        await chatting


async def _after_the_kill(
    user: User, turns: list[OpenTurn], ends: list[Stream | None], killed: float, what: str
) -> tuple[list[str], float]:
    """Checks the replies under way when a replica was killed: each finished, ended with an
    `error` event or was cut, and some did not finish (none `what` otherwise); a new turn in
    each unfinished thread succeeds at once; every user message is kept. Returns those
    threads and how long after the kill the first new turn had its reply."""
    unfinished = [
        t.thread_id for t, end in zip(turns, ends, strict=True) if not end or not end.reply
    ]
    for end in ends:
        assert end is None or end.reply or "error" in end.types, end and end.events
    assert unfinished, f"no turn that {what} was still under way at the kill"
    after = await _next_turn_in(user, unfinished, killed)
    for thread_id in (turn.thread_id for turn in turns):
        types = await user.chat.item_types(thread_id)
        assert types.count("user_message") == 1 + (thread_id in unfinished), (thread_id, types)
    return unfinished, after


async def test_a_chat_on_a_killed_agent_or_edge_keeps_the_message_and_the_next_turn_runs(
    replicas: Replicas, user: User
) -> None:
    """Replies under way on an agent, then on an edge, when it is killed (-9): each ends with
    an `error` event or a closed stream, the user's message is kept, and a new turn in the
    same thread right after succeeds on its first try. (Each edge's round_robin gives
    consecutive calls to alternate agents, so of three turns per edge some reach the frozen
    agent; the others finish on the live one.)"""
    agent = replicas.labels("agent")[0]
    edge1, edge2 = replicas.labels("edge")
    async with _tab(replicas, user, edge1) as tab1, _tab(replicas, user, edge2) as tab2:
        with _frozen(replicas, agent):
            turns = await asyncio.gather(*(_open_turn(t.http) for t in (tab1, tab2) * 3))
            pid = await replicas.signal(agent, signal.SIGKILL)
        killed = time.perf_counter()
        ends = await asyncio.gather(*(turn.finish_or_cut() for turn in turns))
    failed, after_agent = await _after_the_kill(user, turns, ends, killed, "reached the agent")
    agent_cut = sum(end is None for end in ends)
    await replicas.replaced(agent, pid)
    await _rejoined_with_chats(replicas, user, agent)

    agent = replicas.labels("agent")[0]
    async with _tab(replicas, user, edge1) as tab:
        with _frozen(replicas, agent):
            turns = await asyncio.gather(*(_open_turn(tab.http) for _ in range(3)))
            pid = await replicas.signal(edge1, signal.SIGKILL)
            killed = time.perf_counter()
            ends = await asyncio.gather(*(turn.finish_or_cut() for turn in turns))
    cut, after_edge = await _after_the_kill(user, turns, ends, killed, "was under way")
    await replicas.replaced(edge1, pid)
    await _rejoined_with_chats(replicas, user, edge1)
    print(
        f"chat on a killed replica: agent: {len(failed)} of 6 replies under way ended "
        f"({agent_cut} cut), next turn in the same thread done "
        f"{after_agent:.2f} s after the kill; edge: {len(cut)} of 3 cut, next turn done "
        f"{after_edge:.2f} s after"
    )


async def _turn(user: User) -> float:
    try:
        return await chat_turn(user)
    except httpx.HTTPError as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


async def test_kill_9_of_one_replica_per_tier_costs_no_request(
    replicas: Replicas, user: User, load_with_unkeyed_writes: Load
) -> None:
    """REST reads and creates with an Idempotency-Key all succeed (HAProxy retries them on
    the other edge); a create without one succeeds or is a 503 problem, never a 502, and is
    cut (its connection closed unanswered) only when the edge killed was handling it, then
    carried out at most once."""
    load = load_with_unkeyed_writes
    for tier in REPLICATED:
        label = replicas.labels(tier)[0]
        done_before = load.done
        load.edge_dying = tier == "edge"
        pid = await replicas.signal(label, signal.SIGKILL)
        killed = time.perf_counter()
        # A new chat turn succeeds soon after (the survivor takes it).
        await eventually(lambda: _turn(user), within=30, what=f"a chat turn after {label} died")
        print(
            f"kill -9 {label}: first successful new chat turn {time.perf_counter() - killed:.2f} s later"
        )
        await eventually(
            lambda start=done_before: load.done >= start + 50, within=60, what="load going on"
        )
        await replicas.replaced(label, pid)
        await replicas.rejoined(label)
        load.edge_dying = False
        assert load.failures == [], load.failures[:5]
    # A create without a key that was cut: carried out once or not at all, never twice.
    carried_out = 0
    for title in load.unkeyed_cut:
        listed = await user.http.get("/api/tasks", params={"query": title, "page_size": 10})
        assert listed.status_code == 200, listed.text
        copies = [t for t in listed.json()["tasks"] if t["title"] == title]
        assert len(copies) <= 1, copies
        carried_out += len(copies)
    # A turn streaming from a killed agent or edge ends with an error event or a cut stream.
    print(
        f"kill -9: {load.done} REST requests, {len(load.failures)} failed, "
        f"{len(load.retried)} sent again after a closed connection, "
        f"{len(load.unkeyed_503s)} creates without Idempotency-Key answered 503 "
        f"{sorted(set(load.unkeyed_503s))}, {len(load.unkeyed_cut)} cut at the edge kill "
        f"({carried_out} of them carried out, none twice); "
        f"{load.chats} chat turns, {len(load.chat_failures)} cut short: {load.chat_failures[:3]}"
    )


@dataclass
class OpenTurn:
    """A chat turn whose stream is open: its first event has arrived, the reply is to come."""

    response: httpx.Response
    chunks: AsyncIterator[str]
    received: str

    async def finish(self) -> Stream:
        """Reads the stream to its end."""
        async for chunk in self.chunks:
            self.received += chunk
        await self.response.aclose()
        return Stream.parse(self.response.status_code, self.response.headers, self.received)

    async def finish_or_cut(self) -> Stream | None:
        """Reads the stream to its end: the stream, or None when the connection was cut."""
        try:
            return await self.finish()
        except httpx.TransportError:
            await self.response.aclose()
            return None

    @property
    def thread_id(self) -> str:
        """The thread the turn runs in (its first event names it)."""
        first = json.loads(self.received.split("\n\n")[0].removeprefix("data: "))
        return str(first["thread"]["id"])


async def _open_turn(
    http: httpx.AsyncClient, op: str = "threads.create", **params: Any
) -> OpenTurn:
    """A turn whose user message is stored (its item is done) and whose reply is under way."""
    body = {"type": op, "params": {"input": user_message("show my tasks"), **params}}
    response = await http.send(http.build_request("POST", "/chatkit", json=body), stream=True)
    assert response.status_code == 200, (await response.aread())[:300]
    turn = OpenTurn(response, response.aiter_text(), "")
    async for chunk in turn.chunks:
        turn.received += chunk
        if '"type":"user_message"' in turn.received:
            return turn
    raise AssertionError(f"the stream ended before the user message: {turn.received!r}")


async def test_a_rolling_restart_costs_no_request_and_streams_finish(
    replicas: Replicas, user: User, load: Load
) -> None:
    for tier in REPLICATED:
        for label in replicas.labels(tier):
            under_way = [await _open_turn(user.http) for _ in range(2)]
            pid = await replicas.signal(label, signal.SIGTERM)
            streams = [await turn.finish() for turn in under_way]
            for stream in streams:
                assert "error" not in stream.types, (label, stream.events)
                assert stream.reply, (label, stream.types)
            await replicas.replaced(label, pid)
            await replicas.rejoined(label)
            assert load.failures == [], load.failures[:5]
            assert load.chat_failures == [], load.chat_failures[:5]
    print(
        f"rolling restart: {load.done} REST requests, {len(load.failures)} failed, "
        f"{len(load.retried)} sent again after a closed connection; "
        f"{load.chats} chat turns, {len(load.chat_failures)} failed"
    )
