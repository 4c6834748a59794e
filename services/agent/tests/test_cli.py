"""The `todo-agent` command: serves with settings from the environment, logs the "serving"
line, answers Respond, drains on SIGTERM; and how AGENT_MODEL picks the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
from todo.agent.v1 import agent_service_pb2_grpc
from todo_agent.__main__ import main as agent_main
from todo_agent.models import ModelConfigurationError, build_model, build_models
from todo_agent.offline.model import OfflineModel
from todo_agent.settings import AgentSettings
from todo_testkit.agent import respond
from todo_testkit.auth import AuthServiceHandle
from todo_testkit.processes import refused_start, start_service
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
            "JWT_ISSUER": auth_service.settings.token.issuer,
            "JWT_AUDIENCE": auth_service.settings.token.audience,
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


def test_serve_with_a_model_it_cannot_use_exits_2_with_the_reason(tmp_path: Path) -> None:
    env = {
        "AGENT_MODEL": "gpt-4o-mini",
        "AGENT_PORT": "0",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": None,
    }
    stderr = refused_start("agent", env, tmp_path)
    assert "todo-agent: AGENT_MODEL='gpt-4o-mini' needs OPENAI_API_KEY" in stderr


def test_invalid_settings_exit_2_naming_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AGENT_MAX_TURNS", "500")
        assert agent_main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "todo-agent: invalid settings:" in err
    assert "AGENT_MAX_TURNS: Input should be less than or equal to 50" in err


def test_model_connections_are_spread_over_clients_of_bounded_pools() -> None:
    assert len(build_models(AgentSettings())) == 1  # the offline model needs no connection
    settings = AgentSettings(
        model="llama3.2", openai_base_url="http://127.0.0.1:11434/v1", max_concurrent_turns=300
    )
    models = build_models(settings)
    assert len(models) == 3
    assert all(isinstance(m, OpenAIChatCompletionsModel) for m in models)
    assert len({id(m._client) for m in models}) == 3  # type: ignore[attr-defined]
    assert len(build_models(settings.model_copy(update={"model_max_connections": 128}))) == 1
