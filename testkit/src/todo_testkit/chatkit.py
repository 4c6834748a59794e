"""ChatKit protocol helpers for tests: raw protocol bodies over HTTP and a strict SSE parser.

`ChatClient` posts `{type, params}` bodies to an edge's `/chatkit` and parses the
`text/event-stream` answer (`data: <json>\\n\\n` frames; `: keep-alive` comments are counted).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from todo_edge.db import migrate_async
from todo_edge.settings import EdgeSettings

from todo_testkit.agent import AgentServiceHandle, running_agent_service
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.edge import EdgeHandle, edge_settings_for, running_edge
from todo_testkit.interceptors import CallGate, CallHook
from todo_testkit.tasks import TasksServiceHandle

# The items one answered turn whose tool call shows a card stores, in order: the user's
# message, the workflow of its steps, the card, the reply.
CARD_TURN = ["user_message", "workflow", "widget", "assistant_message"]


def user_message(text: str) -> dict[str, Any]:
    """The `input` of threads.create / threads.add_user_message."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


@dataclass
class Stream:
    """One SSE response: status, headers, parsed events and heartbeat count."""

    status: int
    headers: httpx.Headers
    events: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: int = 0
    text: str = ""

    @classmethod
    def parse(cls, status: int, headers: httpx.Headers, text: str) -> Stream:
        """A response read to the end; its events when it is an event stream."""
        stream = cls(status=status, headers=headers, text=text)
        if headers.get("content-type", "").startswith("text/event-stream"):
            stream.events, stream.heartbeats = parse_sse(text)
        return stream

    def of(self, kind: str) -> list[dict[str, Any]]:
        """Events of one type."""
        return [event for event in self.events if event["type"] == kind]

    @property
    def types(self) -> list[str]:
        """The event types in order."""
        return [event["type"] for event in self.events]

    def done_items(self, item_type: str | None = None) -> list[dict[str, Any]]:
        """Items of `thread.item.done` events (of one item type, if given)."""
        items = [event["item"] for event in self.of("thread.item.done")]
        return [item for item in items if item_type is None or item["type"] == item_type]

    def stored_items(self) -> list[dict[str, Any]]:
        """The done items in the order the store keeps them: by creation, so a turn's
        workflow (done when the run ends) comes before the cards and reply of its turn."""
        return sorted(self.done_items(), key=lambda item: str(item["created_at"]))

    @property
    def thread_id(self) -> str:
        """The thread created by this stream."""
        return str(self.of("thread.created")[0]["thread"]["id"])

    @property
    def reply(self) -> str:
        """The text of the assistant messages."""
        return "\n".join(
            part["text"]
            for item in self.done_items("assistant_message")
            for part in item["content"]
        )


