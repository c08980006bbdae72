"""Scheduling's own documents (database score_scheduling, alias 'scheduling')."""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "scheduling"


class Workshop(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "workshops",
            "indexes": [("module", "province")]}

    id = me.StringField(primary_key=True)
    module = me.IntField(required=True)
    province = me.StringField(required=True)
    timezone = me.StringField(required=True)
    days = me.ListField(me.DateField())
    status = me.StringField(required=True)


class Registration(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "registrations",
            "indexes": [{"fields": ["enrollment_id"], "unique": True}, "workshop_id"]}

    id = me.StringField(primary_key=True)
    enrollment_id = me.StringField(required=True)
    enterprise_id = me.StringField(required=True)
    partner_id = me.StringField(required=True)
    workshop_id = me.StringField(required=True)
    participants = me.ListField(me.DictField())
