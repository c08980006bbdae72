"""Coaching's own documents (database score_coaching, alias 'coaching')."""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "coaching"


class VisitPlan(VersionedDocument):
    """One enterprise's coaching after one module workshop: its visits, in order."""

    meta = {"db_alias": ALIAS, "collection": "visit_plans",
            "indexes": ["enterprise_id"]}

    id = me.StringField(primary_key=True)  # plan-<enrollment id>
    enrollment_id = me.StringField(required=True)
    enterprise_id = me.StringField(required=True)
    partner_id = me.StringField(required=True)
    registration_id = me.StringField()
    workshop_id = me.StringField(required=True)
    module = me.IntField(required=True)
    province = me.StringField(required=True)
    timezone = me.StringField()
    trainer_id = me.StringField(required=True)
    participants = me.ListField(me.DictField())
    # [{visit_id, number, day (ISO), status: planned|done, moves: [..], and once recorded:
    #   check_in, check_out, attendees, findings, actions, attachments, measurements, flags,
    #   signed_by, acknowledged_by}]
    visits = me.ListField(me.DictField())
    baseline = me.DictField()  # kpi -> value, before the first improvements
    baseline_on = me.StringField()
    # every action agreed at a visit: [{action_id, description, owner, due, done, visit_id}]
    actions = me.ListField(me.DictField())
    status = me.StringField(required=True, default="active")
    created_at = me.DateTimeField()
