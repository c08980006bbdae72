"""What enrollment answers over RPC and HTTP, and the commands it takes from staff.

The partner submission contract itself is in score_enrollment.contract.
"""
from marshmallow import RAISE, Schema, fields, validate

from score_enrollment import domain


class HistoryEntrySchema(Schema):
    status = fields.String()
    at = fields.DateTime()
    reason = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)


class EnrollmentSchema(Schema):
    """An enrollment as staff and its partner see it."""

    enrollment_id = fields.String(attribute="pk")
    partner_id = fields.String()
    partner_message_id = fields.String()
    channel = fields.String()
    enterprise_id = fields.String()
    enterprise_name = fields.Function(lambda e: (e.enterprise or {}).get("name"))
    province = fields.Function(lambda e: (e.enterprise or {}).get("province"))
    module = fields.Integer()
    status = fields.String()
    team_size = fields.Function(lambda e: len(e.team or []))
    preferred_period = fields.Dict()
    submitted_at = fields.DateTime()
    history = fields.List(fields.Nested(HistoryEntrySchema))


class EnterpriseSchema(Schema):
    enterprise_id = fields.String(attribute="pk")
    registration_number = fields.String()
    name = fields.String()
    sector = fields.String()
    province = fields.String()
    district = fields.String()
    workforce = fields.Dict()
    size = fields.String()
    contact = fields.Dict()
    registered_at = fields.DateTime()
    registered_by = fields.String()
    history = fields.List(fields.Dict())


class PartnerSchema(Schema):
    partner_id = fields.String(attribute="pk")
    name = fields.String()
    kind = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()
    contact_email = fields.String(allow_none=True)
    language = fields.String()


class RegisterPartnerSchema(Schema):
    class Meta:
        unknown = RAISE

    partner_id = fields.String(required=True, validate=validate.Regexp(
        domain.PARTNER_CODE, error="must be 2-32 lowercase letters, digits or dashes, starting "
                                   "with a letter (it is also the partner's RabbitMQ user)"))
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(domain.PARTNER_KINDS))
    contact_email = fields.Email(load_default=None, allow_none=True)
    language = fields.String(load_default="id", validate=validate.OneOf(("id", "en")))


class StatusChangeSchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(required=True, validate=validate.OneOf(domain.STATUSES))
    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=1000))
    actor = fields.String(required=True, validate=validate.Length(min=1, max=100))


class SubmissionRecordSchema(Schema):
    """A submission as staff inspect it: what came in and what it was answered."""

    submission_id = fields.String(attribute="pk")
    partner_id = fields.String()
    message_id = fields.String(allow_none=True)
    channel = fields.String()
    received_at = fields.DateTime()
    outcome = fields.String()
    enrollment_id = fields.String(allow_none=True)
    answer = fields.Dict()
    body = fields.String(allow_none=True)
