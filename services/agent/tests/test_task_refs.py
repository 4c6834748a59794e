"""Typed task refs through Respond (what the model reads, what the caller gets back), the
`[id: …]` marks taken out of streamed text, and the model picker (ListModels, `model`)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from agents.testing import ScriptedModel
from todo.agent.v1 import agent_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_agent.task_refs import NOTE_HEADING, MarkStripper
from todo_common.errors import parse_rpc_error
from todo_testkit.agent import AgentServiceHandle, respond, running_agent_service, scripted_reply
from todo_testkit.auth import AuthServiceHandle
from todo_testkit.tasks import TaskCaller, TasksServiceHandle


def ref(task_id: str, title: str, position: int = 0) -> pb.TaskRef:
    return pb.TaskRef(id=task_id, title=title, position=position)


def stream_through(stripper: MarkStripper, pieces: list[str]) -> str:
    return "".join(stripper.feed(piece) for piece in pieces) + stripper.finish()


def test_marks_split_across_deltas_are_taken_out() -> None:
    stripper = MarkStripper({"t1": "Buy milk", "t2": "Walk the dog"})
    text = stream_through(
        stripper,
        ["You have 2 tasks:\n1. Buy milk — due today [i", "d: t1]\n2. Walk the dog [id:", " t2]"],
    )
    assert text == "You have 2 tasks:\n1. Buy milk — due today\n2. Walk the dog"
    assert [(r.id, r.title, r.position) for r in stripper.refs] == [
        ("t1", "Buy milk", 1),
        ("t2", "Walk the dog", 2),
    ]


def test_a_made_up_id_is_hidden_but_never_becomes_a_ref() -> None:
    stripper = MarkStripper({"t1": "Buy milk"})
    text = stream_through(stripper, ["Added Buy milk [id: t1] and Other [id: invented]"])
    assert text == "Added Buy milk and Other"
    assert [r.id for r in stripper.refs] == ["t1"]


def test_brackets_that_are_no_mark_stay_text() -> None:
    stripper = MarkStripper({})
    assert stream_through(stripper, ["see [", "notes] and [i", "dea] [id: cut"]) == (
        "see [notes] and [idea] [id: cut"
    )


async def test_the_model_reads_refs_as_marks_and_replies_carry_refs(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    model = ScriptedModel(
        [scripted_reply("Done with 1. Buy milk [id: t1], and Walk the dog [id: t9].")]
    )
    async with running_agent_service(auth_service, tasks_service.address, custom_model=model) as a:
        run = await respond(
            a.stub,
            user.metadata,
            "complete Feed the parrot",
            [
                ("user", "list my tasks"),
                pb.ConversationMessage(
                    role=pb.ROLE_ASSISTANT,
                    text="You have 2 tasks:\n1. Buy milk\n2. Walk the dog",
                    tasks=[ref("t1", "Buy milk", 1), ref("t2", "Walk the dog", 2)],
                ),
            ],
            input_tasks=[ref("t3", "Feed the parrot")],
        )
    call = model.first_call
    assert call is not None
    [_, shown, new] = call.input  # type: ignore[misc]
    assert shown["content"] == (
        f"You have 2 tasks:\n1. Buy milk\n2. Walk the dog\n\n{NOTE_HEADING}\n"
        "1. Buy milk [id: t1]\n2. Walk the dog [id: t2]"
    )
    assert new["content"] == "complete Feed the parrot [id t3]"
    # The reply: no marks; refs only for ids the run knows (t9 was made up).
    assert run.messages == ["Done with 1. Buy milk, and Walk the dog."]
    assert [(r.id, r.position) for r in run.tasks] == [("t1", 0)]


async def test_a_mention_decides_between_twin_titles(
    fixed_agent: AgentServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    caller = TaskCaller(user=user, stub=tasks_service.stub)
    await caller.create("Feed the parrot")
    twin = await caller.create("Feed the parrot")

    run = await respond(
        fixed_agent.stub,
        user.metadata,
        "complete Feed the parrot",
        input_tasks=[ref(twin.id, "Feed the parrot")],
    )

    assert run.calls == [("complete_task", {"task_id": twin.id})]
    assert (await caller.get(twin.id)).state == tasks_pb.TASK_STATE_COMPLETED
    assert twin.id not in run.reply
    assert [r.id for r in run.tasks] == [twin.id]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"model": "no-such-model"}, "model"),
        ({"input_tasks": [ref("", "No id")]}, "input_tasks[0].id"),
        ({"input_tasks": [ref("x" * 129, "Long id")]}, "input_tasks[0].id"),
        ({"input_tasks": [ref(f"t{n}", "T") for n in range(101)]}, "input_tasks"),
    ],
)
async def test_bad_models_and_refs_are_invalid_argument(
    agent_service: AgentServiceHandle, sign_up: Any, fields: dict[str, Any], field: str
) -> None:
    user = await sign_up()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await respond(agent_service.stub, user.metadata, "list my tasks", **fields)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = parse_rpc_error(caught.value).field_violations
    assert [v.field for v in violations] == [field]


async def test_list_models_names_the_offline_and_the_configured_models(
    auth_service: AuthServiceHandle, tasks_service: TasksServiceHandle, sign_up: Any
) -> None:
    user = await sign_up()
    async with running_agent_service(
        auth_service,
        tasks_service.address,
        extra_models="small-model, offline ,big-model,small-model",
        # Nothing is asked of this server unless a turn picks one of its models.
        openai_base_url="http://127.0.0.1:9/v1",
    ) as agent:
        response = await agent.stub.ListModels(
            pb.ListModelsRequest(), metadata=user.metadata, timeout=10
        )
        run = await respond(agent.stub, user.metadata, "list my tasks", model="offline")
    assert [(m.id, m.default) for m in response.models] == [
        ("offline", True),
        ("small-model", False),
        ("big-model", False),
    ]
    assert all(m.label and m.description for m in response.models)
    assert run.run_finished is not None


async def test_list_models_needs_a_token(agent_service: AgentServiceHandle) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agent_service.stub.ListModels(pb.ListModelsRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
