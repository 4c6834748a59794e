"""Each domain error names its gRPC code once; its status and default reason follow from it."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from todo_common import errors


@pytest.mark.parametrize("error_type", errors.DomainError.__subclasses__())
def test_status_and_reason_come_from_the_declared_code(
    error_type: type[errors.DomainError],
) -> None:
    assert error_type.code is not grpc.StatusCode.UNKNOWN
    encoded = error_type("nope").to_status()
    assert encoded.code is error_type.code
    [details] = [
        value
        for key, value in encoded.trailing_metadata
        if key == rpc_status.GRPC_DETAILS_METADATA_KEY
    ]
    info = error_details_pb2.ErrorInfo()
    status_pb2.Status.FromString(details).details[0].Unpack(info)
    assert info.reason == error_type.code.name


def test_an_explicit_reason_wins() -> None:
    assert errors.NotFound("nope", reason="TASK_NOT_FOUND").reason == "TASK_NOT_FOUND"
