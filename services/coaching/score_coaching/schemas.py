"""Coaching's RPC replies."""
from marshmallow import Schema, fields


class VisitPlanSchema(Schema):
    plan_id = fields.String(attribute="pk")
    enterprise_id = fields.String()
    module = fields.Integer()
    visit_dates = fields.List(fields.Date())
