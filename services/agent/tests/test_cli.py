"""The `todo-agent` command: serves with settings from the environment, logs the "serving"
line, answers Respond, drains on SIGTERM; and how AGENT_MODEL picks the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
from todo.agent.v1 import agent_service_pb2_grpc
from todo_agent.models import ModelConfigurationError, build_model
from todo_agent.offline.model import OfflineModel
from todo_agent.settings import AgentSettings
from todo_testkit.agent import respond
from todo_testkit.auth import AuthServiceHandle
from todo_testkit.processes import start_service
from todo_testkit.tasks import TasksServiceHandle


async def test_serve_answers_and_stops_cleanly(
    auth_service: AuthServiceHandle,
    tasks_service: TasksServiceHandle,
    sign_up: Any,
    tmp_path: Path,
) -> None:
    user = await sign_up()
    service = await start_service(
        "agent",
        {
            "AGENT_TASKS_ADDRESS": tasks_service.address,
            "JWT_AUTH_ADDRESS": auth_service.address,
            "JWT_ISSUER": auth_service.settings.issuer,
            "JWT_AUDIENCE": auth_service.settings.audience,
            "OPENAI_API_KEY": "",
        },
        tmp_path,
    )
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = agent_service_pb2_grpc.AgentServiceStub(channel)
            run = await respond(stub, user.metadata, "add water the plants")  # type: ignore[arg-type]
        assert run.calls == [("add_task", {"title": "Water the plants"})]
        assert run.run_finished is not None
    finally:
        code = await service.stop()
    assert code == 0, service.log_tail()
    log = service.log_path.read_text()
    assert '"msg": "serving"' in log
    assert "Water the plants" not in log  # no message text in the logs
    assert user.access_token not in log


def test_a_model_name_without_credentials_is_refused() -> None:
    settings = AgentSettings(model="gpt-4o-mini", openai_api_key=None, openai_base_url=None)
    with pytest.raises(ModelConfigurationError, match="needs OPENAI_API_KEY"):
        build_model(settings)


def test_model_selection() -> None:
    assert isinstance(build_model(AgentSettings()), OfflineModel)
    compatible = AgentSettings(model="llama3.2", openai_base_url="http://127.0.0.1:11434/v1")
    assert isinstance(build_model(compatible), OpenAIChatCompletionsModel)
    hosted = AgentSettings(model="gpt-4o-mini", openai_api_key="sk-test", openai_base_url=None)
    assert isinstance(build_model(hosted), OpenAIResponsesModel)
