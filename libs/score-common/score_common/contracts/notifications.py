"""Events produced by the notifications service."""
from marshmallow import fields, validate

from score_common.contracts import registry
from score_common.contracts.common import PayloadSchema

PRODUCER = "notifications"

SAMPLE_REMINDERS_PLANNED = {
    "subject_id": "reg-0001",
    "workshop_id": "ws-0001",
    "reminders": 6,
    "channels": {"sms": 4, "email": 2},
}


@registry.register(PRODUCER, "reminders_planned", 1, SAMPLE_REMINDERS_PLANNED)
class RemindersPlannedV1(PayloadSchema):
    """Reminders for a registration are planned (counts only; the plan is notifications' own)."""

    subject_id = fields.String(required=True)
    workshop_id = fields.String(required=True)
    reminders = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    channels = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
