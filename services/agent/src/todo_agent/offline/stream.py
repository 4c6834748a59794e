"""The offline model's output in the Responses API's shapes: output items, and the event
stream an OpenAI server would send for them.

The runner accepts the same items from `get_response` and the same events from
`stream_response` as from an LLM, so the offline model exercises the real streaming path
(text deltas, tool call events, the final `response.completed`). Text is cut into deltas of a
few words, as a model would stream it.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

from agents.items import TResponseOutputItem, TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

# Words per text delta unless the model is told otherwise.
WORDS_PER_DELTA = 3


def function_call(name: str, arguments: dict[str, Any], number: int) -> ResponseFunctionToolCall:
    """A completed call of tool `name`; `number` keeps its call id unique within the run."""
    return ResponseFunctionToolCall(
        id=f"fc_offline_{number}",
        call_id=f"call_offline_{number}",
        type="function_call",
        name=name,
        arguments=json.dumps(arguments, ensure_ascii=False, separators=(",", ":")),
        status="completed",
    )


def message(text: str, number: int) -> ResponseOutputMessage:
    """A completed assistant message saying `text`."""
    return ResponseOutputMessage(
        id=f"msg_offline_{number}",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])],
    )


def _chunks(text: str, words_per_delta: int) -> list[str]:
    # Whitespace stays with the word before it, so the deltas join back into the exact text.
    words = re.findall(r"\S+\s*|\s+", text)
    step = words_per_delta
    return ["".join(words[i : i + step]) for i in range(0, len(words), step)] or [""]


def stream_events(
    output: list[TResponseOutputItem], words_per_delta: int = WORDS_PER_DELTA
) -> list[TResponseStreamEvent]:
    """The events that stream `output`: created, then per item added → deltas → done, then
    completed (with the whole response), numbered in order."""
    usage = ResponseUsage(
        input_tokens=0,
        output_tokens=0,
        total_tokens=0,
        input_tokens_details=InputTokensDetails.model_validate(
            {"cached_tokens": 0, "cache_write_tokens": 0}
        ),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
    )
    response = Response(
        id="resp_offline",
        created_at=0,
        model="offline",
        object="response",
        output=list(output),
        tool_choice="auto",
        tools=[],
        top_p=None,
        parallel_tool_calls=True,
        status="completed",
        usage=usage,
    )
    events: list[Any] = []
    seq = 0

    def add(event: Any) -> None:
        nonlocal seq
        events.append(event)
        seq += 1

    add(
        ResponseCreatedEvent(
            type="response.created",
            response=response.model_copy(
                update={"output": [], "status": "in_progress", "usage": None}
            ),
            sequence_number=seq,
        )
    )
    for index, item in enumerate(output):
        if isinstance(item, ResponseFunctionToolCall):
            add(
                ResponseOutputItemAddedEvent(
                    type="response.output_item.added",
                    item=item.model_copy(update={"arguments": "", "status": "in_progress"}),
                    output_index=index,
                    sequence_number=seq,
                )
            )
            add(
                ResponseFunctionCallArgumentsDeltaEvent(
                    type="response.function_call_arguments.delta",
                    item_id=item.id or item.call_id,
                    output_index=index,
                    delta=item.arguments,
                    sequence_number=seq,
                )
            )
            add(
                ResponseFunctionCallArgumentsDoneEvent.model_validate(
                    {
                        "type": "response.function_call_arguments.done",
                        "item_id": item.id or item.call_id,
                        "output_index": index,
                        "arguments": item.arguments,
                        "name": item.name,
                        "sequence_number": seq,
                    }
                )
            )
        elif isinstance(item, ResponseOutputMessage):
            part = item.content[0]
            assert isinstance(part, ResponseOutputText)
            add(
                ResponseOutputItemAddedEvent(
                    type="response.output_item.added",
                    item=item.model_copy(update={"content": [], "status": "in_progress"}),
                    output_index=index,
                    sequence_number=seq,
                )
            )
            # Where each event of this text part belongs (the same for all four of them).
            where: dict[str, Any] = {"item_id": item.id, "output_index": index, "content_index": 0}
            add(
                ResponseContentPartAddedEvent(
                    type="response.content_part.added",
                    part=part.model_copy(update={"text": ""}),
                    sequence_number=seq,
                    **where,
                )
            )
            for chunk in _chunks(part.text, words_per_delta):
                add(
                    ResponseTextDeltaEvent(
                        type="response.output_text.delta",
                        delta=chunk,
                        logprobs=[],
                        sequence_number=seq,
                        **where,
                    )
                )
            add(
                ResponseTextDoneEvent(
                    type="response.output_text.done",
                    text=part.text,
                    logprobs=[],
                    sequence_number=seq,
                    **where,
                )
            )
            add(
                ResponseContentPartDoneEvent(
                    type="response.content_part.done", part=part, sequence_number=seq, **where
                )
            )
        add(
            ResponseOutputItemDoneEvent(
                type="response.output_item.done",
                item=item,
                output_index=index,
                sequence_number=seq,
            )
        )
    add(ResponseCompletedEvent(type="response.completed", response=response, sequence_number=seq))
    return cast(list[TResponseStreamEvent], events)
