"""What one running edge app holds: settings, backend channels, the token verifier, the
rate limiter, metrics. Built in the app's lifespan; routes reach it through dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from todo_common.tokens import remote_token_verifier

from todo_edge.backends import Backends
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

    @classmethod
    async def start(cls, settings: EdgeSettings, metrics: EdgeMetrics) -> EdgeState:
        """Opens the channels and builds what depends on them (call inside the event loop)."""
        backends = Backends.open(settings, metrics)
        verifier = remote_token_verifier(
            settings.token, backends.channels["auth"], jwks_timeout=settings.auth_timeout_seconds
        )
        identity = Identity(verifier, backends, frozenset(settings.external_issuers))
        return cls(
            settings=settings,
            metrics=metrics,
            backends=backends,
            identity=identity,
            limiter=create_rate_limiter(settings.redis_url),
        )

    async def stop(self) -> None:
        """Closes channels and connections."""
        await self.limiter.close()
        await self.backends.close()
