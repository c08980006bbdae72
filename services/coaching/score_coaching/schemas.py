"""Coaching's RPC replies."""
from marshmallow import Schema, fields


class VisitSchema(Schema):
    visit_id = fields.String()
    number = fields.Integer()
    day = fields.String()
    status = fields.String()
    moves = fields.List(fields.Dict())


class VisitPlanSchema(Schema):
    plan_id = fields.String(attribute="pk")
    enrollment_id = fields.String()
    enterprise_id = fields.String()
    partner_id = fields.String()
    workshop_id = fields.String()
    module = fields.Integer()
    province = fields.String()
    trainer_id = fields.String()
    visits = fields.List(fields.Nested(VisitSchema))
    status = fields.String()
