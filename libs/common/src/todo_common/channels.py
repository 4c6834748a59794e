"""The one way a process calls a backend: `open_channel` and caller-bound stubs.

Every hop (edge → auth/tasks/agent, agent → tasks, tasks/agent → auth for the JWKS) opens its
channel with `open_channel`, so every channel has the same:
- keepalive pings, so a dead peer is noticed between calls;
- short reconnect back-off: gRPC's default grows to two minutes, so after a long outage a
  restarted backend would stay unreachable for up to that long; here a reconnect is attempted
  at least every `MAX_RECONNECT_BACKOFF_MS` (plus gRPC's 20 % jitter) whatever the outage;
- a service config with the load-balancing policy, client-side health checking (round_robin
  skips a replica that reports NOT_SERVING, e.g. while it drains) and a retry policy for
  idempotent reads (writes are never retried by the channel: CreateTask is idempotent only
  with a request id, and a retried UpdateTask could apply twice);
- one client interceptor, on unary and streaming calls alike, that sends the request id of the
  current request (`x-request-id`, from `request_id_var`) and the caller's bearer token.

The token is never passed around as metadata: a stub is bound to a caller with
`bind_caller(stub, token=..., timeout=...)`, which also gives every call made through it the
same deadline. `authorization: Bearer …` is built here only (`caller_metadata`).
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import grpc
from todo.auth.v1 import auth_service_pb2
from todo.tasks.v1 import tasks_service_pb2

from todo_common.grpc_server import REQUEST_ID_KEY
from todo_common.logs import request_id_var
from todo_common.settings import LoadBalancing
from todo_common.tokens import AUTHORIZATION_KEY

# Reconnect back-off (milliseconds): the first retry comes after INITIAL, later ones grow by
# gRPC's factor 1.6 up to MAX. MIN is also the least time one connection attempt is given.
INITIAL_RECONNECT_BACKOFF_MS = 100
MIN_RECONNECT_BACKOFF_MS = 500
MAX_RECONNECT_BACKOFF_MS = 1_000
KEEPALIVE_TIME_MS = 30_000
KEEPALIVE_TIMEOUT_MS = 10_000
# The retry policy of idempotent reads that met UNAVAILABLE (e.g. a replica going away).
READ_RETRY_POLICY = {
    "maxAttempts": 3,
    "initialBackoff": "0.05s",
    "maxBackoff": "0.5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


def _methods(service: Any, *names: str) -> list[dict[str, str]]:
    full_name = service.full_name
    return [{"service": full_name, "method": service.methods_by_name[n].name} for n in names]


# Reads that are safe to repeat, named from the proto descriptors (a renamed RPC fails here).
IDEMPOTENT_READS = [
    *_methods(auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"], "GetMe", "GetJwks"),
    *_methods(tasks_service_pb2.DESCRIPTOR.services_by_name["TaskService"], "GetTask", "ListTasks"),
]

# Called once per finished unary call: (full method name, status code, seconds it took).
CallObserver = Callable[[str, grpc.StatusCode, float], None]

StubT = TypeVar("StubT")


def service_config(load_balancing: LoadBalancing) -> dict[str, Any]:
    """The channel's service config: the load-balancing policy, the retry policy of reads and
    client-side health checking: round_robin watches each replica's `grpc.health.v1` status
    (the server's overall one, service "") and sends no new call to a replica that reports
    NOT_SERVING, as a draining one does (grpc_server.DRAIN_DELAY_SECONDS). pick_first ignores it."""
    return {
        "loadBalancingConfig": [{load_balancing: {}}],
        "healthCheckConfig": {"serviceName": ""},
        "methodConfig": [{"name": IDEMPOTENT_READS, "retryPolicy": READ_RETRY_POLICY}],
    }


def channel_options(load_balancing: LoadBalancing = "pick_first") -> list[tuple[str, Any]]:
    """The options of every outbound channel (see the module docstring for why)."""
    return [
        ("grpc.service_config", json.dumps(service_config(load_balancing))),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.initial_reconnect_backoff_ms", INITIAL_RECONNECT_BACKOFF_MS),
        ("grpc.min_reconnect_backoff_ms", MIN_RECONNECT_BACKOFF_MS),
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
        # A replaced replica comes back on a new address: let the resolver look again soon
        # after a failure (gRPC waits 30 s between lookups by default).
        ("grpc.dns_min_time_between_resolutions_ms", 1_000),
    ]


def open_channel(
    address: str,
    *,
    load_balancing: LoadBalancing = "pick_first",
    observe: CallObserver | None = None,
    interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
) -> grpc.aio.Channel:
    """A channel to the backend at `address` (host:port, resolved with DNS). Connects lazily.

    `observe` is told the outcome and duration of every unary call (the edge's latency
    metrics). `interceptors` run inside the caller metadata interceptor, so they see the
    metadata it adds (tests use them to delay or watch calls).
    """
    return grpc.aio.insecure_channel(
        address,
        options=channel_options(load_balancing),
        interceptors=[*CallerMetadataInterceptor(observe).for_every_arity(), *interceptors],
    )


def caller_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that presents `token` as the caller's bearer token."""
    return ((AUTHORIZATION_KEY, f"Bearer {token}"),)


# The token of the caller a call is made for, set by a caller-bound stub while it creates the
# call. gRPC runs interceptors in a task created with the call, which copies this context.
_caller_token: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "caller_token", default=None
)


