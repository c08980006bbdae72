"""Scheduling's RPC replies."""
from marshmallow import Schema, fields


class RegistrationSchema(Schema):
    registration_id = fields.String(attribute="pk")
    enrollment_id = fields.String()
    enterprise_id = fields.String()
    workshop_id = fields.String()
