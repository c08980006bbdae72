"""The refusal every service raises for a command it will not carry out.

`Refused` names each offending field and why, like a partner's rejected submission. It
crosses RPC as itself (nameko rebuilds it on the caller's side), so the HTTP edge turns it
into a 422 problem with the same field map.
"""
from __future__ import annotations

import json

from nameko.exceptions import deserialize_to_instance


@deserialize_to_instance
class Refused(Exception):
    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors

    def __str__(self) -> str:
        return json.dumps(self.errors, sort_keys=True, default=str)


@deserialize_to_instance
class NotFound(Exception):
    """No such thing (the edge answers 404)."""


def field_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as one flat map, {"team[1].phone": [...]}, that people
    and partner systems act on (and that MongoDB can store: no dots in keys)."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, list):
        flat[prefix or "_body"] = [str(m) for m in messages]
        return flat
    if not isinstance(messages, dict):
        flat[prefix or "_body"] = [str(messages)]
        return flat
    for key, value in messages.items():
        if key == "_schema":
            path = prefix or "_body"
        elif isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        for inner_path, reasons in field_errors(value, path).items():
            flat.setdefault(inner_path, []).extend(reasons)
    return flat
