"""Token usage of a run: what the model server counted, or an estimate that says it is one.

OpenAI-compatible servers report a streamed request's token counts only when asked
(`stream_options.include_usage`, which `todo_agent.models` sends) and some never do. A request
that came back without counts is estimated from the length of what was sent and received
(`estimate_tokens`), and the run's `Usage.estimated` is set, so nobody reads a guess as a count.

The model object is shared by every turn, so it cannot keep a turn's tally itself: the service
opens a `UsageTally` for each run (`track_run_usage`) before the SDK starts the run's task,
which inherits it through a context variable; the model marks it (`note_estimated_request`).
"""

from __future__ import annotations

import json
import math
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from agents.usage import Usage
from todo.agent.v1 import agent_service_pb2 as pb

# A rough average for English text and JSON under the tokenizers in use (GPT, Llama, SmolLM).
CHARS_PER_TOKEN = 4.0


@dataclass
class UsageTally:
    """How many of one run's model requests had their token counts estimated."""

    estimated_requests: int = 0


_CURRENT: ContextVar[UsageTally | None] = ContextVar("todo_agent_usage_tally", default=None)


def track_run_usage() -> UsageTally:
    """A new tally for the run about to start in the current context (and the tasks it
    starts)."""
    tally = UsageTally()
    _CURRENT.set(tally)
    return tally


def note_estimated_request() -> None:
    """Marks the current run's usage as partly estimated (no-op outside a tracked run)."""
    tally = _CURRENT.get()
    if tally is not None:
        tally.estimated_requests += 1


def estimate_tokens(value: Any) -> int:
    """Tokens `value` (text, or anything JSON can write) takes, estimated from its length."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def usage_message(usage: Usage, tally: UsageTally | None) -> pb.Usage:
    """The run's usage as the RunFinished event carries it."""
    return pb.Usage(
        requests=usage.requests,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        estimated=tally is not None and tally.estimated_requests > 0,
    )
