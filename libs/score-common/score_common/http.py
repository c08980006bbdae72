"""HTTP answers shared by every service's web entrypoints (and the edge).

Errors are RFC 9457 problem details (application/problem+json) and name each invalid field.
"""
from __future__ import annotations

import json
from datetime import date, datetime

PROBLEM_BASE = "https://score.example.org/problems/"


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(status: int, body, headers: dict | None = None,
                  content_type: str = "application/json"):
    return status, {"Content-Type": content_type, **(headers or {})}, json.dumps(
        body, default=_default)


def problem(status: int, kind: str, title: str, detail: str | None = None, *,
            errors: dict | None = None, headers: dict | None = None, **extra):
    body = {"type": PROBLEM_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return json_response(status, body, headers, content_type="application/problem+json")


def read_body(request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` bytes (read no further)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    data = request.stream.read(limit + 1)
    return None if len(data) > limit else data


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
