"""Thread titles written by the configured model (`AgentService.SuggestTitle`).

One short model request, outside the assistant's run: no tools, no history, a few tokens. The
offline model writes no title (the caller keeps its deterministic one, which reads the same
whichever words the offline model understood), and neither does a model whose answer is no
usable title; a failing model is UNAVAILABLE, so the caller keeps its own title then too.
"""

from __future__ import annotations

import logging
import re

from agents import ModelSettings, ModelTracing
from agents.items import ItemHelpers
from agents.models.interface import Model
from todo.agent.v1 import agent_service_pb2 as pb
from todo_common.errors import FieldViolation, InvalidArgument, Unavailable

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 60
TITLE_INSTRUCTIONS = (
    "Write a title of 2 to 6 words for a to-do list conversation that starts with the user's "
    "message below. Answer with the title only: no quotes, no full stop, no explanation."
)
_SETTINGS = ModelSettings(max_tokens=24, temperature=0.2, tool_choice=None)


def clean_title(text: str) -> str:
    """The title in a model's answer: its first line, without quotes, labels or a full stop,
    cut at a word boundary ("" when nothing usable is left)."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = re.sub(r"^[\s\"'`*#]*title\s*[*]*\s*:\s*[*]*", "", line, flags=re.IGNORECASE)
    line = line.strip(" \"'`*#").rstrip(".").strip(" \"'`*#")
    line = re.sub(r"\s+", " ", line)
    if len(line) > MAX_TITLE_CHARS:
        cut = line[: MAX_TITLE_CHARS - 1]
        if " " in cut:
            cut = cut[: cut.rindex(" ")]
        line = cut.rstrip(" ,.;:-") + "…"
    return line


async def suggest_title(
    model: Model | None, request: pb.SuggestTitleRequest, *, max_input_chars: int
) -> pb.SuggestTitleResponse:
    """A title for the conversation that starts with `request.text`, written by `model`
    (None: the offline model, which writes none)."""
    text = request.text.strip()
    if not text:
        raise InvalidArgument(
            "The request is not valid.",
            field_violations=[FieldViolation("text", "must contain text, not only white space")],
        )
    if len(request.text) > max_input_chars:
        raise InvalidArgument(
            "The request is not valid.",
            field_violations=[
                FieldViolation("text", f"must be at most {max_input_chars} characters")
            ],
        )
    if model is None:
        return pb.SuggestTitleResponse()
    instructions = TITLE_INSTRUCTIONS
    if request.locale:
        instructions += f" Write it in the language of the user (BCP 47: {request.locale[:35]})."
    try:
        response = await model.get_response(
            system_instructions=instructions,
            input=[{"role": "user", "content": text}],
            model_settings=_SETTINGS,
            tools=[],
            output_schema=None,
            handoffs=[],
            tracing=ModelTracing.DISABLED,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        )
    except Exception as exc:
        log.warning("title request failed", extra={"error": type(exc).__name__})
        raise Unavailable("The assistant's model could not write a title.") from None
    answer = "".join(
        ItemHelpers.extract_last_text(item) or ""
        for item in response.output
        if item.type == "message"
    )
    return pb.SuggestTitleResponse(title=clean_title(answer))
