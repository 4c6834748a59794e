"""Calls that must fail: await the call, get its decoded `google.rpc.Status` back.

info = await expect_rpc_error(stub.GetTask(request, timeout=5), grpc.StatusCode.NOT_FOUND)
assert info.reason == "TASK_NOT_FOUND"
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import grpc
from todo_common.errors import RpcErrorInfo, parse_rpc_error


async def rpc_error(call: Awaitable[Any]) -> RpcErrorInfo:
    """Awaits a gRPC call that must fail and returns its decoded error (code, reason, details)."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return parse_rpc_error(error)
    raise AssertionError("the call succeeded but was expected to fail")


async def expect_rpc_error(call: Awaitable[Any], code: grpc.StatusCode) -> RpcErrorInfo:
    """Awaits a call that must fail with `code`; returns its parsed status details."""
    info = await rpc_error(call)
    assert info.code == code, f"expected {code.name}, got {info.code.name}: {info.message}"
    return info
