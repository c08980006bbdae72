"""The edge's own documents (database score_gateway, alias 'gateway'): its users and their
sessions. Passwords and tokens are stored only as hashes."""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "gateway"
ROLES = ("coordinator", "trainer", "partner", "ops")


class User(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "users", "indexes": []}

    id = me.StringField(primary_key=True)  # the user name
    role = me.StringField(required=True, choices=ROLES)
    password_hash = me.StringField(required=True)  # scrypt$n$r$p$salt$hash
    trainer_id = me.StringField()  # a trainer's own trainer id
    partner_id = me.StringField()  # a partner user's own partner
    active = me.BooleanField(default=True)
    created_at = me.DateTimeField()


class Session(me.Document):
    meta = {"db_alias": ALIAS, "collection": "sessions", "indexes": []}

    id = me.StringField(primary_key=True)  # sha256 of the bearer token
    user = me.StringField(required=True)
    expires_at = me.DateTimeField(required=True)
