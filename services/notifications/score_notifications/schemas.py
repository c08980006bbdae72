"""Notifications' RPC replies: the delivery log."""
from marshmallow import Schema, fields


class MessageSchema(Schema):
    message_id = fields.String(attribute="pk")
    subject_id = fields.String()
    workshop_id = fields.String(allow_none=True)
    visit_id = fields.String(allow_none=True)
    recipient_id = fields.String()
    role = fields.String(allow_none=True)
    kind = fields.String()
    channel = fields.String()
    address = fields.String()
    language = fields.String()
    due_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    delivered_at = fields.AwareDateTime(allow_none=True)
    status = fields.String()
    reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    segments = fields.Integer(allow_none=True)
    fallback_of = fields.String(allow_none=True)
    history = fields.List(fields.Dict())
