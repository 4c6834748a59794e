"""The command-line runner: commands, settings errors (exit 2, variable named, value never
echoed), command failures and the no-database `migrate`."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from typing import Self

import pytest
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from todo_common.cli import Command, CommandError, ConfigurationError, ProcessCli
from todo_common.settings import Port, ProcessSettings


class ExampleSettings(ProcessSettings):
    """A process with a port, a bounded number and a secret that production requires."""

    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore", env_file=None)

    port: Port = 7000
    workers: int = Field(default=2, ge=1)
    secret: SecretStr | None = None

    @model_validator(mode="after")
    def _secret_in_production(self) -> Self:
        if self.environment == "production" and len(self.secret or "") < 32:
            raise ValueError("production needs EXAMPLE_SECRET (32+ characters)")
        return self


def example_cli(record: list[str]) -> ProcessCli[ExampleSettings]:
    async def serve(settings: ExampleSettings) -> None:
        record.append(f"serve on {settings.port}")

    async def migrate(settings: ExampleSettings) -> None:
        record.append("migrate")

    async def greet(settings: ExampleSettings, args: argparse.Namespace) -> None:
        if args.name == "nobody":
            raise CommandError("nobody to greet")
        if args.name == "misconfigured":
            raise ConfigurationError("EXAMPLE_WORKERS cannot greet")
        record.append(f"hello {args.name}")

    def name_argument(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", required=True)

    return ProcessCli(
        name="example",
        description="An example process.",
        settings=ExampleSettings,
        serve=serve,
        migrate=migrate,
        commands=[Command("greet", "say hello", greet, name_argument)],
    )


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No EXAMPLE_ variables from outside; the root logger as it was after each test (the
    runner configures logging for the whole process)."""
    for name in ("EXAMPLE_PORT", "EXAMPLE_WORKERS", "EXAMPLE_SECRET", "EXAMPLE_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_serve_is_the_default_and_commands_get_their_arguments() -> None:
    record: list[str] = []
    cli = example_cli(record)
    assert cli.main([]) == 0
    assert cli.main(["serve"]) == 0
    assert cli.main(["migrate"]) == 0
    assert cli.main(["greet", "--name", "ada"]) == 0
    assert record == ["serve on 7000", "serve on 7000", "migrate", "hello ada"]


def test_invalid_settings_exit_2_naming_the_variable_without_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXAMPLE_WORKERS", "0")
    monkeypatch.setenv("EXAMPLE_ENVIRONMENT", "production")
    monkeypatch.setenv("EXAMPLE_SECRET", "too-short-but-still-secret")
    record: list[str] = []
    assert example_cli(record).main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("todo-example: invalid settings:\n")
    assert "EXAMPLE_WORKERS: Input should be greater than or equal to 1" in err
    assert "too-short-but-still-secret" not in err
    assert "Traceback" not in err
    assert record == []  # nothing ran

    monkeypatch.setenv("EXAMPLE_WORKERS", "3")
    assert example_cli(record).main(["serve"]) == 2
    assert "production needs EXAMPLE_SECRET (32+ characters)" in capsys.readouterr().err


def test_command_failures_print_their_message_and_set_the_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli = example_cli([])
    assert cli.main(["greet", "--name", "nobody"]) == 1
    assert capsys.readouterr().err == "todo-example: nobody to greet\n"
    assert cli.main(["greet", "--name", "misconfigured"]) == 2
    assert capsys.readouterr().err == "todo-example: EXAMPLE_WORKERS cannot greet\n"


def test_migrate_without_a_database_does_nothing_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    served: list[str] = []

    async def serve(settings: ExampleSettings) -> None:
        served.append("serve")

    cli = ProcessCli(name="stateless", description="", settings=ExampleSettings, serve=serve)
    assert cli.main(["migrate"]) == 0
    assert served == []
    [line] = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert (line["service"], line["msg"]) == ("stateless", "nothing to migrate")


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        example_cli([]).main(["launch"])
    assert exited.value.code == 2
    assert "invalid choice: 'launch'" in capsys.readouterr().err
