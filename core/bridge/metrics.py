"""The bridge's Prometheus metrics, in a registry of its own (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "BridgeMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class BridgeMetrics:
    """Payments by wallet and outcome, latencies, scanner reconnects, gateway errors, lane and stream gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.payments = Counter(
            "paycode_bridge_payments",
            "Payments that ended, by wallet and outcome (API state)",
            ["wallet", "outcome"],
            registry=r,
        )
        self.scan_to_request = Histogram(
            "paycode_bridge_scan_to_request_seconds",
            "From the scan to the unifiedPay request",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.request_to_final = Histogram(
            "paycode_bridge_request_to_final_seconds",
            "From the unifiedPay request to the payment's final state",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.scanner_reconnects = Counter(
            "paycode_bridge_scanner_reconnects", "Scanners reopened after they vanished", ["lane"], registry=r
        )
        self.gateway_errors = Counter(
            "paycode_bridge_gateway_errors",
            "Gateway calls without a trustworthy answer, and gateway errors",
            ["operation", "kind"],
            registry=r,
        )
        self.lane_busy = Gauge("paycode_bridge_lane_busy", "1 while the lane takes a payment", ["lane"], registry=r)
        self.http_requests = Counter(
            "paycode_bridge_http_requests", "API requests by route and status", ["route", "status"], registry=r
        )
        self.stream_clients = Gauge("paycode_bridge_stream_clients", "Connected event-stream clients", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
