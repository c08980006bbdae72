"""Coaching's commands (what trainers and staff send) and RPC replies."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from score_common.commands import Command
from score_common.contracts.common import PROGRAMMES
from score_common.indonesia import MODULES

ATTENDEE_ROLES = ("manager", "worker", "improvement_team")


class Attendee(Command):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.OneOf(ATTENDEE_ROLES))


class Action(Command):
    description = fields.String(required=True, validate=validate.Length(min=3, max=500))
    owner = fields.String(required=True, validate=validate.Length(min=1, max=200))
    due = fields.Date(required=True)


class Acknowledgement(Command):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(load_default="manager")


class Measurements(fields.Dict):
    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), values=fields.Raw(), **kwargs)


class BaselineCommand(Command):
    measured_on = fields.Date(required=True)
    measurements = Measurements(required=True, validate=validate.Length(min=1))


class VisitRecordCommand(Command):
    check_in = fields.AwareDateTime(required=True)
    check_out = fields.AwareDateTime(required=True)
    attendees = fields.List(fields.Nested(Attendee), required=True,
                            validate=validate.Length(min=1))
    findings = fields.List(fields.String(validate=validate.Length(max=2000)),
                           load_default=list)
    actions = fields.List(fields.Nested(Action), load_default=list)
    actions_done = fields.List(fields.String(), load_default=list)
    attachments = fields.List(fields.String(validate=validate.Length(max=500)),
                              load_default=list)
    measurements = Measurements(load_default=dict)
    trainer_signed = fields.Boolean(required=True, validate=validate.Equal(
        True, error="the trainer signs the record off"))
    acknowledged_by = fields.Nested(Acknowledgement, required=True)

    @validates_schema
    def ordered(self, data, **kwargs):
        if data.get("check_in") and data.get("check_out") and \
                data["check_out"] <= data["check_in"]:
            raise ValidationError({"check_out": ["must be after check_in"]})


class RhythmCommand(Command):
    programme = fields.String(required=True, validate=validate.OneOf(PROGRAMMES))
    module = fields.Integer(required=True, strict=True, validate=validate.OneOf(
        [0, *sorted(MODULES)], error="must be a module (1-5), or 0 for every module"))
    visits = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=12))
    weeks = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=26))


class VisitSchema(Schema):
    visit_id = fields.String()
    number = fields.Integer()
    day = fields.String()
    trainer_id = fields.String(allow_none=True)
    status = fields.String()
    moves = fields.List(fields.Dict())
    handovers = fields.List(fields.Dict())
    check_in = fields.String(allow_none=True)
    check_out = fields.String(allow_none=True)
    measurements = fields.Dict()
    flags = fields.Dict()


class VisitPlanSchema(Schema):
    plan_id = fields.String(attribute="pk")
    enrollment_id = fields.String()
    enterprise_id = fields.String()
    partner_id = fields.String()
    workshop_id = fields.String()
    workshop_days = fields.List(fields.String())
    programme = fields.String()
    module = fields.Integer()
    province = fields.String()
    timezone = fields.String()
    trainer_id = fields.String(allow_none=True)
    visits = fields.List(fields.Nested(VisitSchema))
    baseline = fields.Dict()
    actions = fields.List(fields.Dict())
    status = fields.String()
    history = fields.List(fields.Dict())
