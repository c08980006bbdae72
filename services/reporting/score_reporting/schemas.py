"""Reporting's commands."""
from marshmallow import fields, validate

from score_common.commands import Command
from score_common.contracts.common import module_field, province_field

ACTIVITY_KINDS = ("training_of_trainers", "refresher_training", "gender_training",
                  "awareness_seminar", "results_presentation", "other")


class TrainingActivityCommand(Command):
    activity_id = fields.String(load_default=None, validate=validate.Length(max=100))
    title = fields.String(required=True, validate=validate.Length(min=3, max=300))
    kind = fields.String(required=True, validate=validate.OneOf(ACTIVITY_KINDS))
    day = fields.Date(required=True)
    organiser = fields.String(required=True, validate=validate.Length(min=2, max=64))
    module = module_field(load_default=None, allow_none=True)
    province = province_field(load_default=None, allow_none=True)
    attended_women = fields.Integer(required=True, strict=True,
                                    validate=validate.Range(min=0, max=100_000))
    attended_men = fields.Integer(required=True, strict=True,
                                  validate=validate.Range(min=0, max=100_000))
