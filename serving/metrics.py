"""Prometheus metrics of one service instance (prometheus-client), on a registry of its own: two apps
in one process (tests) never share counters, and nothing is global."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from xscreen.vision.detections import Detections
from xscreen.vision.taxonomy import Taxonomy

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("xscreen_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "xscreen_http_request_duration_seconds", "Time to answer a request.", ["method", "route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.batch_size = Histogram("xscreen_batch_size", "Scans per engine batch.", buckets=BATCH_BUCKETS, registry=r)
        self.batch_seconds = Histogram("xscreen_batch_inference_seconds", "Engine time per batch.", buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("xscreen_queue_depth", "Scans waiting for an engine batch.", registry=r)
        self.scans_in_flight = Gauge("xscreen_scans_in_flight", "Scan uploads admitted and not yet answered.", registry=r)
        self.scan_bytes_in_flight = Gauge("xscreen_scan_bytes_in_flight", "Bytes (bodies and decoded pixels) reserved by scans in flight.", registry=r)
        self.decisions = Counter("xscreen_decisions", "Decisions made, by verdict.", ["verdict"], registry=r)
        self.detections = Counter("xscreen_detections", "Detections reported, by class.", ["class_name", "category"], registry=r)
        self.scans_stored = Counter("xscreen_scans_stored", "Scans newly stored in the audit store.", registry=r)
        self.scan_replays = Counter("xscreen_scan_replays", "Scans re-sent with a known scan_id and answered from the store.", registry=r)
        self.errors = Counter("xscreen_errors", "Requests refused with a typed error, by code.", ["code"], registry=r)
        self.cases = Counter("xscreen_cases", "Case events: opened, scan_attached, state_changed.", ["event"], registry=r)
        self.webhook_attempts = Counter("xscreen_webhook_attempts", "Webhook delivery attempts, by receiver and outcome (delivered, retry, dead).",
                                        ["receiver", "outcome"], registry=r)
        self.webhook_outbox = Gauge("xscreen_webhook_outbox", "Webhook deliveries in the outbox by receiver and status (pending, delivered, dead): "
                                    "dead letters are status dead.", ["receiver", "status"], registry=r)
        self.model_info = Gauge("xscreen_model_info", "The model and policy this instance serves (value 1).", ["model", "version", "policy"], registry=r)

    def set_model(self, *, name: str, version: int, policy_version: str) -> None:
        self.model_info.clear()
        self.model_info.labels(model=name, version=str(version), policy=policy_version).set(1)

    def set_outbox(self, counts: Iterable[tuple[str, str, int]], receivers: Iterable[str]) -> None:
        """(receiver, status, rows) from the outbox table; a configured receiver's statuses without rows read 0
        (an alert on dead letters needs the series to exist)."""
        self.webhook_outbox.clear()
        for receiver in receivers:
            for status in ("pending", "delivered", "dead"):
                self.webhook_outbox.labels(receiver=receiver, status=status).set(0)
        for receiver, status, rows in counts:
            self.webhook_outbox.labels(receiver=receiver, status=status).set(rows)

    def track_queue(self, depth: Callable[[], float]) -> None:
        self.queue_depth.set_function(depth)

    def track_admission(self, *, scans: Callable[[], float], nbytes: Callable[[], float]) -> None:
        self.scans_in_flight.set_function(scans)
        self.scan_bytes_in_flight.set_function(nbytes)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def observe_decision(self, verdict: str, detections: Detections, taxonomy: Taxonomy) -> None:
        self.decisions.labels(verdict=verdict).inc()
        for class_id in detections.class_ids.tolist():
            cls = taxonomy.by_id(int(class_id))
            self.detections.labels(class_name=cls.name, category=cls.category).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_template(scope: dict[str, Any]) -> str:
    """The path with its parameters named (`/v1/scans/{scan_id}`), or `unmatched` (a 404 on no route)."""
    if scope.get("route") is None:
        return "unmatched"
    path: str = scope.get("path", "")
    for name, value in (scope.get("path_params") or {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return path


class RequestMetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request by route template (not raw path: bounded labels)."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            template = route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method=method, route=template, status=str(status["code"])).inc()
            self.metrics.latency.labels(method=method, route=template).observe(time.perf_counter() - started)
