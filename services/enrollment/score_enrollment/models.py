"""Enrollment's own documents (database score_enrollment, alias 'enrollment').

Hot paths address documents by a deterministic `_id` only (see docs/architecture.md, "Reads on
FerretDB"); uniqueness rules that span documents are documents of their own, keyed by the
rule, so that an insert decides them race-free.
"""
import json

import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "enrollment"


class Partner(VersionedDocument):
    """An implementing partner: its RabbitMQ user name and its API keys' owner."""

    meta = {"db_alias": ALIAS, "collection": "partners"}

    id = me.StringField(primary_key=True)  # the partner code, also its RabbitMQ user
    name = me.StringField(required=True)
    kind = me.StringField(required=True)
    active = me.BooleanField(default=True)
    created_at = me.DateTimeField(required=True)
    contact_email = me.StringField()  # told when an enterprise's report is ready
    language = me.StringField(default="id")
    announced = me.DictField()  # the partner as last told to the platform (partner_registered)


class ApiKey(me.Document):
    """An HTTP API key, stored as a SHA-256 digest only; the key itself is shown once."""

    meta = {"db_alias": ALIAS, "collection": "api_keys", "indexes": ["partner_id"]}

    id = me.StringField(primary_key=True)  # the key's public id, the part before the secret
    partner_id = me.StringField(required=True)
    digest = me.StringField(required=True)
    label = me.StringField()
    created_at = me.DateTimeField(required=True)
    revoked_at = me.DateTimeField()


class Enterprise(VersionedDocument):
    # One per registration number needs no unique index: the id is derived from it.
    meta = {"db_alias": ALIAS, "collection": "enterprises"}

    id = me.StringField(primary_key=True)
    registration_number = me.StringField(required=True)
    name = me.StringField(required=True)
    sector = me.StringField(required=True)
    province = me.StringField(required=True)
    district = me.StringField(required=True)
    workforce = me.DictField(required=True)
    size = me.StringField()
    contact = me.DictField()
    registered_at = me.DateTimeField()
    registered_by = me.StringField()  # partner
    # Earlier values of changed details: [{at, by, submission, changes: {field: old value}}]
    history = me.ListField(me.DictField())


class EnterpriseNameKey(me.Document):
    """The first enterprise registered under a normalised name in a district: later ones with
    another registration number are answered with a likely-duplicate warning."""

    meta = {"db_alias": ALIAS, "collection": "enterprise_name_keys"}

    id = me.StringField(primary_key=True)
    enterprise_id = me.StringField(required=True)
    registration_number = me.StringField(required=True)


class ModuleSeat(me.Document):
    """At most one live enrollment per enterprise and module; freed by a withdrawal."""

    meta = {"db_alias": ALIAS, "collection": "module_seats"}

    id = me.StringField(primary_key=True)  # <enterprise id>:m<module>
    enrollment_id = me.StringField(required=True)
    claimed_at = me.DateTimeField(required=True)


class Enrollment(VersionedDocument):
    # One per partner message needs no unique index: the id is derived from the pair. Each
    # index is paid for on every insert (FerretDB on SQLite: about a quarter of its cost).
    meta = {"db_alias": ALIAS, "collection": "enrollments",
            "indexes": ["enterprise_id", "status", ("partner_id", "-submitted_at")]}

    id = me.StringField(primary_key=True)
    partner_id = me.StringField(required=True)
    partner_message_id = me.StringField(required=True)
    channel = me.StringField(required=True)
    enterprise_id = me.StringField(required=True)
    enterprise = me.DictField()  # as submitted: what downstream events and views need
    module = me.IntField(required=True, min_value=1, max_value=5)
    team = me.ListField(me.DictField())
    preferred_period = me.DictField()
    status = me.StringField(required=True)
    history = me.ListField(me.DictField())  # [{status, at, reason, actor}]
    submitted_at = me.DateTimeField(required=True)


class Submission(VersionedDocument):
    """Every partner message and its answer, keyed by (partner, message id): the idempotency
    record, and what staff inspect when a partner asks why it was rejected."""

    meta = {"db_alias": ALIAS, "collection": "submissions",
            "indexes": [("partner_id", "-received_at"), "outcome"]}

    id = me.StringField(primary_key=True)
    partner_id = me.StringField(required=True)
    message_id = me.StringField()
    channel = me.StringField(required=True)
    received_at = me.DateTimeField(required=True)
    body_sha256 = me.StringField()
    body = me.StringField()  # kept (clipped) for rejected submissions only
    outcome = me.StringField(required=True)
    enrollment_id = me.StringField()
    # As JSON text: its error paths (enterprise.contact.phone) are not valid MongoDB keys.
    answer_json = me.StringField(required=True)

    @property
    def answer(self) -> dict:
        return json.loads(self.answer_json)
