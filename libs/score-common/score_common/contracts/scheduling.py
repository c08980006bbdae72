"""Events produced by the scheduling service."""
from marshmallow import fields, validate

from score_common.contracts import registry
from score_common.contracts.common import (
    ParticipantSchema, PayloadSchema, module_field, province_field,
)

PRODUCER = "scheduling"


class WorkshopRefSchema(PayloadSchema):
    workshop_id = fields.String(required=True)
    module = module_field(required=True)
    province = province_field(required=True)
    timezone = fields.String(required=True)
    days = fields.List(fields.Date(), required=True, validate=validate.Length(min=1))
    status = fields.String(required=True)


SAMPLE_PARTICIPANT_REGISTERED = {
    "registration_id": "reg-0001",
    "enrollment_id": "enr-0001",
    "enterprise_id": "ent-0001",
    "partner_id": "bedo",
    "workshop": {
        "workshop_id": "ws-0001", "module": 1, "province": "ID-JK",
        "timezone": "Asia/Jakarta", "days": ["2027-03-22", "2027-03-23"], "status": "planned",
    },
    "participants": [
        {"participant_id": "p-1", "name": "Budi Santoso", "role": "manager", "sex": "male",
         "phone": "+6281234567890", "email": "budi@example.co.id", "language": "id",
         "consent_to_reminders": True},
    ],
}


@registry.register(PRODUCER, "participant_registered", 1, SAMPLE_PARTICIPANT_REGISTERED)
class ParticipantRegisteredV1(PayloadSchema):
    """An enrollment's team holds seats in a workshop."""

    registration_id = fields.String(required=True)
    enrollment_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    partner_id = fields.String(required=True)
    workshop = fields.Nested(WorkshopRefSchema, required=True)
    participants = fields.List(fields.Nested(ParticipantSchema), required=True)
