"""The migrations create exactly the tables the models declare (no drift), and settings parse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from todo_auth.models import Base
from todo_auth.server import migrate, open_database
from todo_auth.settings import AuthSettings
from todo_common.migrations import database_names, declared_names
from todo_testkit import databases
from todo_testkit.auth import auth_test_settings


async def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    database = databases.new_database("auth", tmp_path)
    settings = auth_test_settings(database)
    try:
        await migrate(settings)
        await migrate(settings)  # idempotent
        db = open_database(settings)
        try:
            async with db.engine.connect() as connection:

                def diff(sync_connection: Any) -> list[Any]:
                    context = MigrationContext.configure(
                        sync_connection, opts={"compare_type": True}
                    )
                    return list(compare_metadata(context, Base.metadata))

                assert await connection.run_sync(diff) == []
        finally:
            await db.dispose()
    finally:
        await databases.drop_database(database)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_PORT", "6000")
    monkeypatch.setenv("JWT_ISSUER", "https://auth.example.com")
    monkeypatch.setenv("JWT_AUDIENCE", "example-api")
    monkeypatch.setenv(
        "AUTH_EXTERNAL_ISSUERS",
        '[{"issuer": "https://id.example.com", "jwks_url": "https://id.example.com/api/auth/jwks"}]',
    )
    settings = AuthSettings()
    assert settings.port == 6000
    assert settings.token.issuer == "https://auth.example.com"
    assert settings.token.audience == "example-api"
    assert settings.access_token_ttl_seconds == 900
    assert settings.database_url == "sqlite+aiosqlite:///data/auth.db"
    assert settings.database_schema == "auth"
    [issuer] = settings.external_issuers
    assert issuer.algorithms == ["EdDSA", "RS256", "ES256"]
    assert issuer.audience is None


@pytest.mark.parametrize(
    "entry",
    [
        {"issuer": "https://a.example"},  # no key source
        {"issuer": "https://a.example", "jwks_url": "https://a", "jwks_file": "/k.json"},
        {"issuer": "https://a.example", "jwks_url": "https://a", "algorithms": ["HS256"]},
        {"issuer": "https://a.example", "jwks_url": "https://a", "algorithms": ["none"]},
    ],
)
def test_bad_external_issuer_config_fails_fast(entry: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AuthSettings(external_issuers=[entry])


def test_jwks_url_must_be_http() -> None:
    with pytest.raises(ValidationError):
        AuthSettings(external_issuers=[{"issuer": "x", "jwks_url": "file:///etc/passwd"}])


async def test_every_index_and_constraint_name_follows_the_shared_rule(tmp_path: Path) -> None:
    # Auth's old rule named an index after its first column only; every auth index has one
    # column (or had the rule's name written out by hand), so the names already agree.
    database = databases.new_database("auth", tmp_path)
    settings = auth_test_settings(database)
    try:
        await migrate(settings)
        db = open_database(settings)
        try:
            async with db.engine.connect() as connection:
                names = await connection.run_sync(database_names, sorted(Base.metadata.tables))
        finally:
            await db.dispose()
    finally:
        await databases.drop_database(database)
    assert names == declared_names(Base.metadata)
    assert ("sign_in_failures", "ix", "ix_sign_in_failures_email_fail_time") in names
