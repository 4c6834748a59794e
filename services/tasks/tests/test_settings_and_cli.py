"""Settings fail fast where they must, and the `todo-tasks` command works as documented."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError
from todo.tasks.v1 import tasks_service_pb2 as pb
from todo.tasks.v1 import tasks_service_pb2_grpc as pb_grpc
from todo_tasks.__main__ import main as cli_main
from todo_tasks.page_tokens import Cursor, PageTokenCodec
from todo_tasks.settings import TasksSettings
from todo_testkit.processes import run_command, start_service

BIN = Path(sys.executable).parent


def test_defaults(monkeypatch):
    for key in list(os.environ):
        if key.startswith("TASKS_"):
            monkeypatch.delenv(key)
    settings = TasksSettings()
    assert settings.port == 50052
    assert settings.database_url == "sqlite+aiosqlite:///data/tasks.db"
    assert settings.database_schema == "tasks"
    assert settings.environment == "development"
    # Development gets a random per-process page-token key.
    assert settings.page_token_key != TasksSettings().page_token_key


def test_environment_variables_use_the_tasks_prefix(monkeypatch):
    monkeypatch.setenv("TASKS_PORT", "6000")
    monkeypatch.setenv("TASKS_DATABASE_SCHEMA", "tasks_other")
    monkeypatch.setenv("TASKS_PAGE_TOKEN_SECRET", "s" * 40)
    settings = TasksSettings()
    assert (settings.port, settings.database_schema) == (6000, "tasks_other")
    assert settings.page_token_key == b"s" * 40


def test_production_requires_a_page_token_secret(monkeypatch):
    monkeypatch.delenv("TASKS_PAGE_TOKEN_SECRET", raising=False)
    with pytest.raises(ValidationError, match="TASKS_PAGE_TOKEN_SECRET"):
        TasksSettings(environment="production")
    with pytest.raises(ValidationError, match="TASKS_PAGE_TOKEN_SECRET"):
        TasksSettings(environment="production", page_token_secret="too-short")
    assert TasksSettings(environment="production", page_token_secret="p" * 32).page_token_key


def test_page_tokens_from_another_key_are_rejected():
    ours = PageTokenCodec(b"k" * 32)
    theirs = PageTokenCodec(b"x" * 32)
    fingerprint = ours.fingerprint("user", {"order": "create_time"})
    token = theirs.encode(fingerprint, Cursor(key=None, last_id="id"))
    with pytest.raises(Exception, match="page token"):
        ours.decode(token, fingerprint)
    assert ours.decode(ours.encode(fingerprint, Cursor(key=3, last_id="id")), fingerprint).key == 3


def test_cli_refuses_to_start_in_production_without_a_secret(monkeypatch, capsys):
    monkeypatch.setenv("TASKS_ENVIRONMENT", "production")
    monkeypatch.delenv("TASKS_PAGE_TOKEN_SECRET", raising=False)
    assert cli_main(["serve"]) == 2
    assert "TASKS_PAGE_TOKEN_SECRET" in capsys.readouterr().err


async def test_cli_migrates_serves_and_stops_gracefully(auth_service, sign_up, tmp_path):
    env = {
        "TASKS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "TASKS_LOG_LEVEL": "WARNING",  # the "serving" line must still be printed
        "TASKS_SHUTDOWN_GRACE_SECONDS": "1",
        "JWT_AUTH_ADDRESS": auth_service.address,
        "JWT_ISSUER": auth_service.settings.token.issuer,
        "JWT_AUDIENCE": auth_service.settings.token.audience,
    }
    await run_command("tasks", "migrate", env=env)
    service = await start_service("tasks", env, tmp_path / "logs")
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(
                health_pb2.HealthCheckRequest(service="todo.tasks.v1.TaskService"), timeout=10
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            user = await sign_up()
            stub = pb_grpc.TaskServiceStub(channel)
            created = await stub.CreateTask(
                pb.CreateTaskRequest(task=pb.Task(title="via the CLI server")),
                metadata=user.metadata,
                timeout=10,
            )
            listed = await stub.ListTasks(pb.ListTasksRequest(), metadata=user.metadata, timeout=10)
            assert [t.id for t in listed.tasks] == [created.task.id]
    finally:
        exit_code = await service.stop()
    assert exit_code == 0, service.log_tail()
