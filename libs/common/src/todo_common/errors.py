"""Domain errors that carry their own gRPC status, and their google.rpc.Status encoding.

Services raise these; the server bootstrap turns them into a status with rich details
(BadRequest field violations, ErrorInfo reason, RetryInfo). Clients read them back with
`parse_rpc_error`. Nothing else in the code base builds or parses status details.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "todo-assistant"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field: its path (e.g. `task.title`) and what is wrong with it."""

    field: str
    description: str


class DomainError(Exception):
    """An error a caller can act on. Subclasses fix the gRPC code.

    A subclass names its code once, `class NotFound(DomainError, code=grpc.StatusCode.NOT_FOUND)`;
    its default `ErrorInfo.reason` is that code's name, so the two cannot drift apart.
    """

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN
    default_reason: ClassVar[str] = grpc.StatusCode.UNKNOWN.name

    def __init_subclass__(cls, *, code: grpc.StatusCode | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
            cls.default_reason = code.name

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field_violations: Sequence[FieldViolation] = (),
        metadata: dict[str, str] | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field_violations = list(field_violations)
        self.metadata = dict(metadata or {})
        self.retry_after_seconds = retry_after_seconds

    def to_status(self) -> grpc.Status:
        """Encodes the error as a grpc.Status carrying google.rpc.Status details."""
        details = []
        info = error_details_pb2.ErrorInfo(
            reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata
        )
        details.append(info)
        if self.field_violations:
            details.append(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in self.field_violations
                    ]
                )
            )
        if self.retry_after_seconds is not None:
            delay = duration_pb2.Duration()
            delay.FromMilliseconds(max(0, round(self.retry_after_seconds * 1000)))
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        for detail in details:
            status.details.add().Pack(detail)
        return rpc_status.to_status(status)


class InvalidArgument(DomainError, code=grpc.StatusCode.INVALID_ARGUMENT):
    """The request is malformed; `field_violations` say which fields and why."""


class NotFound(DomainError, code=grpc.StatusCode.NOT_FOUND):
    """The resource does not exist or belongs to someone else (the two look the same)."""


class AlreadyExists(DomainError, code=grpc.StatusCode.ALREADY_EXISTS):
    """The resource, or a different request with the same idempotency key, already exists."""


class Aborted(DomainError, code=grpc.StatusCode.ABORTED):
    """A concurrency conflict, e.g. a stale etag. Re-read and try again."""


class FailedPrecondition(DomainError, code=grpc.StatusCode.FAILED_PRECONDITION):
    """The system is not in a state the request needs."""


class Unauthenticated(DomainError, code=grpc.StatusCode.UNAUTHENTICATED):
    """The caller's credentials are missing or not valid."""


class PermissionDenied(DomainError, code=grpc.StatusCode.PERMISSION_DENIED):
    """The caller is known but may not do this."""


class ResourceExhausted(DomainError, code=grpc.StatusCode.RESOURCE_EXHAUSTED):
    """Too many attempts; `retry_after_seconds` says when to try again."""


class Unavailable(DomainError, code=grpc.StatusCode.UNAVAILABLE):
    """A dependency (database, another service) cannot be reached right now; retry later."""


@dataclass
class RpcErrorInfo:
    """What a client can learn from a failed call: code, message and the rich details."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    retry_after_seconds: float | None = None


_CODES_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}


def parse_rpc_error(error: grpc.aio.AioRpcError | grpc.RpcError) -> RpcErrorInfo:
    """Reads the code, message and google.rpc.Status details out of a failed call."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = error.details() if hasattr(error, "details") else str(error)
    info = RpcErrorInfo(code=code, message=message or "")
    status: status_pb2.Status | None = None
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        if key == rpc_status.GRPC_DETAILS_METADATA_KEY:
            status = status_pb2.Status.FromString(value)
    if status is None:
        return info
    info.code = _CODES_BY_VALUE.get(status.code, code)
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            error_info = error_details_pb2.ErrorInfo()
            detail.Unpack(error_info)
            info.reason = error_info.reason
            info.metadata = dict(error_info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            info.field_violations = [
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            ]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            info.retry_after_seconds = retry.retry_delay.ToMilliseconds() / 1000
    return info
