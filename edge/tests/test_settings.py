"""EdgeSettings: environment parsing, and fail-fast start-up outside development."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from todo_edge.settings import EdgeSettings
from todo_testkit.processes import refused_start


def test_defaults_match_the_documented_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("EDGE_"):
            monkeypatch.delenv(name)
    settings = EdgeSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.auth_address == "127.0.0.1:50051"
    assert settings.tasks_address == "127.0.0.1:50052"
    assert settings.agent_address == "127.0.0.1:50053"
    assert settings.cookie_secure is True
    assert settings.max_body_bytes == 1024 * 1024


def test_lists_come_from_comma_separated_or_json_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_CORS_ORIGINS", "https://a.example, https://b.example/")
    monkeypatch.setenv("EDGE_EXTERNAL_ISSUERS", '["https://id.example"]')
    settings = EdgeSettings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.external_issuers == ["https://id.example"]


def test_production_requires_shared_rate_limits_and_secure_cookies() -> None:
    with pytest.raises(ValidationError) as error:
        EdgeSettings(environment="production", cookie_secure=False)
    message = str(error.value)
    assert "EDGE_REDIS_URL" in message
    assert "EDGE_COOKIE_SECURE" in message
    EdgeSettings(environment="production", redis_url="redis://redis:6379/0")


def test_unknown_readiness_backend_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown backends"):
        EdgeSettings(readiness_backends=["auth", "billing"])


def test_serve_fails_fast_with_a_clear_message_on_bad_configuration(tmp_path: Path) -> None:
    env = {"EDGE_ENVIRONMENT": "production", "EDGE_PORT": "0", "EDGE_REDIS_URL": None}
    assert "EDGE_REDIS_URL" in refused_start("edge", env, tmp_path)


def test_the_auth_address_is_edge_auth_address_or_its_alias_jwt_auth_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("EDGE_AUTH_ADDRESS", "JWT_AUTH_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JWT_AUTH_ADDRESS", "auth.internal:50051")
    settings = EdgeSettings()
    # The shared name is not ignored: it is where the edge calls auth and fetches the keys.
    assert settings.auth_address == settings.token.auth_address == "auth.internal:50051"

    monkeypatch.setenv("EDGE_AUTH_ADDRESS", "auth.internal:50051")
    assert EdgeSettings().auth_address == "auth.internal:50051"  # the same address twice: fine

    monkeypatch.setenv("EDGE_AUTH_ADDRESS", "other-auth:50051")
    with pytest.raises(ValidationError, match="name different auth services"):
        EdgeSettings()

    monkeypatch.delenv("JWT_AUTH_ADDRESS")
    assert EdgeSettings().auth_address == EdgeSettings().token.auth_address == "other-auth:50051"
