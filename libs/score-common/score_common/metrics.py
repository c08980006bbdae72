"""Prometheus metrics every service exposes at GET /metrics.

Counted where it happens: each entrypoint's outcome and latency (WorkerLogging), each retry
and dead letter (the consumer); read at scrape time: the outbox's backlog and the age of its
oldest unpublished event (the lag between a state change and its event going out).
"""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

HANDLED = Counter("score_messages_handled_total",
                  "Entrypoint calls (events, RPC, HTTP, timers) by outcome",
                  ["service", "entrypoint", "outcome"])
LATENCY = Histogram("score_handling_seconds", "Time to handle one call, by entrypoint",
                    ["service", "entrypoint"],
                    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
RETRIES = Counter("score_message_retries_total", "Messages sent to a retry queue",
                  ["service", "queue"])
DEAD_LETTERS = Counter("score_dead_letters_total", "Messages dead-lettered", ["service", "queue"])


def outbox_lines(service: str, pending: int, oldest_age_seconds: float | None) -> str:
    """The outbox gauges, written at scrape time from the store."""
    return (
        "# HELP score_outbox_pending Events recorded but not yet published\n"
        "# TYPE score_outbox_pending gauge\n"
        f'score_outbox_pending{{service="{service}"}} {pending}\n'
        "# HELP score_outbox_lag_seconds Age of the oldest unpublished event\n"
        "# TYPE score_outbox_lag_seconds gauge\n"
        f'score_outbox_lag_seconds{{service="{service}"}} {oldest_age_seconds or 0:.3f}\n')


def exposition(service: str, pending: int, oldest_age_seconds: float | None) -> tuple[str, str]:
    text = generate_latest().decode() + outbox_lines(service, pending, oldest_age_seconds)
    return text, CONTENT_TYPE_LATEST
