"""Events produced by the enrollment service."""
from marshmallow import fields, validate

from score_common.contracts import registry
from score_common.contracts.common import (
    ParticipantSchema, PayloadSchema, module_field, province_field,
)

PRODUCER = "enrollment"


class WorkforceSchema(PayloadSchema):
    women = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    men = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class EnterpriseSchema(PayloadSchema):
    enterprise_id = fields.String(required=True)
    name = fields.String(required=True)
    registration_number = fields.String(required=True)
    sector = fields.String(required=True)
    province = province_field(required=True)
    district = fields.String(required=True)
    workforce = fields.Nested(WorkforceSchema, required=True)


class PeriodSchema(PayloadSchema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)


SAMPLE_ENROLLMENT_ACCEPTED = {
    "enrollment_id": "enr-0001",
    "partner_id": "bedo",
    "module": 1,
    "enterprise": {
        "enterprise_id": "ent-0001",
        "name": "PT Tjokro Bersaudara",
        "registration_number": "8120001234567",
        "sector": "automotive parts",
        "province": "ID-JK",
        "district": "Pulogadung",
        "workforce": {"women": 40, "men": 85},
    },
    "team": [
        {"participant_id": "p-1", "name": "Budi Santoso", "role": "manager", "sex": "male",
         "phone": "+6281234567890", "email": "budi@example.co.id", "language": "id",
         "consent_to_reminders": True},
        {"participant_id": "p-2", "name": "Siti Rahayu", "role": "worker", "sex": "female",
         "phone": "+6285712345678", "email": None, "language": "id",
         "consent_to_reminders": True},
    ],
    "preferred_period": {"start": "2027-03-01", "end": "2027-04-30"},
}


@registry.register(PRODUCER, "enrollment_accepted", 1, SAMPLE_ENROLLMENT_ACCEPTED)
class EnrollmentAcceptedV1(PayloadSchema):
    """An enterprise's team is enrolled in a module; scheduling places it, notifications
    keeps its contacts, reporting counts it."""

    enrollment_id = fields.String(required=True)
    partner_id = fields.String(required=True)
    module = module_field(required=True)
    enterprise = fields.Nested(EnterpriseSchema, required=True)
    team = fields.List(fields.Nested(ParticipantSchema), required=True,
                       validate=validate.Length(min=2))
    preferred_period = fields.Nested(PeriodSchema, required=True)
