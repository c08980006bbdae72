"""Logs as one JSON object a line, each carrying the service name and the correlation id.

The correlation id starts at the edge of the system (a partner's message, an HTTP request) and
travels in every event envelope and RPC header after it, so one enrollment can be followed
through all five services' logs with a single grep.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import time

from nameko.extensions import DependencyProvider

from score_common import metrics

correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None)


@contextlib.contextmanager
def correlated(correlation_id: str | None):
    """Log under another correlation id for a moment: one line per message of a batch."""
    token = correlation_id_var.set(correlation_id)
    try:
        yield
    finally:
        correlation_id_var.reset(token)


class ContextFilter(logging.Filter):
    def __init__(self, service: str = "-"):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation_id_var.get() or "-"
        return True


def logging_config(service: str, level: str = "INFO", fmt: str = "json") -> dict:
    """A logging.config.dictConfig for a service (nameko applies config['LOGGING'])."""
    if fmt == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(service)s %(correlation_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        }
    else:
        formatter = {"format": "%(asctime)s %(levelname)-7s %(service)s [%(correlation_id)s] "
                               "%(name)s: %(message)s"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter, "service": service}},
        "formatters": {"main": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "main",
                                 "filters": ["context"], "stream": "ext://sys.stdout"}},
        "root": {"level": level, "handlers": ["console"]},
        # kombu and amqp narrate every reconnect attempt at INFO
        "loggers": {"amqp": {"level": "WARNING"}, "kombu": {"level": "WARNING"}},
    }


class WorkerLogging(DependencyProvider):
    """Binds each worker's correlation id to its logs and logs how each entrypoint ended."""

    def __init__(self):
        self._tokens = {}

    def get_dependency(self, worker_ctx):
        # nameko injects dependencies before worker_setup: settle the id here, once.
        return worker_ctx.data.setdefault("correlation_id", worker_ctx.call_id)

    def worker_setup(self, worker_ctx):
        correlation_id = self.get_dependency(worker_ctx)
        self._tokens[worker_ctx] = (correlation_id_var.set(correlation_id), time.perf_counter())

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        token_and_start = self._tokens.get(worker_ctx)
        elapsed_ms = (time.perf_counter() - token_and_start[1]) * 1000 if token_and_start else 0
        log = logging.getLogger(f"score.{worker_ctx.service_name}")
        entrypoint = worker_ctx.entrypoint.method_name
        metrics.HANDLED.labels(worker_ctx.service_name, entrypoint,
                               "ok" if exc_info is None else "failed").inc()
        metrics.LATENCY.labels(worker_ctx.service_name, entrypoint).observe(elapsed_ms / 1000)
        if exc_info is None:
            log.info("%s handled in %.1f ms", worker_ctx.entrypoint.method_name, elapsed_ms)
        else:
            log.warning("%s failed after %.1f ms: %s: %s", worker_ctx.entrypoint.method_name,
                        elapsed_ms, exc_info[0].__name__, exc_info[1])

    def worker_teardown(self, worker_ctx):
        token_and_start = self._tokens.pop(worker_ctx, None)
        if token_and_start:
            correlation_id_var.reset(token_and_start[0])
