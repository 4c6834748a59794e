"""The plain REST chat API (/api/chat) end to end: a real edge over HTTP, the real agent
(offline model) and the real tasks service. JSON and SSE replies, paging, the same threads as
ChatKit (both ways), isolation between users, and the same problem+json errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from agents.testing import ModelStep, ScriptedModel, assistant_message
from todo_testkit.agent import AgentServiceHandle
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.chatkit import ChatClient, OwnAgentChat, chat_edge_settings
from todo_testkit.databases import IsolatedDatabase
from todo_testkit.edge import EdgeHandle, assert_problem, running_edge
from todo_testkit.tasks import TasksServiceHandle

SSE = {"Accept": "text/event-stream"}


def named_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The (event, data) pairs of an SSE body; every frame is `event: …\\ndata: …`."""
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("\n\n")
    events = []
    for frame in response.text.split("\n\n"):
        if not frame or frame.startswith(":"):
            continue
        name_line, data_line = frame.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: "), frame
        events.append((name_line[len("event: ") :], json.loads(data_line[len("data: ") :])))
    return events


async def tasks_of(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await http.get("/api/tasks", params={"state": "open"})
    assert response.status_code == 200
    tasks: list[dict[str, Any]] = response.json()["tasks"]
    return tasks


async def test_a_thread_started_here_answers_in_json_and_manages_tasks(
    chat_edge: EdgeHandle, alice: SignedUpUser, alice_chat: ChatClient
) -> None:
    async with chat_edge.client(alice.access_token, timeout=30.0) as http:
        created = await http.post(
            "/api/chat/threads", json={"message": "add buy milk tomorrow, high priority"}
        )
        assert created.status_code == 201, created.text
        turn = created.json()
        thread = turn["thread"]
        assert created.headers["location"] == f"/api/chat/threads/{thread['id']}"
        assert thread["title"] == "Add buy milk tomorrow, high priority"
        assert turn["user_message"]["text"] == "add buy milk tomorrow, high priority"
        assert turn["user_message"]["role"] == "user"
        assert "milk" in turn["reply"].lower()
        assert [m["role"] for m in turn["messages"]] == ["assistant"]
        assert turn["error"] is None
        [milk] = await tasks_of(http)
        assert (milk["title"], milk["priority"]) == ("Buy milk", "high")
        assert turn["task_ids"] == [milk["id"]]

        # The follow-up sees the thread's history: "the milk one" is the task just added.
        done = await http.post(
            f"/api/chat/threads/{thread['id']}/messages", json={"message": "mark the milk one done"}
        )
        assert done.status_code == 200, done.text
        assert done.json()["task_ids"] == [milk["id"]]
        assert await tasks_of(http) == []
        assert done.json()["thread"]["id"] == thread["id"]

    # The same thread in the ChatKit protocol, with the same messages.
    listed = (await alice_chat.post("threads.list", {"limit": 10})).json()
    assert thread["id"] in [t["id"] for t in listed["data"]]
    items = (
        await alice_chat.post("items.list", {"thread_id": thread["id"], "order": "asc"})
    ).json()
    kinds = [item["type"] for item in items["data"]]
    assert kinds.count("user_message") == 2 and kinds.count("assistant_message") == 2


async def test_a_message_streams_deltas_and_task_changes(
    chat_edge: EdgeHandle, alice: SignedUpUser
) -> None:
    async with chat_edge.client(alice.access_token, timeout=30.0) as http:
        first = await http.post("/api/chat/threads", json={"message": "add call mum"}, headers=SSE)
        assert first.status_code == 200
        assert first.headers["cache-control"] == "no-cache"
        events = named_events(first)
        names = [name for name, _ in events]
        assert names[:2] == ["thread", "user_message"]
        assert names[-1] == "done" and "tasks_changed" in names
        thread_id = events[0][1]["id"]

        reply = await http.post(
            f"/api/chat/threads/{thread_id}/messages",
            json={"message": "add pay rent friday #home"},
            headers=SSE,
        )
        events = named_events(reply)
        names = [name for name, _ in events]
        assert names[0] == "user_message" and names[-1] == "done"
        [message] = [data for name, data in events if name == "message"]
        deltas = "".join(data["delta"] for name, data in events if name == "delta")
        assert deltas == message["text"] and "rent" in deltas.lower()
        assert all(data["message_id"] == message["id"] for name, data in events if name == "delta")
        [changed] = [data for name, data in events if name == "tasks_changed"]
        done = events[-1][1]
        assert done["reply"] == message["text"]
        assert done["task_ids"] == changed["task_ids"]
        rent = [t for t in await tasks_of(http) if t["id"] in changed["task_ids"]]
        assert [(t["title"], t["tags"]) for t in rent] == [("Pay rent", ["home"])]


async def test_threads_and_messages_are_paged(chat_edge: EdgeHandle, sign_up: Any) -> None:
    carol = await sign_up()
    async with chat_edge.client(carol.access_token, timeout=30.0) as http:
        one = (await http.post("/api/chat/threads", json={"message": "add one"})).json()
        await http.post(
            f"/api/chat/threads/{one['thread']['id']}/messages", json={"message": "help"}
        )
        two = (await http.post("/api/chat/threads", json={"message": "add two"})).json()

        page = (await http.get("/api/chat/threads", params={"limit": 1})).json()
        assert [t["id"] for t in page["threads"]] == [two["thread"]["id"]]
        rest = (
            await http.get("/api/chat/threads", params={"limit": 1, "after": page["next_cursor"]})
        ).json()
        assert [t["id"] for t in rest["threads"]] == [one["thread"]["id"]]
        assert rest["next_cursor"] is None

        path = f"/api/chat/threads/{one['thread']['id']}/messages"
        everything = (await http.get(path, params={"limit": 100})).json()
        texts = [(m["role"], m["text"]) for m in everything["messages"]]
        assert texts[0] == ("user", "add one") and ("user", "help") in texts
        assert everything["next_cursor"] is None
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1, **({"after": cursor} if cursor else {})}
            page = (await http.get(path, params=params)).json()
            seen += [m["id"] for m in page["messages"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [m["id"] for m in everything["messages"]]
        newest = (await http.get(path, params={"order": "desc", "limit": 1})).json()
        assert newest["messages"][0]["role"] in ("assistant", "user")


async def test_threads_started_in_chatkit_show_here(
    chat_edge: EdgeHandle, alice: SignedUpUser, alice_chat: ChatClient
) -> None:
    stream = await alice_chat.create("add water the plants")
    async with chat_edge.client(alice.access_token, timeout=30.0) as http:
        threads = (await http.get("/api/chat/threads", params={"limit": 100})).json()["threads"]
        assert stream.thread_id in [t["id"] for t in threads]
        messages = (await http.get(f"/api/chat/threads/{stream.thread_id}/messages")).json()
    assert messages["messages"][0]["text"] == "add water the plants"
    assert messages["messages"][-1]["text"] == stream.reply


async def test_another_users_thread_is_missing(
    chat_edge: EdgeHandle, alice: SignedUpUser, bob: SignedUpUser
) -> None:
    async with chat_edge.client(alice.access_token, timeout=30.0) as http:
        thread = (await http.post("/api/chat/threads", json={"message": "add secret"})).json()
    thread_id = thread["thread"]["id"]
    async with chat_edge.client(bob.access_token, timeout=30.0) as http:
        never = "thr_doesnotexist"
        for path in (f"/api/chat/threads/{thread_id}", f"/api/chat/threads/{never}"):
            read = await http.get(f"{path}/messages")
            assert_problem(read, 404)
            write = await http.post(f"{path}/messages", json={"message": "hi"})
            assert_problem(write, 404)
            assert read.json()["detail"] == write.json()["detail"] == "Thread not found."
        assert (await http.get("/api/chat/threads")).json()["threads"] == []
    async with chat_edge.client(alice.access_token, timeout=30.0) as http:
        messages = (await http.get(f"/api/chat/threads/{thread_id}/messages")).json()["messages"]
    assert [m["text"] for m in messages if m["role"] == "user"] == ["add secret"]


async def test_bad_requests_are_problems_and_write_nothing(
    chat_edge: EdgeHandle, sign_up: Any
) -> None:
    dave = await sign_up()
    async with chat_edge.client(dave.access_token, timeout=30.0) as http:
        for body, status, reason in [
            ({"message": ""}, 422, "VALIDATION_FAILED"),
            ({}, 422, "VALIDATION_FAILED"),
            ({"message": "hi", "thread": "x"}, 422, "VALIDATION_FAILED"),
            ({"message": "   "}, 400, "EMPTY_MESSAGE"),
            ({"message": "x" * 8001}, 400, "TEXT_TOO_LONG"),
        ]:
            assert_problem(await http.post("/api/chat/threads", json=body), status, reason)
            assert_problem(
                await http.post("/api/chat/threads", json=body, headers=SSE), status, reason
            )
        malformed = await http.post(
            "/api/chat/threads", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        assert_problem(malformed, 400, "MALFORMED_JSON")
        assert_problem(await http.get("/api/chat/threads", params={"limit": 0}), 422)
        assert (await http.get("/api/chat/threads")).json()["threads"] == []
    async with chat_edge.client() as anonymous:
        assert_problem(await anonymous.get("/api/chat/threads"), 401, "TOKEN_MISSING")
        refused = await anonymous.post("/api/chat/threads", json={"message": "hi"})
        assert_problem(refused, 401, "TOKEN_MISSING")


async def test_the_chat_api_is_documented_with_examples(chat_edge: EdgeHandle) -> None:
    async with chat_edge.client() as http:
        spec = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    create = paths["/api/chat/threads"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]
    content = create["responses"]["201"]["content"]
    assert content["application/json"]["example"]["reply"]
    assert "event: delta" in content["text/event-stream"]["example"]
    assert "404" in paths["/api/chat/threads/{thread_id}/messages"]["post"]["responses"]
    assert "get" in paths["/api/chat/threads/{thread_id}/messages"]
    schemas = spec["components"]["schemas"]
    assert schemas["ChatMessageIn"]["examples"]


async def test_a_turn_past_the_limit_is_429_and_writes_nothing(
    own_agent_chat: OwnAgentChat,
) -> None:
    entered, released = asyncio.Event(), asyncio.Event()

    async def held(_call: Any) -> list[Any]:
        entered.set()
        await released.wait()
        return [assistant_message("Done.")]

    limits = {"chatkit_max_concurrent_turns": 1, "chatkit_busy_retry_after_seconds": 2}
    model = ScriptedModel([ModelStep.respond(held)])
    async with own_agent_chat(custom_model=model, edge_overrides=limits) as (_agent, chat):
        http = chat.http
        running = asyncio.create_task(http.post("/api/chat/threads", json={"message": "hello"}))
        await asyncio.wait_for(entered.wait(), 30)
        for headers in ({}, SSE):
            refused = await http.post(
                "/api/chat/threads", json={"message": "again"}, headers=headers
            )
            assert_problem(refused, 429, "CHAT_BUSY")
            assert refused.headers["retry-after"] == "2"
        released.set()
        answered = await asyncio.wait_for(running, 30)
        assert answered.status_code == 201
        assert answered.json()["reply"] == "Done."
        # Only the turn that ran left a thread; the refused ones wrote nothing.
        threads = (await http.get("/api/chat/threads")).json()["threads"]
        assert [t["id"] for t in threads] == [answered.json()["thread"]["id"]]


async def test_chat_requests_count_against_the_users_rate_limit(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    edge_database: IsolatedDatabase,
    agent_service: AgentServiceHandle,
    alice: SignedUpUser,
) -> None:
    settings = chat_edge_settings(
        auth_service, tasks_service, agent_service.address, edge_database, requests_per_user=2
    )
    async with running_edge(settings) as edge, edge.client(alice.access_token) as http:
        assert (await http.get("/api/chat/threads")).status_code == 200
        assert (await http.post("/api/chat/threads", json={"message": "help"})).status_code == 201
        limited = await http.post("/api/chat/threads", json={"message": "help"})
    assert_problem(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) >= 1
