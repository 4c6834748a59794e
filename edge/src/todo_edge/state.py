"""What one running edge app holds: settings, backend channels, the token verifier, the
rate limiter, metrics, and the edge's own database with the ChatKit store and server over it.
Built in the app's lifespan; routes reach it through dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from todo_common.db import Database
from todo_common.tokens import remote_token_verifier

from todo_edge.backends import Backends
from todo_edge.chatkit.server import TodoChatKitServer
from todo_edge.chatkit.store import TodoChatKitStore
from todo_edge.identity import Identity
from todo_edge.metrics import EdgeMetrics
from todo_edge.ratelimit import RateLimiter, create_rate_limiter
from todo_edge.settings import EdgeSettings


@dataclass
class EdgeState:
    """The app's long-lived collaborators."""

    settings: EdgeSettings
    metrics: EdgeMetrics
    backends: Backends
    identity: Identity
    limiter: RateLimiter
    database: Database
    chat_server: TodoChatKitServer

    @classmethod
    async def start(cls, settings: EdgeSettings, metrics: EdgeMetrics) -> EdgeState:
        """Opens the channels and builds what depends on them (call inside the event loop);
        the database connects lazily on first use."""
        backends = Backends.open(settings, metrics)
        verifier = remote_token_verifier(
            settings.token, backends.channels["auth"], jwks_timeout=settings.auth_timeout_seconds
        )
        identity = Identity(verifier, backends, frozenset(settings.external_issuers))
        database = Database.from_url(
            settings.database_url,
            settings.database_schema,
            pool_size=settings.database_pool_size,
            pool_timeout=settings.database_pool_timeout_seconds,
        )
        return cls(
            settings=settings,
            metrics=metrics,
            backends=backends,
            identity=identity,
            limiter=create_rate_limiter(settings.redis_url),
            database=database,
            chat_server=TodoChatKitServer(
                TodoChatKitStore(database), backends.agent, backends.tasks, settings
            ),
        )

    async def stop(self) -> None:
        """Closes channels and connections."""
        await self.identity.verifier.aclose()
        await self.database.dispose()
        await self.chat_server.run_locks.close()
        await self.limiter.close()
        await self.backends.close()
