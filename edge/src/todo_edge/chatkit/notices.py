"""Notices (ChatKit `NoticeEvent` banners) about which model answers the chat.

- The built-in offline model answers: an info notice, once per thread (the thread's
  metadata remembers it was shown; the flag is saved with the thread's other end-of-turn
  changes, so it costs no write of its own on a new thread).
- The model (or the agent service) cannot be reached: a warning, every time, before the
  error event that offers a retry.
"""

from __future__ import annotations

import grpc
from chatkit.types import NoticeEvent, ThreadMetadata
from todo.agent.v1 import agent_service_pb2 as agent_pb

OFFLINE_NOTICE = (
    "Running on the built-in offline assistant — it understands task commands, not open "
    "conversation."
)
UNREACHABLE_NOTICE = (
    "The assistant's model can't be reached right now. Your tasks are safe; try again in a moment."
)
# The thread metadata key that records the offline notice was shown.
OFFLINE_NOTICE_SHOWN = "offline_notice_shown"


def offline_notice_shown(thread: ThreadMetadata) -> bool:
    """True once the thread has shown the offline notice."""
    return bool(thread.metadata.get(OFFLINE_NOTICE_SHOWN))


def note_offline_notice(thread: ThreadMetadata) -> None:
    """Remembers on the thread (saved by the SDK when the turn ends) that it was shown."""
    thread.metadata[OFFLINE_NOTICE_SHOWN] = True


def offline_notice() -> NoticeEvent:
    """The info notice for a thread the offline model answers."""
    return NoticeEvent(level="info", message=OFFLINE_NOTICE)


def unreachable_notice() -> NoticeEvent:
    """The warning for a model (or agent service) that cannot be reached."""
    return NoticeEvent(level="warning", message=UNREACHABLE_NOTICE)


def is_unreachable_failure(failed: agent_pb.RunFailed) -> bool:
    """True when the run failed because the model could not be reached (a refusal that will
    not pass on a retry, such as a bad API key, is no outage)."""
    return failed.code == agent_pb.FAILURE_CODE_MODEL_UNAVAILABLE and failed.retryable


def is_unreachable_call(error: grpc.aio.AioRpcError) -> bool:
    """True when the agent service itself could not be reached."""
    return bool(error.code() == grpc.StatusCode.UNAVAILABLE)
