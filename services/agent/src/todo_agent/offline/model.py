"""`OfflineModel`: a deterministic Agents SDK `Model` that needs no network and no API key.

Each call reads the conversation the runner passes in (`conversation.read_turn`: the same input
items an LLM would get), understands the newest user message (`grammar.parse`), lets the planner
choose the next step, and returns it as the Responses API would (`stream`): tool calls, or —
once this turn's tool outputs are in the input — one message that summarises them. Urdu
messages are first handed off to the Urdu agent through the SDK handoff it is offered. A
composer tool the user picked (the instructions' intent line) decides the command instead
(`intents`).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents import Handoff, ModelResponse, Tool, Usage
from agents.items import TResponseInputItem, TResponseOutputItem, TResponseStreamEvent
from agents.models.interface import Model

from todo_agent.offline import stream
from todo_agent.offline.contract import Offered
from todo_agent.offline.conversation import read_turn
from todo_agent.offline.grammar import is_urdu, parse
from todo_agent.offline.intents import implied_intent, intent_command
from todo_agent.offline.planner import Decision, Planner

# How the SDK calls a model (`get_response` and `stream_response` take the same arguments): the
# offline model reads the few it needs from the call as the SDK declares it.
_SDK_CALL = inspect.signature(Model.get_response)
# The Urdu agent's handoff tool is `transfer_to_urdu_assistant`.
URDU_AGENT_MARKER = "transfer_to_urdu"


class OfflineModel(Model):
    """The deterministic model behind `AGENT_MODEL=offline`."""

    def __init__(self, *, words_per_delta: int = stream.WORDS_PER_DELTA) -> None:
        self._words_per_delta = max(1, words_per_delta)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        """`Model.get_response`: the whole step at once."""
        output = self._respond_to(args, kwargs)
        return ModelResponse(output=output, usage=Usage(requests=1), response_id=None)

    async def stream_response(
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[TResponseStreamEvent]:
        """`Model.stream_response`: the same step, as the events of a streamed response."""
        output = self._respond_to(args, kwargs)
        for event in stream.stream_events(output, self._words_per_delta):
            yield event

    def _respond_to(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> list[TResponseOutputItem]:
        """The output for one SDK model call, its arguments read by the SDK's own signature."""
        call = _SDK_CALL.bind(self, *args, **kwargs).arguments
        return self.respond(
            call["system_instructions"], call["input"], call["tools"], call["handoffs"]
        )

    def respond(
        self,
        instructions: str | None,
        input: str | list[TResponseInputItem],
        tools: Sequence[Tool],
        handoffs: Sequence[Handoff],
    ) -> list[TResponseOutputItem]:
        """The output items for one model call: tool calls or one assistant message."""
        turn = read_turn(instructions, input)
        urdu = is_urdu(turn.user_text)
        if urdu and not turn.handed_off:
            target = next((h for h in handoffs if URDU_AGENT_MARKER in h.tool_name), None)
            if target is not None:
                return [stream.function_call(target.tool_name, {}, turn.call_count + 1)]
        lang = "ur" if urdu else "en"
        offered = Offered.from_tools(tools)
        intent = turn.intent or implied_intent(turn.user_text)
        command = intent_command(intent, turn.user_text, turn.now) if intent else None
        if command is None:
            command = parse(turn.user_text, turn.now)
        decision = Planner(command, turn, lang, offered).decide()
        available = set(offered.tools)
        if decision.calls and all(name in available for name, _ in decision.calls):
            return [
                stream.function_call(name, arguments, turn.call_count + index)
                for index, (name, arguments) in enumerate(decision.calls, start=1)
            ]
        if decision.calls:
            # The agent was built without the tools this step needs: say so, call nothing.
            decision = Decision.say("I can't reach the task tools right now.")
        return [stream.message(decision.reply or "", turn.call_count)]
