"""Events produced by the enrollment service."""
from marshmallow import fields, validate

from score_common.contracts import registry
from score_common.contracts.common import (
    LANGUAGES, ParticipantSchema, PayloadSchema, module_field, province_field,
)

PRODUCER = "enrollment"
SIZES = ("micro", "small", "medium", "large")  # Statistics Indonesia's classes by employees
CHANNELS = ("amqp", "http", "csv")
STATUSES = ("accepted", "waitlisted", "in_training", "coaching", "completed", "withdrawn")


class WorkforceSchema(PayloadSchema):
    women = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    men = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class ContactSchema(PayloadSchema):
    name = fields.String(required=True)
    email = fields.Email(required=True)
    phone = fields.String(required=True)  # E.164


class EnterpriseSchema(PayloadSchema):
    enterprise_id = fields.String(required=True)
    name = fields.String(required=True)
    registration_number = fields.String(required=True)  # NIB, 13 digits
    sector = fields.String(required=True)
    province = province_field(required=True)
    district = fields.String(required=True)
    workforce = fields.Nested(WorkforceSchema, required=True)
    size = fields.String(required=True, validate=validate.OneOf(SIZES))
    contact = fields.Nested(ContactSchema, required=True)


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
        "sector": "automotive_parts",
        "province": "ID-JK",
        "district": "Pulogadung",
        "workforce": {"women": 40, "men": 85},
        "size": "large",
        "contact": {"name": "Budi Santoso", "email": "budi@example.co.id",
                    "phone": "+6281234567890"},
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
    "channel": "amqp",
    "submitted_at": "2027-01-15T02:30:00+00:00",
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
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    submitted_at = fields.DateTime(required=True)


SAMPLE_ENROLLMENT_REJECTED = {
    "partner_id": "bedo",
    "message_id": "bedo-2027-0042",
    "channel": "http",
    "module": 1,
    "errors": [{"field": "enterprise.registration_number",
                "reasons": ["must be the enterprise's 13-digit NIB"]}],
    "received_at": "2027-01-15T02:30:00+00:00",
}


class FieldErrorSchema(PayloadSchema):
    field = fields.String(required=True)
    reasons = fields.List(fields.String(), required=True)


@registry.register(PRODUCER, "enrollment_rejected", 1, SAMPLE_ENROLLMENT_REJECTED)
class EnrollmentRejectedV1(PayloadSchema):
    """A partner submission was refused; the partner has been answered with the reasons.
    Reporting counts rejections by partner and field."""

    partner_id = fields.String(required=True)
    message_id = fields.String(required=True, allow_none=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    module = fields.Integer(allow_none=True, load_default=None)  # when it could be read
    # A list, not a mapping: field paths contain dots, which MongoDB keys may not.
    errors = fields.List(fields.Nested(FieldErrorSchema), required=True)
    received_at = fields.DateTime(required=True)


SAMPLE_ENROLLMENT_STATUS_CHANGED = {
    "enrollment_id": "enr-0001",
    "partner_id": "bedo",
    "enterprise_id": "ent-0001",
    "module": 1,
    "previous_status": "accepted",
    "status": "withdrawn",
    "reason": "the owner sold the business",
    "actor": "partner:bedo",
    "changed_at": "2027-02-01T03:00:00+00:00",
}


@registry.register(PRODUCER, "enrollment_status_changed", 1, SAMPLE_ENROLLMENT_STATUS_CHANGED)
class EnrollmentStatusChangedV1(PayloadSchema):
    """An accepted enrollment moved on in its lifecycle (waitlisted, in training, coaching,
    completed, withdrawn). Scheduling frees a withdrawn enterprise's seats, notifications
    cancels its reminders, reporting follows the funnel."""

    enrollment_id = fields.String(required=True)
    partner_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    module = module_field(required=True)
    previous_status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(allow_none=True, load_default=None)
    actor = fields.String(required=True)
    changed_at = fields.DateTime(required=True)


SAMPLE_PARTNER_REGISTERED = {
    "partner_id": "bedo", "name": "BEDO", "kind": "foundation",
    "contact_email": "programme@bedo.or.id", "language": "id", "active": True,
}


@registry.register(PRODUCER, "partner_registered", 1, SAMPLE_PARTNER_REGISTERED)
class PartnerRegisteredV1(PayloadSchema):
    """An implementing partner as registered or last changed, with the contact that is told
    when the report of an enterprise it enrolled is ready."""

    partner_id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    contact_email = fields.Email(allow_none=True, load_default=None)
    language = fields.String(load_default="id", validate=validate.OneOf(LANGUAGES))
    active = fields.Boolean(required=True)
