"""Service configuration, read from the environment in one place.

Every variable a service reads is declared in ``ENV_VARS`` so that the deployment files
(docker-compose.yml, deploy/k8s) can be checked against it by a test, and so that
`score-service --help-env` can print what an operator may set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

SERVICES = ("enrollment", "scheduling", "coaching", "reporting", "notifications", "gateway")

# Local (non-container) HTTP ports, one per service, so they can run side by side.
DEFAULT_HTTP_PORTS = {
    "enrollment": 8101,
    "scheduling": 8102,
    "coaching": 8103,
    "reporting": 8104,
    "notifications": 8105,
    "gateway": 8100,
}


@dataclass(frozen=True)
class EnvVar:
    name: str
    help: str
    default: str | None = None
    # Must a production deployment set it explicitly (credentials, addresses)?
    deploy_required: bool = False


ENV_VARS = (
    EnvVar("AMQP_URI", "RabbitMQ URI, including the virtual host.",
           "amqp://guest:guest@127.0.0.1:5672/", deploy_required=True),
    EnvVar("MONGODB_URI", "MongoDB URI of this service's own database (the path names "
           "the database; without one the database is score_<service>).",
           "mongodb://127.0.0.1:27017/", deploy_required=True),
    EnvVar("SCORE_HTTP_ADDRESS", "host:port of the service's HTTP listener (health, metrics).",
           None, deploy_required=True),
    EnvVar("SCORE_NAMESPACE", "Prefix of every exchange and queue this system declares.", "score"),
    EnvVar("SCORE_MAX_WORKERS", "Concurrent workers (and message prefetch) per service.", "10"),
    EnvVar("SCORE_RETRY_DELAYS", "Comma-separated seconds to wait before each retry of a "
           "failed message; after the last one it is dead-lettered.", "1,5,30"),
    EnvVar("SCORE_QUEUE_TYPE", "classic or quorum (quorum for a RabbitMQ cluster).", "classic"),
    EnvVar("SCORE_OUTBOX_SWEEP_SECONDS", "How often unpublished outbox events are swept.", "2"),
    EnvVar("SCORE_LOG_LEVEL", "Python log level.", "INFO"),
    EnvVar("SCORE_LOG_FORMAT", "json (one JSON object a line) or text.", "json"),
    # Read by notifications only. The defaults reach the local sinks `score-dev up` starts.
    EnvVar("SCORE_SMTP_URL", "Mail server for email: smtp://[user:password@]host:port, or "
           "smtp+starttls://... to upgrade the connection.", "smtp://127.0.0.1:8025"),
    EnvVar("SCORE_MAIL_FROM", "From address of every email.",
           "SCORE Indonesia <no-reply@score.local>"),
    EnvVar("SCORE_SMS_URL", "Base URL of the SMS provider's API (Infobip's, or the local "
           "stand-in).", "http://127.0.0.1:8106"),
    EnvVar("SCORE_SMS_API_KEY", "The SMS provider's API key (secret).", "local-dev-key"),
    EnvVar("SCORE_SMS_SENDER", "Sender name or number shown on the phone.", "SCORE"),
    EnvVar("SCORE_PUBLIC_URL", "Base URL at which the provider reaches this service's "
           "callbacks (delivery reports, inbound STOP); default: its own HTTP address.", None),
    EnvVar("SCORE_CALLBACK_SECRET", "Secret in the provider's callback addresses (secret); "
           "a callback without it is refused.", "local-dev-secret"),
    EnvVar("SCORE_QUIET_HOURS", "Local hours without SMS, HH:MM-HH:MM; an SMS due then waits "
           "for their end.", "21:00-06:00"),
    EnvVar("SCORE_CLOCK_OFFSET_DAYS", "Days the service's clock runs ahead of real time, for "
           "rehearsals and tests (recording a workshop's attendance before it happens); "
           "never set in production.", "0"),
)
ENV_VAR_NAMES = frozenset(v.name for v in ENV_VARS)


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message says which and how to fix it."""


def _env(environ, name: str, default: str | None = None) -> str | None:
    value = environ.get(name)
    return value if value not in (None, "") else default


def mongodb_database(uri: str, service: str) -> str:
    path = urlsplit(uri).path.lstrip("/")
    return path or f"score_{service}"


def retry_delays(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"SCORE_RETRY_DELAYS must be comma-separated seconds such as '1,5,30', got {text!r}"
        ) from None
    if any(d <= 0 for d in delays):
        raise ConfigError(f"SCORE_RETRY_DELAYS must all be positive, got {text!r}")
    return delays


def service_config(service: str, environ=None) -> dict:
    """The nameko config dict for one service, from the environment."""
    if service not in SERVICES:
        raise ConfigError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    environ = os.environ if environ is None else environ
    defaults = {v.name: v.default for v in ENV_VARS}
    get = lambda name: _env(environ, name, defaults[name])  # noqa: E731

    http_address = get("SCORE_HTTP_ADDRESS") or f"127.0.0.1:{DEFAULT_HTTP_PORTS[service]}"
    queue_type = get("SCORE_QUEUE_TYPE")
    if queue_type not in ("classic", "quorum"):
        raise ConfigError(f"SCORE_QUEUE_TYPE must be 'classic' or 'quorum', got {queue_type!r}")
    try:
        max_workers = int(get("SCORE_MAX_WORKERS"))
        sweep = float(get("SCORE_OUTBOX_SWEEP_SECONDS"))
        clock_offset = float(get("SCORE_CLOCK_OFFSET_DAYS"))
    except ValueError as exc:
        raise ConfigError(f"SCORE_MAX_WORKERS / SCORE_OUTBOX_SWEEP_SECONDS / "
                          f"SCORE_CLOCK_OFFSET_DAYS: {exc}") from None
    mongodb_uri = get("MONGODB_URI")
    return {
        "AMQP_URI": get("AMQP_URI"),
        "WEB_SERVER_ADDRESS": http_address,
        "max_workers": max_workers,
        "PREFETCH_COUNT": max_workers,
        "SERIALIZER": "json",
        "MONGODB_URI": mongodb_uri,
        "MONGODB_DATABASE": mongodb_database(mongodb_uri, service),
        "SCORE_NAMESPACE": get("SCORE_NAMESPACE"),
        "SCORE_RETRY_DELAYS": retry_delays(get("SCORE_RETRY_DELAYS")),
        "SCORE_QUEUE_TYPE": queue_type,
        "SCORE_OUTBOX_SWEEP_SECONDS": sweep,
        "SCORE_CLOCK_OFFSET_DAYS": clock_offset,
        "SCORE_LOG_LEVEL": get("SCORE_LOG_LEVEL").upper(),
        "SCORE_LOG_FORMAT": get("SCORE_LOG_FORMAT"),
        "SCORE_SMTP_URL": get("SCORE_SMTP_URL"),
        "SCORE_MAIL_FROM": get("SCORE_MAIL_FROM"),
        "SCORE_SMS_URL": get("SCORE_SMS_URL").rstrip("/"),
        "SCORE_SMS_API_KEY": get("SCORE_SMS_API_KEY"),
        "SCORE_SMS_SENDER": get("SCORE_SMS_SENDER"),
        "SCORE_PUBLIC_URL": (get("SCORE_PUBLIC_URL") or f"http://{http_address}").rstrip("/"),
        "SCORE_CALLBACK_SECRET": get("SCORE_CALLBACK_SECRET"),
        "SCORE_QUIET_HOURS": get("SCORE_QUIET_HOURS"),
    }
