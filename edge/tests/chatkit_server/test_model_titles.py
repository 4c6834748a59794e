"""A new thread's title from the configured model, written in the same agent call as the
first answer (`suggest_title` → `RunFinished.title`), through the real edge and agent."""

from __future__ import annotations

from typing import Any

from agents.items import ModelResponse
from agents.usage import Usage
from openai.types.responses import ResponseOutputMessage, ResponseOutputText
from todo_agent.offline.model import OfflineModel
from todo_agent.titles import TITLE_INSTRUCTIONS
from todo_testkit.chatkit import OwnAgentChat


class TitlingModel(OfflineModel):
    """The offline model's answers, and a title whenever one is asked for."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.asked = 0

    async def get_response(
        self, system_instructions: str | None, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        if not (system_instructions or "").startswith(TITLE_INSTRUCTIONS):
            return await super().get_response(system_instructions, *args, **kwargs)
        self.asked += 1
        text = ResponseOutputText(type="output_text", text=self.title, annotations=[])
        message = ResponseOutputMessage(
            id="msg_title", type="message", role="assistant", status="completed", content=[text]
        )
        return ModelResponse(output=[message], usage=Usage(requests=1), response_id=None)


async def test_the_first_answer_brings_the_models_title(own_agent_chat: OwnAgentChat) -> None:
    model = TitlingModel('Title: "Milk run."')
    async with own_agent_chat(custom_model=model, model="titling-model") as (_, chat):
        stream = await chat.create("add buy milk")
        [updated] = stream.of("thread.updated")
        assert updated["thread"]["title"] == "Milk run"
        again = await chat.say(stream.thread_id, "add buy bread")
        assert again.of("thread.updated") == []
        thread = (await chat.post("threads.get_by_id", {"thread_id": stream.thread_id})).json()
    assert model.asked == 1  # only the first turn asks
    assert thread["title"] == "Milk run"


async def test_no_model_title_keeps_the_derived_one(own_agent_chat: OwnAgentChat) -> None:
    model = TitlingModel("\n")
    async with own_agent_chat(custom_model=model, model="titling-model") as (_, chat):
        stream = await chat.create("add buy milk")
    assert model.asked == 1
    assert stream.of("thread.updated")[0]["thread"]["title"] == "Add buy milk"
