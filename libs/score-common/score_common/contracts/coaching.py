"""Events produced by the coaching service."""
from marshmallow import fields, validate

from score_common.contracts import registry
from score_common.contracts.common import (
    ParticipantSchema, PayloadSchema, module_field, province_field,
)

PRODUCER = "coaching"

class PlanRefSchema(PayloadSchema):
    """Whose coaching an event is about: every plan event starts with these."""

    plan_id = fields.String(required=True)
    enrollment_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    partner_id = fields.String(required=True)
    module = module_field(required=True)
    province = province_field(required=True)


SAMPLE_VISIT_SCHEDULED = {
    "visit_id": "vis-enr-0001-1", "plan_id": "plan-enr-0001", "enrollment_id": "enr-0001",
    "enterprise_id": "ent-0001", "partner_id": "bedo", "module": 1, "province": "ID-JK",
    "timezone": "Asia/Jakarta", "trainer_id": "trn-siti", "day": "2027-04-19", "number": 1,
    "of": 3,
    "participants": [
        {"participant_id": "p-1", "name": "Budi Santoso", "role": "manager", "sex": "male",
         "phone": "+6281234567890", "email": "budi@example.co.id", "language": "id",
         "consent_to_reminders": True}],
}


@registry.register(PRODUCER, "visit_scheduled", 1, SAMPLE_VISIT_SCHEDULED)
class VisitScheduledV1(PlanRefSchema):
    """A trainer will visit an enterprise on this (working) day; the trainer's day is taken."""

    visit_id = fields.String(required=True)
    trainer_id = fields.String(required=True)
    day = fields.Date(required=True)
    number = fields.Integer(required=True, validate=validate.Range(min=1))
    of = fields.Integer(required=True, validate=validate.Range(min=1))
    timezone = fields.String(load_default="Asia/Jakarta")
    # the enterprise's team, with contacts: whom notifications reminds of the visit
    participants = fields.List(fields.Nested(ParticipantSchema), load_default=list)


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


class KpiOutcomeSchema(PayloadSchema):
    kpi = fields.String(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    better = fields.String(required=True, validate=validate.OneOf(("higher", "lower")))
    baseline = fields.Float(required=True)
    final = fields.Float(required=True)
    improvement = fields.Float(allow_none=True, required=True)  # share, positive = better
    improved = fields.Boolean(allow_none=True, required=True)
    flag = fields.String(allow_none=True, load_default=None)  # why it needs review


class ActionSchema(PayloadSchema):
    action_id = fields.String(required=True)
    description = fields.String(required=True)
    owner = fields.String(required=True)
    due = fields.Date(required=True)
    done = fields.Boolean(required=True)


SAMPLE_COACHING_COMPLETED = {
    "plan_id": "plan-enr-0001", "enrollment_id": "enr-0001", "enterprise_id": "ent-0001",
    "partner_id": "bedo", "module": 1, "province": "ID-JK", "workshop_id": "ws-0001",
    "trainer_id": "trn-siti", "visits": 3, "completed_on": "2027-06-01",
    "kpis": [{"kpi": "defect_rate", "name": "Defect rate", "unit": "% of output",
              "better": "lower", "baseline": 8.0, "final": 5.0, "improvement": 0.375,
              "improved": True, "flag": None}],
    "actions": [{"action_id": "vis-enr-0001-1-a1", "description": "5S in the paint shop",
                 "owner": "Budi Santoso", "due": "2027-05-01", "done": True}],
}


@registry.register(PRODUCER, "coaching_completed", 1, SAMPLE_COACHING_COMPLETED)
class CoachingCompletedV1(PlanRefSchema):
    """The final visit is recorded: every indicator from baseline to final with its
    improvement (and any flag for review), and the actions done and still open. Everything
    the enterprise's report needs."""

    workshop_id = fields.String(required=True)
    trainer_id = fields.String(required=True)
    visits = fields.Integer(required=True)
    completed_on = fields.Date(required=True)
    kpis = fields.List(fields.Nested(KpiOutcomeSchema), required=True)
    actions = fields.List(fields.Nested(ActionSchema), required=True)


SAMPLE_VISIT_OVERDUE = {
    "plan_id": "plan-enr-0001", "enrollment_id": "enr-0001", "enterprise_id": "ent-0001",
    "partner_id": "bedo", "module": 1, "province": "ID-JK",
    "visit_id": "vis-enr-0001-1", "trainer_id": "trn-siti", "day": "2027-04-19",
    "days_overdue": 3,
}


@registry.register(PRODUCER, "visit_overdue", 1, SAMPLE_VISIT_OVERDUE)
class VisitOverdueV1(PlanRefSchema):
    """A planned visit's day has passed without a record (notifications reminds the
    trainer). Announced once per visit."""

    visit_id = fields.String(required=True)
    trainer_id = fields.String(required=True)
    day = fields.Date(required=True)
    days_overdue = fields.Integer(required=True, validate=validate.Range(min=1))
