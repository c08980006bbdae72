"""Enrollment's own documents (database score_enrollment, alias 'enrollment')."""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "enrollment"


class Enterprise(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "enterprises",
            "indexes": [{"fields": ["registration_number"], "unique": True}]}

    id = me.StringField(primary_key=True)
    registration_number = me.StringField(required=True)
    name = me.StringField(required=True)
    sector = me.StringField(required=True)
    province = me.StringField(required=True)
    district = me.StringField(required=True)
    workforce = me.DictField(required=True)


class Enrollment(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "enrollments",
            "indexes": [{"fields": ["partner_id", "partner_message_id"], "unique": True},
                        "enterprise_id", "status"]}

    id = me.StringField(primary_key=True)
    partner_id = me.StringField(required=True)
    partner_message_id = me.StringField(required=True)
    enterprise_id = me.StringField(required=True)
    module = me.IntField(required=True, min_value=1, max_value=5)
    team = me.ListField(me.DictField())
    preferred_period = me.DictField()
    status = me.StringField(required=True)
    history = me.ListField(me.DictField())
    submitted_at = me.DateTimeField(required=True)
