"""The one async gRPC server bootstrap every service uses.

`create_server` builds a started server with reflection, the standard `grpc.health.v1` service,
the request-context interceptor (request id, access log, domain errors → rich status) and any
service interceptors (behaviour interceptors such as auth folded with it into one interception
per call, `OnePassInterceptor`), bound to an address (port 0 in tests); `start_service` is that for
one service configured by its `GrpcServerSettings` (how auth, tasks and the agent start).
`serve_until_signalled` runs it until SIGINT/SIGTERM, then flips health to NOT_SERVING, keeps serving for a moment while callers
move their new calls to other replicas, and drains in-flight calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from todo_common.errors import DomainError
from todo_common.logs import request_id_var
from todo_common.settings import GrpcServerSettings

log = logging.getLogger(__name__)

REQUEST_ID_KEY = "x-request-id"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = (
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)

# Calls that never need a token: health checks and reflection (so grpcurl `list` just works).
INFRASTRUCTURE_METHOD_PREFIXES = tuple(
    f"/{name}/" for name in (HEALTH_SERVICE, *REFLECTION_SERVICES)
)

UnaryBehavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]
UnaryWrapper = Callable[[UnaryBehavior, str], UnaryBehavior]
StreamWrapper = Callable[[StreamBehavior, str], StreamBehavior]


def wrap_rpc_handler(
    handler: grpc.RpcMethodHandler, method: str, unary: UnaryWrapper, stream: StreamWrapper
) -> grpc.RpcMethodHandler:
    """Returns `handler` with its behaviour wrapped, so the wrapper runs in the handler's task.

    Interceptors must wrap the behaviour (rather than act in `intercept_service`) for context
    variables such as the request id and the caller's identity to be visible to the handler.
    """
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary, method), **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream, method), **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary, method), **kwargs)
    return grpc.stream_stream_rpc_method_handler(stream(handler.stream_stream, method), **kwargs)


class BehaviorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """A server interceptor that wraps the behaviour of each method it applies to (see
    `wrap_rpc_handler`): subclasses give the unary and streaming wrappers, and may leave some
    methods alone (`applies_to`)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        return self.wrap(handler, details.method)

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """`handler` with this interceptor's wrapper around its behaviour, if it applies."""
        if not self.applies_to(method):
            return handler
        return wrap_rpc_handler(handler, method, self._unary, self._stream)

    def applies_to(self, method: str) -> bool:
        """Whether calls of `method` go through the wrappers (all of them, unless overridden)."""
        return True

    def _unary(self, behavior: UnaryBehavior, method: str) -> UnaryBehavior:
        raise NotImplementedError

    def _stream(self, behavior: StreamBehavior, method: str) -> StreamBehavior:
        raise NotImplementedError


class OnePassInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Several behaviour interceptors as ONE interception, built once per method.

    gRPC runs each interceptor's `intercept_service` on every call, and each of ours built a
    new method handler around the behaviour (`wrap_rpc_handler`) every time. Here the chain's
    wrappers are composed once per method (the first interceptor outermost, as if each had
    intercepted in turn) and the composed handler is kept: a call costs one dictionary look-up
    before its behaviour runs through the wrappers. Handlers are cached only for methods the
    server has (an unknown method resolves to None each time), so the cache is bounded by the
    services registered.
    """

    def __init__(self, chain: Sequence[BehaviorInterceptor]) -> None:
        self._chain = tuple(chain)
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method
        handler = self._handlers.get(method)
        if handler is None:
            handler = await continuation(details)
            if handler is None:
                return None
            for interceptor in reversed(self._chain):
                handler = interceptor.wrap(handler, method)
            self._handlers[method] = handler
        return handler


def one_pass(
    interceptors: Sequence[grpc.aio.ServerInterceptor],
) -> list[grpc.aio.ServerInterceptor]:
    """The server's interceptors with the leading behaviour interceptors folded into one
    `OnePassInterceptor` (any other interceptor, and all after it, run as given)."""
    chain: list[BehaviorInterceptor] = []
    for interceptor in interceptors:
        if not isinstance(interceptor, BehaviorInterceptor):
            break
        chain.append(interceptor)
    rest = list(interceptors[len(chain) :])
    return [OnePassInterceptor(chain), *rest] if chain else rest


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    """The first value of an invocation metadata key, or None."""
    for item in context.invocation_metadata() or ():
        if item.key == key:
            value = item.value
            return value.decode() if isinstance(value, bytes) else value
    return None


class RequestContextInterceptor(BehaviorInterceptor):
    """Outermost interceptor: request id, one access-log line per call, errors → status.

    The request id comes from `x-request-id` metadata (or is generated), is set for every log
    line of the call, and is echoed in the trailing metadata. A `DomainError` becomes its status
    with rich details; any other exception is logged with its stack and answered INTERNAL with
    no internals in the message. Cancellation is never swallowed.
    """

    @staticmethod
    def _begin(context: grpc.aio.ServicerContext) -> str:
        supplied = metadata_value(context, REQUEST_ID_KEY)
        request_id = (
            supplied if supplied and _REQUEST_ID_PATTERN.match(supplied) else uuid.uuid4().hex
        )
        request_id_var.set(request_id)
        context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
        return request_id

    @staticmethod
    async def _fail(context: grpc.aio.ServicerContext, method: str, exc: Exception) -> None:
        if isinstance(exc, DomainError):
            await context.abort_with_status(exc.to_status())
        log.exception("unhandled error", extra={"method": method})
        await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    @staticmethod
    def _done(method: str, started: float, code: grpc.StatusCode, reason: str = "") -> None:
        level = logging.INFO if code in _EXPECTED_CODES else logging.WARNING
        if not log.isEnabledFor(level):
            return
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        extra = {"method": method, "code": code.name, "duration_ms": elapsed_ms}
        if reason:
            extra["reason"] = reason
        log.log(level, "rpc", extra=extra)

    @contextlib.asynccontextmanager
    async def _observed(
        self, context: grpc.aio.ServicerContext, method: str
    ) -> AsyncIterator[None]:
        """Times and logs one RPC and maps its exception to a status, for unary and stream alike."""
        self._begin(context)
        started = time.perf_counter()
        try:
            yield
        except grpc.aio.AbortError:
            self._done(method, started, context.code() or grpc.StatusCode.UNKNOWN)
            raise
        except asyncio.CancelledError:
            # The client went away (or its deadline passed): expected, logged at info.
            self._done(method, started, grpc.StatusCode.CANCELLED)
            raise
        except Exception as exc:
            self._done(method, started, _code_of(exc), getattr(exc, "reason", ""))
            await self._fail(context, method, exc)
            raise  # unreachable: abort raises
        self._done(method, started, grpc.StatusCode.OK)

    def _unary(self, behavior: UnaryBehavior, method: str) -> UnaryBehavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self._observed(context, method):
                response = await behavior(request, context)
            return response

        return wrapped

    def _stream(self, behavior: StreamBehavior, method: str) -> StreamBehavior:
        if not inspect.isasyncgenfunction(behavior):
            # A streaming handler that writes with `context.write` and returns nothing, as
            # grpc.health.v1's Watch does (which callers' round_robin health checks call).
            return cast(StreamBehavior, self._unary(cast(UnaryBehavior, behavior), method))

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with self._observed(context, method):
                async for response in behavior(request, context):
                    yield response

        return wrapped


_EXPECTED_CODES = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.CANCELLED,
    }
)


def _code_of(exc: Exception) -> grpc.StatusCode:
    return exc.code if isinstance(exc, DomainError) else grpc.StatusCode.INTERNAL


@dataclass
class ServiceRegistration:
    """One gRPC service to host: its full name (for health and reflection) and its registrar."""

    full_name: str
    register: Callable[[grpc.aio.Server], None]

    @classmethod
    def of(
        cls, full_name: str, add_to_server: Callable[[Any, grpc.aio.Server], None], servicer: Any
    ) -> ServiceRegistration:
        """`servicer` hosted under `full_name` by its generated `add_<Name>Servicer_to_server`."""
        return cls(full_name, lambda server: add_to_server(servicer, server))


class WatchedHealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    """grpc.health.v1 that knows how many callers are watching it (`Watch` streams open):
    round_robin callers with client-side health checking each keep one per replica."""

    def __init__(self) -> None:
        super().__init__()
        self.watchers = 0

    async def Watch(self, request: Any, context: grpc.aio.ServicerContext) -> None:
        self.watchers += 1
        try:
            await super().Watch(request, context)
        finally:
            self.watchers -= 1


@dataclass
class RunningServer:
    """A started server, the port it bound, its health servicer and what to close on stop."""

    server: grpc.aio.Server
    port: int
    health: WatchedHealthServicer
    service_names: list[str]
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Run as the drain starts: ends streams that never finish by themselves (watches), so the
    # drain waits only for real work; their clients reconnect to another replica.
    on_drain: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def stop(self, grace: float = 5.0, *, drain_delay: float = 0.0) -> None:
        """Graceful shutdown: health → NOT_SERVING; `drain_delay` seconds later (still serving
        every call meanwhile, see DRAIN_DELAY_SECONDS; no pause when no caller watches the
        health) end the watch streams (`on_drain`), refuse new calls and let in-flight ones
        finish within `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        if drain_delay > 0 and self.health.watchers:
            await asyncio.sleep(drain_delay)
        for end in self.on_drain:
            await end()
        await self.server.stop(grace)
        for close in self.on_stop:
            await close()


# How long a client connection lives before the server asks the client to reconnect (see
# create_server): how soon clients spread onto replicas a scale-up added.
MAX_CONNECTION_AGE_SECONDS = 60.0

# How long a call may wait for the server to accept it (gRPC's default: 30 s). gRPC's core
# queues a call that arrives while the Python server has no accept outstanding (it accepts
# one call at a time, on its event loop) and, past this age, cancels it: the caller gets
# CANCELLED, which no client may retry, and the handler never runs, so nothing is logged.
# A burst of 2,000 chat turns on a busy 2-core machine took longer than 30 s to accept and
# lost ~250 of them that way (bench/README.md, issue 10). Callers' deadlines bound the wait
# already (the edge gives a turn 120 s), so the server's own limit sits above them.
MAX_UNACCEPTED_SECONDS = 300.0


async def create_server(
    address: str,
    services: Sequence[ServiceRegistration],
    *,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    maximum_concurrent_rpcs: int | None = 1000,
    max_receive_message_bytes: int = 1024 * 1024,
    max_connection_age_seconds: float = MAX_CONNECTION_AGE_SECONDS,
    max_unaccepted_seconds: float = MAX_UNACCEPTED_SECONDS,
) -> RunningServer:
    """Builds, binds and starts a server. Use port 0 in `address` to bind a free port."""
    server = grpc.aio.server(
        # The request context and the services' behaviour interceptors (auth) in one pass.
        interceptors=one_pass([RequestContextInterceptor(), *interceptors]),
        maximum_concurrent_rpcs=maximum_concurrent_rpcs,
        options=[
            # Two processes must never share a port silently.
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", max_receive_message_bytes),
            # Clients (the edge) keep idle channels alive with pings; accept them.
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.http2.max_pings_without_data", 0),
            # Clients look their `dns:///` target up again only when a connection ends, so a
            # replica added by a scale-up would get no calls from clients already connected:
            # each connection is closed after this age (GOAWAY, ±10 % jitter), the client
            # re-resolves and reconnects. Calls in flight finish on the old connection (no
            # grace limit is set, so a long chat reply is never cut).
            ("grpc.max_connection_age_ms", round(max_connection_age_seconds * 1000)),
            # See MAX_UNACCEPTED_SECONDS (gRPC takes whole seconds).
            (
                "grpc.server_max_unrequested_time_in_server",
                max(1, math.ceil(max_unaccepted_seconds)),
            ),
        ],
    )
    health_servicer = WatchedHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [s.full_name for s in services]
    for service in services:
        service.register(server)
    reflection.enable_server_reflection((*names, HEALTH_SERVICE, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    await server.start()
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server=server, port=port, health=health_servicer, service_names=names)


async def start_service(
    settings: GrpcServerSettings,
    service: ServiceRegistration,
    *,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
) -> RunningServer:
    """`create_server` for one service, on `settings.address` with the limits `settings` gives
    (concurrent calls, request size). `on_stop` closes what the service holds (channels, the
    database), in order: when the server stops, or at once when it cannot start (the port is
    taken), before the error propagates; each must be safe on what never started."""
    try:
        running = await create_server(
            settings.address,
            [service],
            interceptors=interceptors,
            maximum_concurrent_rpcs=settings.maximum_concurrent_rpcs,
            max_receive_message_bytes=settings.max_receive_message_bytes,
        )
    except BaseException:
        for close in on_stop:
            await close()
        raise
    running.on_stop.extend(on_stop)
    return running


# How long a server that got SIGTERM goes on taking calls after it reports NOT_SERVING. Its
# callers watch each replica's health (channels.py, `healthCheckConfig`) and, once they see
# NOT_SERVING, send their new calls to the other replicas; a call already on its way meanwhile
# is served. Without the pause the server stops at once, and gRPC cancels a call that reached
# it just then, before its handler started (seen in a rolling restart: a chat turn's Respond
# ended CANCELLED, which no client may retry). Callers see the change within milliseconds;
# the rest is headroom for a busy machine. (Kubernetes' preStop pause comes before this.)
DRAIN_DELAY_SECONDS = 1.0


async def serve_until_signalled(
    running: RunningServer, *, grace: float = 5.0, drain_delay: float = DRAIN_DELAY_SECONDS
) -> None:
    """Serves until SIGINT or SIGTERM, then drains: NOT_SERVING for `drain_delay` seconds,
    then no new calls and `grace` seconds for those in flight to finish."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down", extra={"grace_seconds": grace, "drain_delay_seconds": drain_delay})
    await running.stop(grace, drain_delay=drain_delay)
    log.info("stopped")
