"""Scheduling's own documents (database score_scheduling, alias 'scheduling')."""
import mongoengine as me

from score_common.store import VersionedDocument

ALIAS = "scheduling"


class Trainer(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "trainers"}

    id = me.StringField(primary_key=True)  # trn-<code>
    name = me.StringField(required=True)
    partner_id = me.StringField(required=True)
    modules = me.ListField(me.IntField())           # certified for
    provinces = me.ListField(me.StringField())      # works in
    unavailable = me.ListField(me.DictField())      # [{start, end, reason}]
    email = me.StringField()
    phone = me.StringField()
    language = me.StringField(default="id")
    active = me.BooleanField(default=True)
    announced = me.DictField()  # the trainer as last told to the platform (trainer_registered)
    registered_at = me.DateTimeField()
    # the secret in the trainer's calendar subscription address
    calendar_token = me.StringField()


class Venue(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "venues"}

    id = me.StringField(primary_key=True)  # ven-<code>
    name = me.StringField(required=True)
    province = me.StringField(required=True)
    district = me.StringField(required=True)
    address = me.StringField()
    capacity = me.IntField(required=True, min_value=1)


class Workshop(VersionedDocument):
    """A two-day workshop and who holds its seats: capacity is decided on this one document,
    written through version claims, so two placements can never both take the last seat."""

    meta = {"db_alias": ALIAS, "collection": "workshops",
            "indexes": [("module", "province")]}

    id = me.StringField(primary_key=True)
    kind = me.StringField(required=True, default="module")
    programme = me.StringField(default="score")  # SCORE or a variant built on its method
    module = me.IntField(required=True)
    province = me.StringField(required=True)
    district = me.StringField()
    timezone = me.StringField(required=True)
    days = me.ListField(me.DateField())
    sessions = me.ListField(me.DictField())  # [{day, starts_at, ends_at}] in UTC
    venue_id = me.StringField()
    venue = me.DictField()  # {venue_id, name, address, district} as scheduled, for the events
    trainer_ids = me.ListField(me.StringField())
    partner_id = me.StringField()  # the organising partner
    capacity_enterprises = me.IntField(default=0)
    capacity_seats = me.IntField(default=0)
    # enrollment id -> {registration_id, enterprise_id, partner_id, seats, participants}: who
    # holds seats, kept with the capacity so that a reschedule's event names everyone it moves
    holders = me.DictField()
    status = me.StringField(required=True)
    # participant id -> {ISO day: present | absent | excused}
    attendance = me.DictField()
    # a module workshop's teams sent on to coaching: enrollment id -> active | completed
    coaching = me.DictField()
    results_due = me.BooleanField(default=False)
    cohort_of = me.StringField()  # a results workshop: the module workshop whose cohort it is
    history = me.ListField(me.DictField())
    created_at = me.DateTimeField()

    @property
    def revision(self) -> int:
        """How many times the workshop has moved (the calendar's SEQUENCE)."""
        return sum(1 for entry in self.history if entry.get("status") == "rescheduled")

    @property
    def seats_taken(self) -> int:
        return sum(holder["seats"] for holder in self.holders.values())

    @property
    def enterprises_free(self) -> int:
        return self.capacity_enterprises - len(self.holders)

    @property
    def seats_free(self) -> int:
        return self.capacity_seats - self.seats_taken


class Booking(me.Document):
    """A trainer or a venue taken for one day: the insert on `<resource>:<day>` is the lock."""

    meta = {"db_alias": ALIAS, "collection": "bookings"}

    id = me.StringField(primary_key=True)
    resource = me.StringField(required=True)  # trn-... or ven-...
    day = me.DateField(required=True)
    holder = me.StringField(required=True)    # the workshop (or coaching visit) holding it
    kind = me.StringField(required=True)      # workshop, visit
    booked_at = me.DateTimeField()


class Registration(VersionedDocument):
    meta = {"db_alias": ALIAS, "collection": "registrations",
            "indexes": [{"fields": ["enrollment_id"], "unique": True}, "workshop_id"]}

    id = me.StringField(primary_key=True)
    enrollment_id = me.StringField(required=True)
    enterprise_id = me.StringField(required=True)
    partner_id = me.StringField(required=True)
    module = me.IntField()
    province = me.StringField()
    preferred_period = me.DictField()  # {start, end} ISO dates
    workshop_id = me.StringField()     # None while waitlisted
    status = me.StringField(required=True)  # registered, waitlisted
    waitlisted_at = me.DateTimeField()
    participants = me.ListField(me.DictField())
    history = me.ListField(me.DictField())


class Waiting(me.Document):
    """An enrollment on the waiting list of its module, province and partner (its id is the
    registration's). Gone once the enrollment holds seats; the list stays short."""

    meta = {"db_alias": ALIAS, "collection": "waiting"}

    id = me.StringField(primary_key=True)
    enrollment_id = me.StringField(required=True)
    module = me.IntField(required=True)
    province = me.StringField(required=True)
    partner_id = me.StringField(required=True)
    team_size = me.IntField(required=True)
    preferred_period = me.DictField()
    since = me.DateTimeField(required=True)


class VisitConflict(VersionedDocument):
    """A coaching visit that fell on a day its trainer was already booked: reported once."""

    meta = {"db_alias": ALIAS, "collection": "visit_conflicts"}

    id = me.StringField(primary_key=True)
    visit_id = me.StringField(required=True)
    held_by = me.StringField(required=True)
