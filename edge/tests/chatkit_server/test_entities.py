"""Tasks as typed references, end to end (edge, real agent on the offline model, real tasks):
replies carry the tasks they named as entity annotations and never show an id; the history
sends them back as refs, so "the second one" resolves; an @-mention (`input_tag`) of the
user's own task acts on that id; a mention of another user's task, or of none, is plain text.
"""

from __future__ import annotations

from typing import Any

from todo.tasks.v1 import tasks_service_pb2 as tasks_pb
from todo_testkit.chatkit import ChatClient, Stream
from todo_testkit.tasks import TaskCaller


def mention(*parts: str | tuple[str, str]) -> dict[str, Any]:
    """A message of text pieces and task tags ((id, shown text)), as the client sends it."""
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, str):
            content.append({"type": "input_text", "text": part})
        else:
            content.append(
                {
                    "type": "input_tag",
                    "id": part[0],
                    "text": part[1],
                    "data": {"type": "task"},
                    "interactive": True,
                }
            )
    return {"content": content, "attachments": [], "inference_options": {}}


def task_sources(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The task entities an assistant message names (its annotations' sources)."""
    return [
        annotation["source"]
        for part in message["content"]
        for annotation in part.get("annotations", [])
        if annotation["source"].get("type") == "entity"
        and annotation["source"].get("data", {}).get("type") == "task"
    ]


def assert_no_ids(stream: Stream, *task_ids: str) -> None:
    """No text people read in the stream shows a task id or an id mark."""
    for item in stream.done_items():
        texts = [part.get("text", "") for part in item.get("content", [])]
        texts.append(item.get("copy_text") or "")
        for text in texts:
            assert "[id" not in text
            for task_id in task_ids:
                assert task_id not in text


async def test_a_list_reply_names_its_tasks_as_entities_not_in_text(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    milk = await alice_tasks.create("Buy milk")
    dog = await alice_tasks.create("Walk the dog")

    stream = await alice_chat.create("list my tasks")

    [message] = stream.done_items("assistant_message")
    assert "Buy milk" in message["content"][0]["text"]
    assert_no_ids(stream, milk.id, dog.id)
    sources = task_sources(message)
    assert {source["id"] for source in sources} == {milk.id, dog.id}
    assert sorted(source["data"]["position"] for source in sources) == [1, 2]
    assert {source["title"] for source in sources} == {"Buy milk", "Walk the dog"}
    # Kept as streamed: a reload shows the same entities.
    items = await alice_chat.items(stream.thread_id)
    [stored] = [item for item in items["data"] if item["type"] == "assistant_message"]
    assert task_sources(stored) == sources


async def test_the_second_one_resolves_from_the_refs_in_history(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    await alice_tasks.create("Buy milk")
    await alice_tasks.create("Walk the dog")
    await alice_tasks.create("Call mum")
    listed = await alice_chat.create("list my tasks")
    [message] = listed.done_items("assistant_message")
    by_position = {s["data"]["position"]: s["id"] for s in task_sources(message)}

    done = await alice_chat.say(listed.thread_id, "mark the second one done")

    assert "error" not in done.types, done.events
    second = await alice_tasks.get(by_position[2])
    assert second.state == tasks_pb.TASK_STATE_COMPLETED
    for position in (1, 3):
        assert (await alice_tasks.get(by_position[position])).state == tasks_pb.TASK_STATE_OPEN
    assert_no_ids(done, *by_position.values())
    # "it" then means the task just completed, also from the refs.
    reopened = await alice_chat.say(listed.thread_id, "reopen it")
    assert "error" not in reopened.types, reopened.events
    assert (await alice_tasks.get(by_position[2])).state == tasks_pb.TASK_STATE_OPEN


async def test_a_mention_acts_on_that_task_even_with_a_twin_title(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    first = await alice_tasks.create("Feed the parrot")
    twin = await alice_tasks.create("Feed the parrot")

    stream = await alice_chat.stream(
        "threads.create", {"input": mention("complete ", (twin.id, "Feed the parrot"))}
    )

    assert "error" not in stream.types, stream.events
    # The title alone would have been ambiguous: the tag's id decided.
    assert (await alice_tasks.get(twin.id)).state == tasks_pb.TASK_STATE_COMPLETED
    assert (await alice_tasks.get(first.id)).state == tasks_pb.TASK_STATE_OPEN
    [user_item] = stream.done_items("user_message")
    assert [part["type"] for part in user_item["content"]] == ["input_text", "input_tag"]
    assert_no_ids(stream, twin.id, first.id)


async def test_two_mentions_in_one_message(alice_chat: ChatClient, alice_tasks: TaskCaller) -> None:
    milk = await alice_tasks.create("Buy milk")
    dog = await alice_tasks.create("Walk the dog")
    keep = await alice_tasks.create("Buy milk again")

    stream = await alice_chat.stream(
        "threads.create",
        {"input": mention("delete ", (milk.id, "Buy milk"), " and ", (dog.id, "Walk the dog"))},
    )

    assert "error" not in stream.types, stream.events
    remaining = {task.id for task in await alice_tasks.list_all()}
    assert keep.id in remaining
    assert milk.id not in remaining and dog.id not in remaining


async def test_a_mention_of_another_users_task_is_plain_text(
    alice_chat: ChatClient, alice_tasks: TaskCaller, bob_tasks: TaskCaller
) -> None:
    secret = await bob_tasks.create("Bob's secret plan")

    stream = await alice_chat.stream(
        "threads.create", {"input": mention("complete ", (secret.id, "Bob's secret plan"))}
    )

    assert (await bob_tasks.get(secret.id)).state == tasks_pb.TASK_STATE_OPEN
    # Past the echo of what the client sent, the id is never seen again (not used, not shown).
    assert secret.id not in str(stream.events[2:])
    [replaced] = [e["item"] for e in stream.of("thread.item.replaced")]
    assert [part["type"] for part in replaced["content"]] == ["input_text", "input_text"]
    # The stored message holds no tag either, so later turns never send the id.
    items = await alice_chat.items(stream.thread_id)
    [user_item] = [item for item in items["data"] if item["type"] == "user_message"]
    assert all(part["type"] == "input_text" for part in user_item["content"])
    assert secret.id not in str(items)


async def test_a_mention_of_a_missing_task_behaves_like_a_foreign_one(
    alice_chat: ChatClient, alice_tasks: TaskCaller
) -> None:
    gone = await alice_tasks.create("Old chore")
    await alice_tasks.delete(gone.id)

    stream = await alice_chat.stream(
        "threads.create", {"input": mention("complete ", (gone.id, "Old chore"))}
    )
    unknown = await alice_chat.stream(
        "threads.create", {"input": mention("complete ", ("no-such-task-0000", "Mystery"))}
    )

    for each in (stream, unknown):
        [replaced] = [e["item"] for e in each.of("thread.item.replaced")]
        assert all(part["type"] == "input_text" for part in replaced["content"])
        # The model got no ref: it looked the words up and found nothing.
        assert "couldn't find" in each.reply.lower(), each.reply
