"""What every SCORE service has: its store, its outbox, logging and a health check.

A service subclasses `ScoreService`, names itself and adds its own entrypoints. Health is
served over HTTP at GET /health (readiness: 200 when the database and the broker answer, 503
otherwise), GET /health/live (liveness: the process answers) and over RPC as
``<service>.health`` (for the edge).
"""
from __future__ import annotations

import json
import time

from kombu import Connection
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.web.handlers import http

from score_common import metrics
from score_common.observability import WorkerLogging


class ServiceInfo(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return self.container


def check_health(service_name: str, store, amqp_uri: str) -> dict:
    checks = {}
    try:
        checks["mongodb"] = {"ok": True, "latency_ms": round(store.ping(), 2)}
    except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
        checks["mongodb"] = {"ok": False, "error": str(exc)}
    started = time.perf_counter()
    try:
        with Connection(amqp_uri, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
        checks["rabbitmq"] = {"ok": True,
                              "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    except Exception as exc:  # noqa: BLE001
        checks["rabbitmq"] = {"ok": False, "error": str(exc)}
    healthy = all(check["ok"] for check in checks.values())
    return {"service": service_name, "status": "ok" if healthy else "unavailable",
            "checks": checks}


class ScoreService:
    name: str = None
    logging_context = WorkerLogging()
    container_info = ServiceInfo()

    @rpc
    def health(self) -> dict:
        return check_health(self.name, self.store, self.container_info.config["AMQP_URI"])

    @http("GET", "/health")
    def health_http(self, request):
        report = check_health(self.name, self.store, self.container_info.config["AMQP_URI"])
        status = 200 if report["status"] == "ok" else 503
        return status, {"Content-Type": "application/json"}, json.dumps(report)

    @http("GET", "/metrics")
    def metrics_http(self, request):
        """Prometheus text: calls by outcome and latency, retries, dead letters, and the
        outbox's backlog and lag."""
        pending, oldest = self.store.outbox_backlog()
        text, content_type = metrics.exposition(self.name, pending, oldest)
        return 200, {"Content-Type": content_type}, text

    @http("GET", "/health/live")
    def liveness_http(self, request):
        """The process serves requests; says nothing of its dependencies (for restarts)."""
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"service": self.name, "status": "alive"})
