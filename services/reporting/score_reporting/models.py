"""Reporting's own documents (database score_reporting, alias 'reporting').

Insert-only: every event is kept once under its id (the log read models are rebuilt from),
and each projection row is keyed by what it describes, so replays and redeliveries change
nothing. Counts are computed by aggregation, never kept in a shared counter document.
"""
import mongoengine as me

ALIAS = "reporting"


class RecordedEvent(me.Document):
    meta = {"db_alias": ALIAS, "collection": "events",
            "indexes": ["event_type", "occurred_at"]}

    id = me.StringField(primary_key=True)  # the event id
    event_type = me.StringField(required=True)
    version = me.IntField(required=True)
    producer = me.StringField(required=True)
    occurred_at = me.DateTimeField(required=True)
    correlation_id = me.StringField(required=True)
    payload = me.DictField()


class EnrollmentFact(me.Document):
    meta = {"db_alias": ALIAS, "collection": "enrollment_facts",
            "indexes": ["module", "province", "partner_id"]}

    id = me.StringField(primary_key=True)  # the enrollment id
    enterprise_id = me.StringField(required=True)
    partner_id = me.StringField(required=True)
    module = me.IntField(required=True)
    province = me.StringField(required=True)
    sector = me.StringField(required=True)
    workforce_women = me.IntField(required=True)
    workforce_men = me.IntField(required=True)
    team_women = me.IntField(required=True)
    team_men = me.IntField(required=True)
    enrolled_at = me.DateTimeField(required=True)
