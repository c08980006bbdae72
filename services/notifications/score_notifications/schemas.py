"""Notifications' RPC replies."""
from marshmallow import Schema, fields


class ReminderSchema(Schema):
    reminder_id = fields.String(attribute="pk")
    recipient_id = fields.String()
    kind = fields.String()
    channel = fields.String()
    due_at = fields.AwareDateTime()
    language = fields.String()
    status = fields.String()
