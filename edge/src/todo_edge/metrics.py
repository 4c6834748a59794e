"""Prometheus metrics of one edge app: HTTP requests and latencies by route template, and
gRPC client call latencies by method. Each app has its own registry (tests build many apps).

They are served by `MetricsServer` on a port of their own (`EDGE_METRICS_PORT`), not on the
public API port: what routes are hit and how often is for operators, not for the internet."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    start_http_server,
)

log = logging.getLogger(__name__)

# Sub-millisecond buckets matter: the edge's own overhead is the thing worth watching.
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class EdgeMetrics:
    """The edge's collectors, registered on a registry of their own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.http_requests = Counter(
            "edge_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = self._latency(
            "edge_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
        )
        self.grpc_latency = self._latency(
            "edge_grpc_client_call_duration_seconds",
            "Time of outbound gRPC calls, by full method name and status code.",
            ["method", "code"],
        )

    def _latency(self, name: str, documentation: str, labels: list[str]) -> Histogram:
        """A latency histogram on this registry, in the buckets every edge latency shares."""
        return Histogram(
            name, documentation, labels, buckets=_LATENCY_BUCKETS, registry=self.registry
        )

    def render(self) -> bytes:
        """The text exposition format of every collector."""
        return generate_latest(self.registry)


@dataclass
class MetricsServer:
    """prometheus_client's exposition server for one registry, in its own daemon thread (a
    scrape never waits on the event loop, and the loop never serves it)."""

    httpd: WSGIServer
    thread: threading.Thread

    @classmethod
    def start(cls, metrics: EdgeMetrics, host: str, port: int) -> MetricsServer:
        """Binds `host:port` (0 = a free port) and serves `/metrics` (any path, in fact)."""
        httpd, thread = start_http_server(port, addr=host, registry=metrics.registry)
        server = cls(httpd=httpd, thread=thread)
        log.info("metrics serving", extra={"host": host, "port": server.port})
        return server

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.httpd.server_port)

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