def widget_actions(widget: dict[str, Any]) -> list[dict[str, Any]]:
    """Every `onClickAction` in a widget tree (buttons, rows…), in document order."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            action = node.get("onClickAction")
            if isinstance(action, dict):
                found.append(action)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(widget)
    return found


def parse_sse(text: str) -> tuple[list[dict[str, Any]], int]:
    """Events and heartbeat comments of an SSE body; every frame must be well formed."""
    events: list[dict[str, Any]] = []
    heartbeats = 0
    assert text == "" or text.endswith("\n\n"), text[-200:]
    for frame in text.split("\n\n"):
        if not frame:
            continue
        if frame.startswith(":"):
            heartbeats += 1
            continue
        assert frame.startswith("data: "), frame[:200]
        assert "\n" not in frame, frame[:200]
        events.append(json.loads(frame[len("data: ") :]))
    return events, heartbeats


@dataclass
class OpenStream:
    """A streaming answer still being read: what has arrived so far, and more on demand."""

    response: httpx.Response
    chunks: AsyncIterator[bytes]
    received: bytes = b""

    async def read_until(self, enough: Callable[[bytes], bool] = lambda _: False) -> bytes:
        """Reads until `enough(received)` holds or the stream ends; returns all received."""
        async for chunk in self.chunks:
            self.received += chunk
            if enough(self.received):
                break
        return self.received

    def parsed(self) -> Stream:
        """What was received, parsed (all of it must be whole frames)."""
        return Stream.parse(
            self.response.status_code, self.response.headers, self.received.decode()
        )


class ChatClient:
    """Speaks the ChatKit protocol to the edge as one user."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, op: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A JSON (non-streaming) op, or any op when the raw response is wanted."""
        body: dict[str, Any] = {"type": op, "params": params or {}}
        return await self.http.post("/chatkit", json=body)

    async def stream(self, op: str, params: dict[str, Any]) -> Stream:
        """A streaming op, read to the end."""
        response = await self.http.post("/chatkit", json={"type": op, "params": params})
        return Stream.parse(response.status_code, response.headers, response.text)

    @asynccontextmanager
    async def open_create(self, text: str) -> AsyncIterator[OpenStream]:
        """threads.create with a text message, read bit by bit inside the block; leaving the
        block closes the connection, as the Stop button does mid-stream."""
        body = {"type": "threads.create", "params": {"input": user_message(text)}}
        async with self.http.stream("POST", "/chatkit", json=body) as response:
            yield OpenStream(response, response.aiter_bytes())

    async def create(self, text: str) -> Stream:
        """threads.create with a text message."""
        return await self.stream("threads.create", {"input": user_message(text)})

    async def say(self, thread_id: str, text: str) -> Stream:
        """threads.add_user_message."""
        return await self.stream(
            "threads.add_user_message", {"thread_id": thread_id, "input": user_message(text)}
        )

    async def item_types(self, thread_id: str) -> list[str]:
        """The types of the thread's items as a client lists them, oldest first."""
        return [item["type"] for item in (await self.items(thread_id))["data"]]

    async def items(self, thread_id: str, **params: Any) -> dict[str, Any]:
        """items.list (asc by default here)."""
        response = await self.post(
            "items.list", {"thread_id": thread_id, "order": "asc", "limit": 100, **params}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def chat_edge_settings(
    auth: AuthServiceHandle,
    tasks: TasksServiceHandle,
    agent_address: str,
    database: IsolatedDatabase,
    **overrides: Any,
) -> EdgeSettings:
    """Test edge settings (see `edge_settings_for`) with ChatKit wired to `agent_address` and
    the (migrated) edge database."""
    return edge_settings_for(
        auth,
        tasks,
        agent_address=agent_address,
        database_url=database.url,
        database_schema=database.schema,
        database_pool_size=5,
        **overrides,
    )


@asynccontextmanager
async def running_chat_edge(
    auth: AuthServiceHandle, tasks: TasksServiceHandle, agent_address: str, folder: Path
) -> AsyncIterator[EdgeHandle]:
    """An edge with every route live: a fresh, migrated edge database (in `folder` on SQLite,
    a schema of its own on PostgreSQL) and ChatKit wired to `agent_address`; the database is
    dropped afterwards."""
    database = new_database("edge", folder)
    await migrate_async(database.url, database.schema)
    try:
        async with running_edge(chat_edge_settings(auth, tasks, agent_address, database)) as edge:
            yield edge
    finally:
        await drop_database(database)


@asynccontextmanager
async def chatting_with_own_agent(
    auth: AuthServiceHandle,
    tasks: TasksServiceHandle,
    database: IsolatedDatabase,
    user: SignedUpUser,
    *,
    edge_overrides: dict[str, Any] | None = None,
    client_timeout: float = 15.0,
    **agent_options: Any,
) -> AsyncIterator[tuple[AgentServiceHandle, ChatClient]]:
    """An agent of the test's own (`agent_options` go to `running_agent_service`: a scripted
    model, interceptors on its tasks channel), an edge chatting with it, and `user`'s ChatKit
    client on that edge (reads time out after `client_timeout` seconds of silence); all
    stopped after the block."""
    stack = ChatStack(auth, tasks, database)
    async with (
        stack.agent(**agent_options) as agent,
        stack.edge(agent, **(edge_overrides or {})) as edge,
        edge.client(user.access_token, timeout=client_timeout) as http,
    ):
        yield agent, ChatClient(http)


@dataclass
class ChatStack:
    """The module's auth and tasks servers and an edge database, from which a test starts an
    agent and edges of its own: `async with stack.agent(custom_model=…) as agent,
    stack.edge(agent, **edge_overrides) as edge:`."""

    auth: AuthServiceHandle
    tasks: TasksServiceHandle
    database: IsolatedDatabase

    def agent(self, **agent_options: Any) -> AbstractAsyncContextManager[AgentServiceHandle]:
        """An agent server of the test's own (`agent_options` go to `running_agent_service`)."""
        return running_agent_service(self.auth, self.tasks.address, **agent_options)

    def edge(
        self, agent: AgentServiceHandle | str, **overrides: Any
    ) -> AbstractAsyncContextManager[EdgeHandle]:
        """An edge chatting with `agent` (a server or an address), `overrides` on its
        settings (`chat_edge_settings`)."""
        address = agent if isinstance(agent, str) else agent.address
        settings = chat_edge_settings(self.auth, self.tasks, address, self.database, **overrides)
        return running_edge(settings)


# `chatting_with_own_agent` with everything but the agent options bound (a suite's fixture).
OwnAgentChat = Callable[..., AbstractAsyncContextManager[tuple[AgentServiceHandle, ChatClient]]]


class HeldLookup(NamedTuple):
    """A chat with an agent of the test's own whose task lookups (ListTasks) wait at `lookup`
    until it is released; `hook.methods` are the calls the agent made to the tasks service."""

    agent: AgentServiceHandle
    chat: ChatClient
    lookup: CallGate
    hook: CallHook


@asynccontextmanager
async def chatting_with_a_held_lookup(
    own_agent_chat: OwnAgentChat, **options: Any
) -> AsyncIterator[HeldLookup]:
    """`own_agent_chat(**options)` with the agent's ListTasks calls held (`HeldLookup`)."""
    lookup = CallGate("ListTasks")
    hook = CallHook(lookup)
    async with own_agent_chat(tasks_interceptors=[hook], **options) as (agent, chat):
        yield HeldLookup(agent, chat, lookup, hook)


# `chatting_with_a_held_lookup` with the suite's `own_agent_chat` bound (a suite's fixture).
HeldLookupChat = Callable[..., AbstractAsyncContextManager[HeldLookup]]
