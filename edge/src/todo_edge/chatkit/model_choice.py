"""The models a chat turn may pick (`composer.models` in the ChatKit client), from the agent.

The agent's `ListModels` answers the same list to everyone, so one edge process asks it at most
once per `TTL_SECONDS` (concurrent askers share the one call) and serves the page's
`GET /api/chat/models` and every turn's check of `inference_options.model` from that copy.
A model the list does not hold is refused before anything runs (`unknown_model_message`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from todo.agent.v1 import agent_service_pb2 as agent_pb
from todo.agent.v1 import agent_service_pb2_grpc
from todo_common.channels import bind_caller

# How long one answer of ListModels is used.
TTL_SECONDS = 30.0
# The longest model id a request may name.
MAX_MODEL_CHARS = 200


def unknown_model_message(name: str) -> str:
    """What the user reads when their message names a model the agent does not run."""
    shown = name if len(name) <= 60 else name[:59] + "…"
    return f"The model “{shown}” is not available here. Pick one from the model menu."


class ModelCatalog:
    """The agent's models, cached briefly."""

    def __init__(
        self,
        agent: agent_service_pb2_grpc.AgentServiceStub,
        *,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._agent = agent
        self._timeout = timeout_seconds
        self._clock = clock
        self._models: list[agent_pb.AgentModel] = []
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def models(self, token: str) -> list[agent_pb.AgentModel]:
        """The models, the default first (asks the agent with the caller's token when the copy
        is older than `TTL_SECONDS`; an agent failure raises AioRpcError)."""
        if self._clock() - self._fetched_at < TTL_SECONDS:
            return self._models
        async with self._lock:
            if self._clock() - self._fetched_at >= TTL_SECONDS:
                agent = bind_caller(self._agent, token=token, timeout=self._timeout)
                response = await agent.ListModels(agent_pb.ListModelsRequest())
                self._models = list(response.models)
                self._fetched_at = self._clock()
        return self._models

    async def is_known(self, name: str, token: str) -> bool:
        """Whether a turn may run `name`."""
        if not name or len(name) > MAX_MODEL_CHARS:
            return False
        return any(model.id == name for model in await self.models(token))
