"""Events produced by the coaching service."""
from marshmallow import fields, validate

from score_common.contracts import registry
from score_common.contracts.common import PayloadSchema, module_field, province_field

PRODUCER = "coaching"

SAMPLE_VISIT_SCHEDULED = {
    "visit_id": "vis-enr-0001-1", "plan_id": "plan-enr-0001", "enrollment_id": "enr-0001",
    "enterprise_id": "ent-0001", "partner_id": "bedo", "module": 1, "province": "ID-JK",
    "trainer_id": "trn-siti", "day": "2027-04-19", "number": 1, "of": 3,
}


@registry.register(PRODUCER, "visit_scheduled", 1, SAMPLE_VISIT_SCHEDULED)
class VisitScheduledV1(PayloadSchema):
    """A trainer will visit an enterprise on this (working) day; the trainer's day is taken."""

    visit_id = fields.String(required=True)
    plan_id = fields.String(required=True)
    enrollment_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    partner_id = fields.String(required=True)
    module = module_field(required=True)
    province = province_field(required=True)
    trainer_id = fields.String(required=True)
    day = fields.Date(required=True)
    number = fields.Integer(required=True, validate=validate.Range(min=1))
    of = fields.Integer(required=True, validate=validate.Range(min=1))


SAMPLE_VISIT_CANCELLED = {
    "visit_id": "vis-enr-0001-1", "trainer_id": "trn-siti", "day": "2027-04-19",
    "reason": "moved: the trainer teaches a workshop that day",
}


@registry.register(PRODUCER, "visit_cancelled", 1, SAMPLE_VISIT_CANCELLED)
class VisitCancelledV1(PayloadSchema):
    """A visit will not take place on that day (it may be scheduled again on another)."""

    visit_id = fields.String(required=True)
    trainer_id = fields.String(required=True)
    day = fields.Date(required=True)
    reason = fields.String(required=True)
