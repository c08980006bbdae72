#!/usr/bin/env python3
"""Create, or bring up to date, one RabbitMQ user per SCORE service.

Talks to the management HTTP API with the standard library only, so it runs in a plain
python:3.11-slim container (compose service ``rabbitmq-setup``, Kubernetes Job
``rabbitmq-setup``). Idempotent: PUT on users, vhosts and permissions creates or overwrites, so
it runs on every deploy and a changed password simply takes effect.

Why not a definitions.json loaded by the broker: definitions hold password hashes, which would
fix the passwords in a committed file. Here every password is read from the service's own
connection string, ``<SERVICE>_AMQP_URI`` (the value the service receives as AMQP_URI), so it is
written once per platform (.env for compose, the service's Secret for Kubernetes).

Environment:
  RABBITMQ_MANAGEMENT_URL   base URL of the management API, e.g. http://rabbitmq:15672
  RABBITMQ_ADMIN_USER       an administrator (the broker's RABBITMQ_DEFAULT_USER)
  RABBITMQ_ADMIN_PASSWORD
  <SERVICE>_AMQP_URI        one per service in SERVICES
  RABBITMQ_SETUP_TIMEOUT    seconds to wait for the API to answer (default 300)

deploy/k8s/rabbitmq.yaml carries a byte-for-byte copy of this file (kustomize cannot read files
outside deploy/k8s); tests/deploy/test_k8s.py fails when the two differ.
"""
from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

SERVICES = ("enrollment", "scheduling", "coaching", "reporting", "notifications", "gateway")

# Every service declares exchanges and queues whose names are not all under one prefix (nameko's
# own RPC exchange and reply queues among them), so a service gets full rights inside the SCORE
# vhost; the isolation is the dedicated vhost and one revocable credential per service.
SERVICE_PERMISSIONS = {"configure": ".*", "write": ".*", "read": ".*"}


class ConfigError(ValueError):
    pass


class Credentials(NamedTuple):
    user: str
    password: str
    vhost: str


def parse_amqp_uri(name: str, uri: str) -> Credentials:
    parts = urlsplit(uri)
    if parts.scheme not in ("amqp", "amqps") or not parts.username or not parts.password:
        raise ConfigError(f"{name} must look like amqp://user:password@host:5672/vhost")
    # Per the AMQP URI spec an empty path is the default vhost "/"; "/score" is vhost "score".
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return Credentials(unquote(parts.username), unquote(parts.password), vhost)


def plan(environ) -> list[tuple[str, str, dict]]:
    """The API calls to make, in order, as (method, path, body)."""
    admin = environ.get("RABBITMQ_ADMIN_USER")
    if not admin:
        raise ConfigError("RABBITMQ_ADMIN_USER is not set")
    credentials = {}
    for service in SERVICES:
        name = f"{service.upper()}_AMQP_URI"
        if not environ.get(name):
            raise ConfigError(f"{name} is not set")
        creds = parse_amqp_uri(name, environ[name])
        # Fixed by the service name so that no two services can end up sharing a user.
        if creds.user != service:
            raise ConfigError(f"{name} must use the user {service!r}, not {creds.user!r}")
        if creds.user == admin:
            raise ConfigError(f"{name} must not use the administrator's account")
        credentials[service] = creds
    vhosts = {c.vhost for c in credentials.values()}
    if len(vhosts) != 1:
        raise ConfigError(f"all services must share one vhost, got {sorted(vhosts)}")
    passwords = [c.password for c in credentials.values()]
    if len(set(passwords)) != len(passwords):
        raise ConfigError("each service needs its own AMQP password")
    vhost = quote(vhosts.pop(), safe="")
    calls = [
        ("PUT", f"/api/vhosts/{vhost}", {"description": "SCORE platform"}),
        ("PUT", f"/api/permissions/{vhost}/{quote(admin, safe='')}", dict(SERVICE_PERMISSIONS)),
    ]
    for creds in credentials.values():
        user = quote(creds.user, safe="")
        calls.append(("PUT", f"/api/users/{user}", {"password": creds.password, "tags": ""}))
        calls.append(("PUT", f"/api/permissions/{vhost}/{user}", dict(SERVICE_PERMISSIONS)))
    return calls


def _request(base_url: str, auth: str, method: str, path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method)
    request.add_header("Authorization", f"Basic {auth}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def main(environ=os.environ) -> int:
    try:
        calls = plan(environ)
        base_url = environ["RABBITMQ_MANAGEMENT_URL"]
        password = environ["RABBITMQ_ADMIN_PASSWORD"]
    except (ConfigError, KeyError) as exc:
        print(f"rabbitmq-setup: configuration error: {exc}", file=sys.stderr)
        return 2
    auth = base64.b64encode(f"{environ['RABBITMQ_ADMIN_USER']}:{password}".encode()).decode()
    deadline = time.monotonic() + float(environ.get("RABBITMQ_SETUP_TIMEOUT", "300"))
    # The broker's AMQP port is up before the management API answers, and a cluster node can
    # still be syncing: wait for the API instead of failing the first attempt.
    while True:
        try:
            _request(base_url, auth, "GET", "/api/overview")
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                print("rabbitmq-setup: the administrator credentials were refused", file=sys.stderr)
                return 1
            error = exc
        except OSError as exc:
            error = exc
        if time.monotonic() > deadline:
            print(f"rabbitmq-setup: management API not reachable: {error}", file=sys.stderr)
            return 1
        time.sleep(3)
    for method, path, body in calls:
        try:
            _request(base_url, auth, method, path, body)
        except urllib.error.HTTPError as exc:
            print(f"rabbitmq-setup: {method} {path} failed: {exc.code} {exc.read()[:300]!r}",
                  file=sys.stderr)
            return 1
        print(f"rabbitmq-setup: {method} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
