"""Notifications' own documents (database score_notifications, alias 'notifications')."""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "notifications"


class Reminder(me.Document):
    """One send to one recipient; its id is the send's idempotency key."""

    meta = {"db_alias": ALIAS, "collection": "reminders",
            "indexes": ["subject_id", "workshop_id", ("status", "due_at")]}

    id = me.StringField(primary_key=True)
    subject_id = me.StringField(required=True)
    workshop_id = me.StringField(required=True)
    recipient_id = me.StringField(required=True)
    channel = me.StringField(required=True, choices=("sms", "email"))
    address = me.StringField(required=True)
    kind = me.StringField(required=True)
    due_at = me.DateTimeField(required=True)
    language = me.StringField(required=True)
    status = me.StringField(required=True, default="planned")


class ReminderPlan(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "reminder_plans", "indexes": []}

    id = me.StringField(primary_key=True)  # the subject: a registration
    workshop_id = me.StringField(required=True)
    reminder_ids = me.ListField(me.StringField())
