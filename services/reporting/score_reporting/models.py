"""Reporting's own documents (database score_reporting, alias 'reporting').

Every event is kept once under its id: the log read models are rebuilt from. A read model
(an enterprise's record, a workshop's cohort) is a pure function of the set of events about
it, folded in time order, so it comes out the same whatever order the events arrived in,
however often, and when rebuilt.
"""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "reporting"


class RecordedEvent(me.Document):
    meta = {"db_alias": ALIAS, "collection": "events", "indexes": []}

    id = me.StringField(primary_key=True)  # the event id
    event_type = me.StringField(required=True)
    version = me.IntField(required=True)
    producer = me.StringField(required=True)
    occurred_at = me.DateTimeField(required=True)
    correlation_id = me.StringField(required=True)
    payload = me.DictField()  # in its JSON form: dates and times as ISO text


class EnterpriseRecord(VersionedDocument):
    """One enterprise's way through one module: enrolled, trained, visited, reported."""

    meta = {"db_alias": ALIAS, "collection": "enterprise_records", "indexes": [],
            "strict": False}

    id = me.StringField(primary_key=True)  # the enrollment id
    # the events about it: grown through version claims, so no concurrent writer loses one
    event_ids = me.ListField(me.StringField())
    state = me.DictField()  # the fold's result (projections.enterprise)


class CohortRecord(VersionedDocument):
    """One workshop and its cohort: registered, attended, coached, finished."""

    meta = {"db_alias": ALIAS, "collection": "cohort_records", "indexes": [], "strict": False}

    id = me.StringField(primary_key=True)  # the workshop id
    event_ids = me.ListField(me.StringField())
    state = me.DictField()


class Report(VersionedDocument):
    """An enterprise improvement report: its content (JSON) and its PDFs."""

    meta = {"db_alias": ALIAS, "collection": "reports", "indexes": [], "strict": False}

    id = me.StringField(primary_key=True)  # rep-<enrollment id>
    enrollment_id = me.StringField(required=True)
    enterprise_id = me.StringField()
    generated_at = me.DateTimeField()
    source_event_id = me.StringField()  # the coaching_completed it was written from
    content = me.DictField()
    pdf_id = me.BinaryField()
    pdf_en = me.BinaryField()


class TrainingActivity(me.Document):
    """A training activity other than a module workshop, recorded by programme staff (a
    Training of Trainers, "SCORE Gender Training for Trade Union, attended by 30
    representatives"): it counts among the programme's activities."""

    meta = {"db_alias": ALIAS, "collection": "training_activities", "indexes": []}

    id = me.StringField(primary_key=True)
    title = me.StringField(required=True)
    kind = me.StringField(required=True)
    day = me.StringField(required=True)  # ISO
    organiser = me.StringField(required=True)  # a partner id, or "ilo"
    module = me.IntField()
    province = me.StringField()
    attended_women = me.IntField(default=0)
    attended_men = me.IntField(default=0)
    recorded_by = me.StringField()
    recorded_at = me.DateTimeField()
