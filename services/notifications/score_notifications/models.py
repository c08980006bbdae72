"""Notifications' own documents (database score_notifications, alias 'notifications').

FerretDB answers only `_id` lookups from an index, so everything the dispatcher and the
delivery log look up is reached by `_id`: due messages through minute buckets, a
recipient's or a workshop's messages through lookup documents.
"""
import mongoengine as me

from score_common.store import KeySet, VersionedDocument

ALIAS = "notifications"

MESSAGE_STATUSES = (
    "planned",        # waiting for its time
    "sent",           # the provider took it
    "delivered",      # the provider's delivery report says it arrived
    "failed",         # a permanent failure, with its reason
    "cancelled",      # withdrawn before it was sent (a reschedule, a cancellation)
    "undeliverable",  # no valid address to send it to, with the reason
    "suppressed",     # the recipient opted out of the channel
    "expired",        # its moment passed while nothing could send it
    "in_doubt",       # the service stopped while the mail server took it: not resent
)
FINAL = frozenset(("sent", "delivered", "failed", "cancelled", "undeliverable", "suppressed",
                   "expired", "in_doubt"))


class Message(me.Document):
    """One send to one recipient; its id is the send's idempotency key (recipient, subject,
    kind, time). Written with conditional updates on `status`, so a dispatcher's claim and
    a cancellation can never both win."""

    meta = {"db_alias": ALIAS, "collection": "messages", "indexes": []}

    id = me.StringField(primary_key=True)
    subject_id = me.StringField(required=True)  # what it is about: registration, visit...
    workshop_id = me.StringField()
    visit_id = me.StringField()
    recipient_id = me.StringField(required=True)
    recipient_name = me.StringField()
    role = me.StringField()  # manager | worker | trainer
    channel = me.StringField(required=True, choices=("sms", "email"))
    address = me.StringField()
    # where to fall back when the SMS fails permanently: {"channel": "email", "address": ...}
    alternate = me.DictField()
    kind = me.StringField(required=True)
    language = me.StringField(required=True, default="id")
    timezone = me.StringField(required=True, default="Asia/Jakarta")
    due_at = me.DateTimeField(required=True)
    not_after = me.DateTimeField()  # past this, the message is stale and expires unsent
    context = me.DictField()  # template values: strings, numbers, ISO dates only
    status = me.StringField(required=True, default="planned", choices=MESSAGE_STATUSES)
    reason = me.StringField()
    attempts = me.IntField(default=0)
    # Each time the message waits again (a retry, a deferral) it starts a new generation; a
    # sender or a cancellation must first win the insert of the claim "<key>:<generation>"
    # (FerretDB's conditional updates are not atomic; its inserts on _id are).
    generation = me.IntField(default=0)
    claim = me.StringField()
    claimed_at = me.DateTimeField()
    sent_at = me.DateTimeField()
    delivered_at = me.DateTimeField()
    segments = me.IntField()
    fallback_of = me.StringField()
    history = me.ListField(me.DictField())  # [{status, at (ISO), detail}]
    created_at = me.DateTimeField()


class Subject(VersionedDocument):
    """What is planned for one subject (a team's registration, a visit on a day with a
    trainer, a report): its messages' keys and what the reminders know of the workshop."""

    meta = {"db_alias": ALIAS, "collection": "subjects", "indexes": []}

    id = me.StringField(primary_key=True)
    kind = me.StringField(required=True)  # workshop | visit | report
    workshop_id = me.StringField()
    revision = me.IntField(default=0)  # the workshop's moves, as last planned for
    status = me.StringField(default="active")  # active | cancelled
    keys = me.ListField(me.StringField())
    context = me.DictField()
    history = me.ListField(me.DictField())


class DueBucket(KeySet):
    """The keys of the messages due (or to be checked) in one UTC minute (id
    YYYY-MM-DDTHH:MM)."""

    meta = {"db_alias": ALIAS, "collection": "due_buckets", "indexes": []}


class Lookup(KeySet):
    """The keys of every message of a recipient or a workshop (id recipient:<id> or
    workshop:<id>), for the delivery log."""

    meta = {"db_alias": ALIAS, "collection": "lookups", "indexes": []}


class OptOut(me.Document):
    meta = {"db_alias": ALIAS, "collection": "opt_outs", "indexes": []}

    id = me.StringField(primary_key=True)  # <channel>:<address>
    at = me.DateTimeField()
    source = me.StringField()  # "inbound SMS 'STOP'", "staff", ...


class TrainerContact(me.Document):
    meta = {"db_alias": ALIAS, "collection": "trainers", "indexes": []}

    id = me.StringField(primary_key=True)
    name = me.StringField()
    email = me.StringField()
    phone = me.StringField()
    language = me.StringField(default="id")
    active = me.BooleanField(default=True)


class SendClaim(me.Document):
    """Who holds one generation of a message: a dispatcher sending it, or a cancellation."""

    meta = {"db_alias": ALIAS, "collection": "send_claims", "indexes": []}

    id = me.StringField(primary_key=True)  # <key>:<generation>[:recover]
    token = me.StringField()
    at = me.DateTimeField()


class Transmission(me.Document):
    """Emails a dispatcher began giving to the mail server (one batch): if it dies before
    recording them, they may have gone, so they are never resent."""

    meta = {"db_alias": ALIAS, "collection": "transmissions", "indexes": []}

    id = me.StringField(primary_key=True)  # tx:<claim token>:<batch>
    keys = me.ListField(me.StringField())
    at = me.DateTimeField()


class PartnerContact(me.Document):
    meta = {"db_alias": ALIAS, "collection": "partners", "indexes": []}

    id = me.StringField(primary_key=True)
    name = me.StringField()
    email = me.StringField()
    language = me.StringField(default="id")
    active = me.BooleanField(default=True)


class Cursor(me.Document):
    """How far the dispatcher has swept the buckets (the last minute fully done)."""

    meta = {"db_alias": ALIAS, "collection": "cursors", "indexes": []}

    id = me.StringField(primary_key=True)
    minute = me.StringField()
