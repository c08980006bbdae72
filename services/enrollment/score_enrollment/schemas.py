"""The partner submission contract (what partner systems publish), version 1.

The event contracts live in score_common.contracts; this is the boundary with partners.
"""
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from score_common.contracts.common import LANGUAGES, SEXES, TEAM_ROLES
from score_common.indonesia import MODULES, PROVINCES

SUBMISSION_VERSIONS = (1,)


class WorkforceSchema(Schema):
    women = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    men = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class EnterpriseSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    registration_number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    sector = fields.String(required=True, validate=validate.Length(min=2, max=100))
    province = fields.String(required=True, validate=validate.OneOf(
        sorted(PROVINCES), error="must be an ISO 3166-2:ID province code such as ID-JK"))
    district = fields.String(required=True, validate=validate.Length(min=2, max=100))
    workforce = fields.Nested(WorkforceSchema, required=True)


class TeamMemberSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(TEAM_ROLES))
    sex = fields.String(required=True, validate=validate.OneOf(SEXES))
    phone = fields.String(load_default=None, allow_none=True)
    email = fields.Email(load_default=None, allow_none=True)
    language = fields.String(load_default="id", validate=validate.OneOf(LANGUAGES))
    consent_to_reminders = fields.Boolean(required=True)


class PeriodSchema(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)

    @validates_schema
    def start_before_end(self, data, **kwargs):
        if data["end"] < data["start"]:
            raise ValidationError("must not be before start", "end")


class SubmissionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    schema_version = fields.Integer(required=True, strict=True,
                                    validate=validate.OneOf(SUBMISSION_VERSIONS))
    module = fields.Integer(required=True, strict=True, validate=validate.OneOf(sorted(MODULES)))
    enterprise = fields.Nested(EnterpriseSchema, required=True)
    team = fields.List(fields.Nested(TeamMemberSchema), required=True)
    preferred_period = fields.Nested(PeriodSchema, required=True)

    @validates_schema
    def team_has_manager_and_worker(self, data, **kwargs):
        roles = {member["role"] for member in data.get("team", [])}
        if not {"manager", "worker"} <= roles:
            raise ValidationError("needs at least one manager and one worker", "team")


class EnrollmentSummarySchema(Schema):
    """RPC reply: an enrollment as staff and partners see it."""

    enrollment_id = fields.String(attribute="pk")
    partner_id = fields.String()
    enterprise_id = fields.String()
    module = fields.Integer()
    status = fields.String()
