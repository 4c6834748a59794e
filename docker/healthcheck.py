#!/usr/bin/env python
"""Container health probe: `healthcheck.py grpc HOST:PORT` (grpc.health.v1 says SERVING) or
`healthcheck.py http URL` (the URL answers 2xx). Exit 0 = healthy, 1 = not.

Uses only grpcio (already in every service image) and the standard library, so it works in
any of the images without the services' own code.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def check_grpc(address: str, service: str = "") -> bool:
    """True when the server's health service reports SERVING for `service` ('' = overall)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_SECONDS
            )
        except grpc.RpcError as error:
            print(f"{address}: {error.code().name}", file=sys.stderr)
            return False
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(f"{address}: {status}")
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)


def check_http(url: str) -> bool:
    """True when `url` answers with a 2xx status."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            print(f"{url}: {response.status}")
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: {error}", file=sys.stderr)
        return False


def main(argv: list[str]) -> int:
    """Runs the probe named on the command line."""
    if len(argv) < 2 or argv[0] not in ("grpc", "http"):
        print("usage: healthcheck.py grpc HOST:PORT [SERVICE] | http URL", file=sys.stderr)
        return 2
    healthy = check_grpc(*argv[1:3]) if argv[0] == "grpc" else check_http(argv[1])
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
