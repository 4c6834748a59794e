"""The `todo-auth` command: serve (default), migrate, rotate-keys, dev-token."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from todo_common.cli import Command, CommandError, ProcessCli, serve_grpc
from todo_common.errors import Unavailable

from todo_auth.passwords import PasswordService
from todo_auth.repository import RefreshTokenRepository, SigningKeyRepository, UserRepository
from todo_auth.server import access_token_issuer, migrate, open_database, start_auth_server
from todo_auth.service import email_violation, key_retention, normalise_email
from todo_auth.settings import AuthSettings

log = logging.getLogger("todo_auth")


async def serve(settings: AuthSettings) -> None:
    """Runs the server until SIGINT/SIGTERM."""
    try:
        running = await start_auth_server(settings)
    except Unavailable:
        # A missing table looks like any other database error at this level; say both.
        raise CommandError(
            "cannot start: the database is unreachable or not migrated (run `todo-auth migrate`)"
        ) from None
    await serve_grpc("auth", settings, running)


async def rotate_keys(settings: AuthSettings) -> str:
    """Makes a new current signing key; older keys stay published until their tokens expire.

    Returns the new key id. Running servers sign with the new key from their next token on.
    """
    database = open_database(settings)
    try:
        async with database.session() as session:
            key = await SigningKeyRepository(session).rotate(
                datetime.now(UTC), key_retention(settings)
            )
    finally:
        await database.dispose()
    log.info("signing key rotated", extra={"kid": key.kid})
    return key.kid


async def dev_token(settings: AuthSettings, email: str) -> str:
    """An access token for `email`, creating the user (with an unusable password) if needed.

    Migrates first, so it works on a fresh development database.
    """
    email = normalise_email(email)
    if (violation := email_violation(email)) is not None:
        raise CommandError(f"dev-token: {violation.description}")
    await migrate(settings)
    database = open_database(settings)
    passwords = PasswordService(settings)
    try:
        now = datetime.now(UTC)
        async with database.session() as session:
            users = UserRepository(session)
            user = await users.get_by_email(email)
            if user is None:
                # Nobody knows this password: the user signs in with dev tokens only until
                # they set one (or use SignUp with another email).
                unusable = await passwords.hash(secrets.token_urlsafe(32))
                user = await users.add(
                    email=email, display_name="", password_hash=unusable, now=now
                )
                log.info("dev user created", extra={"user_id": user.id})
            key = await SigningKeyRepository(session).ensure_current(now)
            # A session of its own, so signing out with the token ends it too.
            family_id = await RefreshTokenRepository(session).start_family(user.id, now)
        return access_token_issuer(settings).issue(key, user.id, now, session_id=family_id).token
    finally:
        passwords.close()
        await database.dispose()


async def _rotate_keys(settings: AuthSettings, _args: argparse.Namespace) -> None:
    print(await rotate_keys(settings))


async def _dev_token(settings: AuthSettings, args: argparse.Namespace) -> None:
    access_token = await dev_token(settings, args.email)
    # The token is the last line of stdout; logs go to stderr.
    sys.stdout.write(access_token + "\n")
    sys.stdout.flush()


def _email_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", required=True, help="the user's email address")


CLI = ProcessCli(
    name="auth",
    description=__doc__ or "",
    settings=AuthSettings,
    serve=serve,
    migrate=migrate,
    commands=[
        Command(
            "rotate-keys",
            "make a new signing key; old ones stay published until their tokens expire",
            _rotate_keys,
        ),
        Command(
            "dev-token",
            "print an access token for a (created if missing) user, last line",
            _dev_token,
            _email_argument,
        ),
    ],
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `todo-auth`."""
    return CLI.main(argv)


if __name__ == "__main__":
    sys.exit(main())
