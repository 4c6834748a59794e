"""A scripted model whose first reply waits at a gate: a test holds a chat turn under way at
the model (to act while it runs) and lets it finish when it chooses, never by a sleep."""

from __future__ import annotations

import asyncio
from typing import Any

from agents.testing import ModelStep, ScriptedModel, assistant_message


class ModelGate:
    """A scripted model whose first call waits at the gate until `release()`; every call
    answers "Done." once through."""

    def __init__(self, calls: int) -> None:
        self.entered = asyncio.Event()
        self.released = asyncio.Event()
        later = [[assistant_message("Done.")]] * (calls - 1)
        self.model = ScriptedModel([ModelStep.respond(self._held), *later])

    async def _held(self, _call: Any) -> list[Any]:
        self.entered.set()
        await self.released.wait()
        return [assistant_message("Done.")]

    def release(self) -> None:
        self.released.set()