class CallerMetadataInterceptor:
    """Adds the request id and the caller's bearer token to every outbound call.

    The values come from the context the call was created in: `request_id_var` (set for the
    request being handled) and the token a caller-bound stub set. Metadata a call passes
    explicitly wins. gRPC's channel files an interceptor under the first call arity it
    implements, so one object cannot serve all four: `for_every_arity` returns one adapter per
    arity, all sharing this one implementation.
    """

    def __init__(self, observe: CallObserver | None = None) -> None:
        self._observe = observe

    def for_every_arity(self) -> list[grpc.aio.ClientInterceptor]:
        """The adapters to install on a channel."""
        return [
            _UnaryUnary(self),
            _UnaryStream(self),
            _StreamUnary(self),
            _StreamStream(self),
        ]

    def details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        """`details` with the request id and the caller's token added to its metadata."""
        additions: list[tuple[str, str]] = []
        request_id = request_id_var.get()
        if request_id:
            additions.append((REQUEST_ID_KEY, request_id))
        token = _caller_token.get()
        if token:
            additions.extend(caller_metadata(token))
        if not additions:
            return details
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        for key, value in additions:
            if key not in metadata:
                metadata[key] = value
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        """Sends the call, then (when observing) waits for its outcome to record it."""
        started = time.perf_counter()
        call = await continuation(self.details(details), request)
        if self._observe is not None:
            # `code()` waits for the call to end without raising; the caller awaits the call.
            code = await call.code()
            method = details.method
            name = method.decode() if isinstance(method, bytes) else str(method)
            self._observe(name, code, time.perf_counter() - started)
        return call

    async def streaming(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        """Sends a call with a streamed request or response. Not observed: its duration is the
        length of a conversation, not a latency, and waiting for it here would block it."""
        return await continuation(self.details(details), request)


class _Arity:
    """An adapter that hands one call arity to the shared interceptor."""

    def __init__(self, shared: CallerMetadataInterceptor) -> None:
        self._shared = shared

    async def _streaming(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await self._shared.streaming(continuation, details, request)


class _UnaryUnary(_Arity, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await self._shared.unary_unary(continuation, details, request)


class _UnaryStream(_Arity, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    intercept_unary_stream = _Arity._streaming


class _StreamUnary(_Arity, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    intercept_stream_unary = _Arity._streaming


class _StreamStream(_Arity, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    intercept_stream_stream = _Arity._streaming


class _CallerBoundStub:
    """Forwards `stub.Method(request)` with the caller's token and the shared deadline."""

    def __init__(self, stub: object, token: str | None, deadline: float) -> None:
        self._stub = stub
        self._token = token
        self._deadline = deadline

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)

        def call(request: Any, **options: Any) -> Any:
            options.setdefault("timeout", max(0.0, self._deadline - time.monotonic()))
            reset = _caller_token.set(self._token)
            try:
                return method(request, **options)
            finally:
                _caller_token.reset(reset)

        return call


def bind_caller(stub: StubT, *, token: str | None, timeout: float) -> StubT:
    """`stub` bound to one caller: every call made through it carries `token` as the bearer
    token (None: an anonymous call, e.g. SignIn) and ends within `timeout` seconds from now,
    so several calls for one request or tool share one deadline.

    The stub must be on a channel from `open_channel` (its interceptor sends the token).
    """
    return cast(StubT, _CallerBoundStub(stub, token, time.monotonic() + timeout))
