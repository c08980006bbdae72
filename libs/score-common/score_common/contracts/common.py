"""Building blocks shared by several event payloads."""
from marshmallow import EXCLUDE, Schema, fields, validate

from score_common.indonesia import MODULES, PROVINCES

SEXES = ("female", "male")
TEAM_ROLES = ("manager", "worker")
LANGUAGES = ("id", "en")
# SCORE and the variants built on its method (DOMAIN.md); a workshop delivers one of them.
PROGRAMMES = ("score", "score-plus", "score-creative", "score-unpar", "score-hoco", "scorelike")


class PayloadSchema(Schema):
    class Meta:
        # Additive changes within a version must not break older consumers.
        unknown = EXCLUDE


def module_field(**kwargs):
    return fields.Integer(strict=True, validate=validate.OneOf(sorted(MODULES)), **kwargs)


def programme_field(**kwargs):
    return fields.String(load_default="score", validate=validate.OneOf(PROGRAMMES), **kwargs)


def province_field(**kwargs):
    return fields.String(validate=validate.OneOf(sorted(PROVINCES)), **kwargs)


class ParticipantSchema(PayloadSchema):
    participant_id = fields.String(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(TEAM_ROLES))
    sex = fields.String(required=True, validate=validate.OneOf(SEXES))
    phone = fields.String(load_default=None, allow_none=True)  # E.164
    email = fields.Email(load_default=None, allow_none=True)
    language = fields.String(load_default="id", validate=validate.OneOf(LANGUAGES))
    consent_to_reminders = fields.Boolean(required=True)
