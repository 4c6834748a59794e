"""Builds the tasks gRPC server and migrates its database."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from todo.tasks.v1 import tasks_service_pb2_grpc as pb_grpc
from todo_common.channels import open_channel
from todo_common.db import Database, is_postgres
from todo_common.grpc_server import RunningServer, ServiceRegistration, start_service
from todo_common.settings import TokenSettings
from todo_common.tokens import AuthInterceptor, remote_token_verifier

from todo_tasks.feed import ChangeFeed
from todo_tasks.page_tokens import PageTokenCodec
from todo_tasks.scheduler import ReminderScheduler
from todo_tasks.service import SERVICE_NAME, TaskService, utc_now
from todo_tasks.settings import TasksSettings
from todo_tasks.undo import UndoPurger

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


async def migrate(settings: TasksSettings) -> None:
    """Brings the tasks database up to the latest schema (Alembic upgrade head)."""
    # Imported here: Alembic costs ~1 s of start-up that `serve` does not need.
    from todo_common.migrations import upgrade_async

    await upgrade_async(MIGRATIONS, settings.database_url, settings.database_schema)


async def start_tasks_server(
    settings: TasksSettings, token_settings: TokenSettings | None = None
) -> RunningServer:
    """Starts TaskService on `settings.address` (port 0 binds a free port).

    Tokens are verified locally with the auth service's public keys, fetched over gRPC from
    `token_settings.auth_address` and cached. The database is expected to be migrated.
    """
    token_settings = token_settings or TokenSettings()
    database = Database.from_url(
        settings.database_url, settings.database_schema, pool_size=settings.database_pool_size
    )
    auth_channel = open_channel(
        token_settings.auth_address, load_balancing=settings.grpc_load_balancing
    )
    verifier = remote_token_verifier(token_settings, auth_channel)
    feed = ChangeFeed(
        database,
        poll_seconds=settings.feed_postgres_poll_seconds
        if is_postgres(database.engine)
        else settings.feed_poll_seconds,
    )
    servicer = TaskService(
        database,
        PageTokenCodec(settings.page_token_key),
        feed,
        heartbeat_seconds=settings.feed_heartbeat_seconds,
        undo_window=timedelta(seconds=settings.undo_window_seconds),
    )
    purger = UndoPurger(
        database,
        timedelta(seconds=settings.undo_window_seconds),
        settings.undo_purge_seconds,
        clock=utc_now,
    )
    scheduler = ReminderScheduler(
        database,
        poll_seconds=settings.reminder_poll_seconds,
        batch_size=settings.reminder_batch_size,
        wake=feed.wake,
    )

    async def close_auth_channel() -> None:
        await verifier.aclose()
        await auth_channel.close()

    running = await start_service(
        settings,
        ServiceRegistration.of(SERVICE_NAME, pb_grpc.add_TaskServiceServicer_to_server, servicer),
        interceptors=[AuthInterceptor(verifier)],
        # The scheduler, the feed and the purger stop before the database: they hold pooled
        # connections.
        on_stop=[close_auth_channel, scheduler.close, feed.close, purger.close, database.dispose],
    )
    feed.start()
    purger.start()
    scheduler.start()
    return running
