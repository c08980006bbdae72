"""Coaching's own documents (database score_coaching, alias 'coaching')."""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "coaching"


class VisitPlan(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "visit_plans",
            "indexes": ["enterprise_id"]}

    id = me.StringField(primary_key=True)  # one plan per registration
    enterprise_id = me.StringField(required=True)
    module = me.IntField(required=True)
    visit_dates = me.ListField(me.DateField())
