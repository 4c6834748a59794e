"""Why a run failed, as the user reads it: exceptions → user-safe, correctly retryable `RunFailed`.

"Please try again" is only said when trying again may help:
- The client already retried connection errors, 408, 409, 429 and 5xx (`model_max_retries`),
  so a 500 still standing after that is the server failing on this request (a llama.cpp
  server answers 500 to a message it cannot template): retrying the same conversation gets
  the same answer. 502, 503 and 504 are a gateway or an overloaded server: they pass.
- Any other 4xx is the request (too long, a model name the server does not know, refused
  credentials): the same request fails the same way.
- A read timeout is a server that took the request and did not answer in time, not one that
  could not be reached (a refused connection, which the HTTP client reports as a connect
  timeout); both are worth another try.
- An empty model turn (`EmptyModelReply`) is usually a conversation the model's context
  cannot hold; the same conversation overflows again.
Never includes provider text: it can hold internals (keys, hosts, prompt fragments).
"""

from __future__ import annotations

import httpx2
import openai
from agents import MaxTurnsExceeded, ModelBehaviorError
from todo.agent.v1 import agent_service_pb2 as pb


class EmptyModelReply(ModelBehaviorError):
    """The model server answered a turn with no text and no tool call (a server that ran out of
    context often answers 200 with an empty stream)."""


TRY_AGAIN = "Please try again in a moment."
EMPTY_REPLY_MESSAGE = (
    "The assistant's model sent back an empty answer, which usually means this conversation "
    "is too long for it. Start a new conversation or send a shorter message."
)
# HTTP statuses of a model server that pass: a gateway or an overloaded server.
TRANSIENT_STATUSES = frozenset({408, 409, 502, 503, 504})


def _failed(code: pb.FailureCode.ValueType, message: str, *, retryable: bool) -> pb.RunFailed:
    return pb.RunFailed(code=code, message=message, retryable=retryable)


def _status_failure(error: openai.APIStatusError) -> pb.RunFailed:
    unavailable = pb.FAILURE_CODE_MODEL_UNAVAILABLE
    status = error.status_code
    if status in TRANSIENT_STATUSES:
        return _failed(
            unavailable,
            f"The assistant's model is overloaded right now. {TRY_AGAIN}",
            retryable=True,
        )
    if status in (401, 403):
        return _failed(
            unavailable,
            "The assistant's model is not set up correctly (its credentials were refused). "
            "Please tell the administrator.",
            retryable=False,
        )
    if status == 404:
        return _failed(
            unavailable,
            "The assistant's model is not set up correctly (the model server does not know the "
            "configured model). Please tell the administrator.",
            retryable=False,
        )
    if status in (400, 413, 422) and _is_context_overflow(error):
        return _failed(unavailable, EMPTY_REPLY_MESSAGE, retryable=False)
    if status >= 500:
        return _failed(
            unavailable,
            "The assistant's model failed on this conversation and would fail the same way "
            "again. Start a new conversation, or tell the administrator if it keeps happening.",
            retryable=False,
        )
    return _failed(
        unavailable, "The assistant's model could not handle this request.", retryable=False
    )


def _is_context_overflow(error: openai.APIStatusError) -> bool:
    """Whether the server said the request is longer than the model's context (read, never
    repeated to the user)."""
    text = f"{getattr(error, 'code', '') or ''} {error.message}".lower()
    return "context" in text and any(
        word in text for word in ("length", "exceed", "window", "too long", "maximum")
    )


def _never_connected(error: BaseException) -> bool:
    """Whether the request never reached the server: the HTTP client reports a refused
    connection as a connect *timeout* (`httpx2.ConnectTimeout`), which is no slow answer."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx2.ConnectError | httpx2.ConnectTimeout | ConnectionError):
            return True
        current = current.__cause__ or current.__context__
    return False


def failure_for(error: BaseException) -> pb.RunFailed:
    """A user-safe RunFailed for an exception that ended a run."""
    unavailable = pb.FAILURE_CODE_MODEL_UNAVAILABLE
    if isinstance(error, MaxTurnsExceeded):
        return _failed(
            pb.FAILURE_CODE_LIMIT_EXCEEDED,
            "That needed more steps than the assistant may take for one message. "
            "Try asking for less at once.",
            retryable=False,
        )
    if isinstance(error, openai.RateLimitError):
        return _failed(
            pb.FAILURE_CODE_RATE_LIMITED,
            f"The assistant's model is busy right now. {TRY_AGAIN}",
            retryable=True,
        )
    if isinstance(error, openai.APITimeoutError) and not _never_connected(error):
        return _failed(
            unavailable,
            f"The assistant's model took too long to answer. {TRY_AGAIN}",
            retryable=True,
        )
    if isinstance(error, openai.APIConnectionError):
        return _failed(
            unavailable, f"The assistant's model could not be reached. {TRY_AGAIN}", retryable=True
        )
    if isinstance(error, openai.APIStatusError):
        return _status_failure(error)
    if isinstance(error, EmptyModelReply):
        return _failed(unavailable, EMPTY_REPLY_MESSAGE, retryable=False)
    if isinstance(error, ModelBehaviorError):
        return _failed(
            unavailable,
            f"The assistant's model gave an answer that could not be used. {TRY_AGAIN}",
            retryable=True,
        )
    return _failed(
        pb.FAILURE_CODE_INTERNAL,
        "Something went wrong on our side while answering. Please try again.",
        retryable=False,
    )


def limit_failure(*, caller_deadline: bool) -> pb.RunFailed:
    """The run ran out of time."""
    message = (
        "The request's deadline passed before the assistant finished."
        if caller_deadline
        else "The assistant took too long to answer and was stopped."
    )
    return _failed(pb.FAILURE_CODE_LIMIT_EXCEEDED, message, retryable=True)
