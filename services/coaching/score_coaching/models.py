"""Coaching's own documents (database score_coaching, alias 'coaching')."""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "coaching"


PLAN_STATUSES = (
    "provisional",    # the team holds seats in a workshop still to come: the plan follows it
    "active",         # the team qualified at the workshop: visits are booked
    "completed",      # the final visit is recorded
    "not_qualified",  # the team did not qualify for coaching at the workshop
    "cancelled",      # the workshop or the team's seats were cancelled before it
    "withdrawn",      # the enrollment was withdrawn during coaching
)


class VisitPlan(VersionedDocument):
    """One enterprise's coaching after one module workshop: its visits, in order. Drafted
    (provisional) when the team is placed in a workshop, activated when it qualifies there."""

    meta = {"db_alias": ALIAS, "collection": "visit_plans",
            "indexes": ["enterprise_id"]}

    id = me.StringField(primary_key=True)  # plan-<enrollment id>
    enrollment_id = me.StringField(required=True)
    enterprise_id = me.StringField(required=True)
    partner_id = me.StringField(required=True)
    registration_id = me.StringField()
    workshop_id = me.StringField(required=True)
    workshop_days = me.ListField(me.StringField())  # ISO days, as last heard
    workshop_revision = me.IntField(default=0)  # the workshop's moves, as last heard
    workshop_trainer_ids = me.ListField(me.StringField())
    programme = me.StringField(default="score")
    module = me.IntField(required=True)
    province = me.StringField(required=True)
    timezone = me.StringField()
    trainer_id = me.StringField()  # the coach; a visit may be handed to another
    participants = me.ListField(me.DictField())
    # [{visit_id, number, day (ISO), trainer_id, status: planned|done|cancelled,
    #   moves: [..], handovers: [..], and once recorded:
    #   check_in, check_out, attendees, findings, actions, attachments, measurements, flags,
    #   signed_by, acknowledged_by}]
    visits = me.ListField(me.DictField())
    baseline = me.DictField()  # kpi -> value, before the first improvements
    baseline_on = me.StringField()
    # every action agreed at a visit: [{action_id, description, owner, due, done, visit_id}]
    actions = me.ListField(me.DictField())
    status = me.StringField(required=True, default="active", choices=PLAN_STATUSES)
    history = me.ListField(me.DictField())  # [{status, at, reason}]
    created_at = me.DateTimeField()


class VisitRhythm(VersionedDocument):
    """Staff's setting of how many visits a programme's module gets and how far apart."""

    meta = {"db_alias": ALIAS, "collection": "visit_rhythms"}

    id = me.StringField(primary_key=True)  # <programme>:<module>, module 0 for all
    programme = me.StringField(required=True)
    module = me.IntField(required=True)
    visits = me.IntField(required=True)
    weeks = me.IntField(required=True)
    set_by = me.StringField()
    set_at = me.DateTimeField()
