"""Commands staff and the edge send to a service over RPC: loaded strictly, refused whole.

A command is a marshmallow schema that refuses unknown fields; `load` turns every problem
into one `Refused` with a flat field map (`records[3].day`), the same shape partners get.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError

from score_common.errors import Refused, field_errors


class Command(Schema):
    class Meta:
        unknown = RAISE


def load(schema: Schema, data) -> dict:
    """The command, or Refused naming each field."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Refused(field_errors(exc.messages)) from None
