"""A new thread's title from the configured model (`AgentService.SuggestTitle`), or none.

The edge has no model of its own: the agent service owns the model configuration, so it
writes the title. It writes none for the offline model, and a slow or failing agent must not
hold up the end of the first exchange for long: after `TITLE_TIMEOUT_SECONDS`, or on any
error, the caller keeps its deterministic title (`server.derive_title`).
"""

from __future__ import annotations

import logging

import grpc
from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo.agent.v1 import agent_service_pb2_grpc
from todo_common.channels import bind_caller

log = logging.getLogger(__name__)

TITLE_TIMEOUT_SECONDS = 20.0


async def model_title(
    agent: agent_service_pb2_grpc.AgentServiceStub,
    text: str,
    *,
    token: str,
    locale: str,
    max_chars: int,
) -> str:
    """The configured model's title for a thread that starts with `text`, or ""."""
    stub = bind_caller(agent, token=token, timeout=TITLE_TIMEOUT_SECONDS)
    try:
        response: agent_pb.SuggestTitleResponse = await stub.SuggestTitle(
            agent_pb.SuggestTitleRequest(text=text[:max_chars], locale=locale)
        )
    except grpc.aio.AioRpcError as error:
        log.info("no model title", extra={"code": error.code().name})
        return ""
    return response.title.strip()
