"""Confirm on a bulk change preview when things go wrong (issue 15): the tasks service down
(a clear, retryable error, nothing changed, the card still offering the change; once the
service is back Confirm makes the change, and a second Confirm never makes it again), and
another user's card (their thread and item ids), which is answered exactly like a card that
does not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_testkit.agent import running_agent_service
from todo_testkit.auth import AuthServiceHandle, SignedUpUser
from todo_testkit.chatkit import ChatClient, OwnAgentChat, chat_edge_settings, widget_actions
from todo_testkit.databases import IsolatedDatabase, drop_database, new_database
from todo_testkit.edge import EdgeHandle, assert_problem, running_edge
from todo_testkit.ports import free_port
from todo_testkit.tasks import TaskCaller, TasksServiceHandle, running_tasks_service
from todo_testkit.waiting import eventually


def _complete_everything() -> ScriptedModel:
    """A model that previews completing every open task."""
    return ScriptedModel(
        [
            [function_call("preview_bulk_change", {"action": "complete"}, call_id="bulk_1")],
            [assistant_message("Here is what would change; confirm on the card.")],
        ]
    )


def _confirm(thread_id: str, card: dict[str, Any]) -> dict[str, Any]:
    """The params of pressing the card's Confirm."""
    [action] = [a for a in widget_actions(card) if a["type"] == "bulk.confirm"]
    return {"thread_id": thread_id, "item_id": card["id"], "action": action}


class RestartableTasks:
    """A tasks server on one port and one database kept across restarts, so the edge and the
    agent, told that address once, see it go down and come back."""

    def __init__(self, folder: Path, auth: AuthServiceHandle) -> None:
        self.folder, self.auth = folder, auth
        self.port = free_port()
        self.database = new_database("tasks", folder)
        self._running = AsyncExitStack()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TasksServiceHandle:
        handle: TasksServiceHandle = await self._running.enter_async_context(
            running_tasks_service(self.folder, self.auth, database=self.database, port=self.port)
        )
        return handle

    async def stop(self) -> None:
        await self._running.aclose()


@pytest.fixture
async def restartable_tasks(
    auth_service: AuthServiceHandle, tmp_path: Path
) -> AsyncIterator[RestartableTasks]:
    tasks = RestartableTasks(tmp_path, auth_service)
    try:
        yield tasks
    finally:
        await tasks.stop()
        await drop_database(tasks.database)


@asynccontextmanager
async def _chat_over(
    auth: AuthServiceHandle,
    tasks: TasksServiceHandle,
    database: IsolatedDatabase,
    user: SignedUpUser,
    model: ScriptedModel,
) -> AsyncIterator[tuple[EdgeHandle, ChatClient]]:
    """An agent (scripted `model`) and an edge, both calling `tasks`; `user`'s chat on it.
    The edge's readiness covers the tasks service."""
    async with running_agent_service(auth, tasks.address, custom_model=model) as agent:
        settings = chat_edge_settings(
            auth, tasks, agent.address, database, readiness_backends=["tasks"]
        )
        async with running_edge(settings) as edge, edge.client(user.access_token) as http:
            yield edge, ChatClient(http)


async def test_confirm_with_tasks_down_changes_nothing_and_works_once_it_is_back(
    restartable_tasks: RestartableTasks,
    auth_service: AuthServiceHandle,
    edge_database: IsolatedDatabase,
    alice: SignedUpUser,
) -> None:
    first = await restartable_tasks.start()
    mine = TaskCaller(user=alice, stub=first.stub)
    weekly = await mine.create("water the plants", recurrence="FREQ=WEEKLY")
    plain = await mine.create("post the letter")

    async with _chat_over(auth_service, first, edge_database, alice, _complete_everything()) as (
        edge,
        chat,
    ):
        preview = await chat.create("mark everything done")
        [card] = preview.done_items("widget")
        assert card["widget"]["children"][0]["value"] == "Complete 2 tasks?"
        params = _confirm(preview.thread_id, card)

        await restartable_tasks.stop()
        down = assert_problem(await chat.post("threads.sync_custom_action", params), 503)
        assert "try again" in down["detail"].lower()
        streamed = await chat.stream("threads.custom_action", params)
        # (The page's cards use the route above; a streaming client gets the same words.)
        [error] = streamed.of("error")
        assert error["message"] == down["detail"]
        assert "thread.item.replaced" not in streamed.types
        # The card still offers the change.
        items = (await chat.items(preview.thread_id))["data"]
        assert [i for i in items if i["type"] == "widget"] == [card]

        back = await restartable_tasks.start()
        mine = TaskCaller(user=alice, stub=back.stub)
        # Nothing was changed while the service was down.
        assert [t.state for t in await mine.list_all()] == [tasks_pb.TASK_STATE_OPEN] * 2

        async with edge.client() as probe:

            async def ready() -> bool:
                return (await probe.get("/readyz")).status_code == 200

            await eventually(ready, what="the edge to see the tasks service back")
        done = await chat.post("threads.sync_custom_action", params)
        assert done.status_code == 200, done.text
        settled = done.json()["updated_item"]
        assert settled["widget"]["children"][0]["value"] == "Completed 2 tasks"
        # Confirm again, as a tab still showing the preview would: nothing is done twice.
        again = await chat.post("threads.sync_custom_action", params)
        assert again.status_code == 200, again.text
        assert again.json()["updated_item"] == settled

    assert (await mine.get(weekly.id)).state == tasks_pb.TASK_STATE_COMPLETED
    assert (await mine.get(plain.id)).state == tasks_pb.TASK_STATE_COMPLETED
    # One next occurrence of the weekly task: the change was made once.
    [following] = await mine.list_all(state=tasks_pb.TASK_STATE_OPEN)
    assert following.previous_occurrence_id == weekly.id


def _compared(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    """A problem response as a client sees it: status, media type and body, without the
    request id (one per request)."""
    body = dict(response.json())
    body.pop("request_id", None)
    return response.status_code, response.headers["content-type"], body


async def test_confirm_on_another_users_card_is_answered_like_a_missing_one(
    own_agent_chat: OwnAgentChat, alice_tasks: TaskCaller, bob_chat: ChatClient
) -> None:
    kept = [await alice_tasks.create(f"errand {n}") for n in range(2)]
    async with own_agent_chat(custom_model=_complete_everything()) as (_, alice_chat):
        preview = await alice_chat.create("mark everything done")
        [card] = preview.done_items("widget")
        theirs = _confirm(preview.thread_id, card)
        bobs_own = (await bob_chat.create("hello")).thread_id

        missing_thread = {**theirs, "thread_id": "thr_does_not_exist", "item_id": "wi_nope"}
        missing_item = {**theirs, "thread_id": bobs_own, "item_id": "wi_does_not_exist"}
        # Alice's card through her thread, and through bob's own thread.
        cases = {
            "alice's thread and card": (theirs, missing_thread),
            "alice's card in bob's thread": ({**theirs, "thread_id": bobs_own}, missing_item),
        }
        for name, (foreign, missing) in cases.items():
            # The page's route and the streaming one (both are POST /chatkit).
            for op in ("threads.sync_custom_action", "threads.custom_action"):
                got = await bob_chat.post(op, foreign)
                expected = await bob_chat.post(op, missing)
                assert got.status_code == 404, (name, op, got.text)
                assert _compared(got) == _compared(expected), (name, op)

        # Alice's card is as it was, and none of her tasks changed.
        items = (await alice_chat.items(preview.thread_id))["data"]
        assert [i for i in items if i["type"] == "widget"] == [card]
    assert [await alice_tasks.get(t.id) for t in kept] == kept
