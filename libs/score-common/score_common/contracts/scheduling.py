"""Events produced by the scheduling service."""
from marshmallow import fields, validate

from score_common.contracts import registry
from score_common.contracts.common import (
    LANGUAGES, ParticipantSchema, PayloadSchema, module_field, programme_field, province_field,
)

PRODUCER = "scheduling"


class VenueRefSchema(PayloadSchema):
    venue_id = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(allow_none=True, load_default=None)
    district = fields.String(allow_none=True, load_default=None)


class SessionRefSchema(PayloadSchema):
    day = fields.Date(required=True)
    starts_at = fields.AwareDateTime(required=True)  # UTC
    ends_at = fields.AwareDateTime(required=True)


class WorkshopRefSchema(PayloadSchema):
    workshop_id = fields.String(required=True)
    kind = fields.String(load_default="module", validate=validate.OneOf(("module", "results")))
    programme = programme_field()
    module = module_field(required=True)
    province = province_field(required=True)
    timezone = fields.String(required=True)
    days = fields.List(fields.Date(), required=True, validate=validate.Length(min=1))
    status = fields.String(required=True)
    # how many times the workshop has moved: a consumer keeps the highest it has seen
    revision = fields.Integer(load_default=0)
    # where and when, local times derivable from the zone: enough for a reminder and an .ics
    sessions = fields.List(fields.Nested(SessionRefSchema), load_default=list)
    venue = fields.Nested(VenueRefSchema, allow_none=True, load_default=None)


class RegistrationRefSchema(PayloadSchema):
    """Which team an event is about: every registration event starts with these."""

    registration_id = fields.String(required=True)
    enrollment_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    partner_id = fields.String(required=True)


SAMPLE_PARTICIPANT_REGISTERED = {
    "registration_id": "reg-0001",
    "enrollment_id": "enr-0001",
    "enterprise_id": "ent-0001",
    "partner_id": "bedo",
    "workshop": {
        "workshop_id": "ws-0001", "module": 1, "province": "ID-JK",
        "timezone": "Asia/Jakarta", "days": ["2027-03-22", "2027-03-23"], "status": "planned",
        "kind": "module", "programme": "score", "revision": 0,
        "sessions": [
            {"day": "2027-03-22", "starts_at": "2027-03-22T01:00:00+00:00",
             "ends_at": "2027-03-22T09:00:00+00:00"},
            {"day": "2027-03-23", "starts_at": "2027-03-23T01:00:00+00:00",
             "ends_at": "2027-03-23T09:00:00+00:00"}],
        "venue": {"venue_id": "ven-bedo-pulogadung", "name": "BEDO Training Centre",
                  "address": "Jl. Pulogadung No. 1", "district": "Jakarta Timur"},
    },
    "participants": [
        {"participant_id": "p-1", "name": "Budi Santoso", "role": "manager", "sex": "male",
         "phone": "+6281234567890", "email": "budi@example.co.id", "language": "id",
         "consent_to_reminders": True},
    ],
}


@registry.register(PRODUCER, "participant_registered", 1, SAMPLE_PARTICIPANT_REGISTERED)
class ParticipantRegisteredV1(RegistrationRefSchema):
    """An enrollment's team holds seats in a workshop."""

    workshop = fields.Nested(WorkshopRefSchema, required=True)
    participants = fields.List(fields.Nested(ParticipantSchema), required=True)


SAMPLE_WORKSHOP_SCHEDULED = {
    "workshop_id": "ws-m1-id-jk-20270322-a1b2", "kind": "module", "programme": "score",
    "module": 1, "revision": 0,
    "province": "ID-JK", "district": "Jakarta Timur", "timezone": "Asia/Jakarta",
    "days": ["2027-03-22", "2027-03-23"],
    "sessions": [
        {"day": "2027-03-22", "starts_at": "2027-03-22T01:00:00+00:00",
         "ends_at": "2027-03-22T09:00:00+00:00"},
        {"day": "2027-03-23", "starts_at": "2027-03-23T01:00:00+00:00",
         "ends_at": "2027-03-23T09:00:00+00:00"},
    ],
    "venue_id": "ven-bedo-pulogadung", "trainer_ids": ["trn-siti"], "partner_id": "bedo",
    "capacity_enterprises": 6, "capacity_seats": 24,
    "venue": {"venue_id": "ven-bedo-pulogadung", "name": "BEDO Training Centre",
              "address": "Jl. Pulogadung No. 1", "district": "Jakarta Timur"},
}


@registry.register(PRODUCER, "workshop_scheduled", 1, SAMPLE_WORKSHOP_SCHEDULED)
class WorkshopScheduledV1(PayloadSchema):
    """A workshop is on the calendar: its days, local sessions in UTC, venue and trainers."""

    workshop_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("module", "results")))
    programme = programme_field()
    module = module_field(required=True)
    revision = fields.Integer(load_default=0)
    province = province_field(required=True)
    district = fields.String(allow_none=True, load_default=None)
    timezone = fields.String(required=True)
    days = fields.List(fields.Date(), required=True, validate=validate.Length(min=1))
    sessions = fields.List(fields.Nested(SessionRefSchema), required=True)
    venue_id = fields.String(required=True)
    venue = fields.Nested(VenueRefSchema, allow_none=True, load_default=None)
    trainer_ids = fields.List(fields.String(), required=True)
    partner_id = fields.String(required=True)
    capacity_enterprises = fields.Integer(required=True)
    capacity_seats = fields.Integer(required=True)


SAMPLE_PARTICIPANT_WAITLISTED = {
    "registration_id": "reg-0002", "enrollment_id": "enr-0002", "enterprise_id": "ent-0002",
    "partner_id": "bedo", "module": 1, "province": "ID-JK",
    "reason": "no workshop of module 1 in DKI Jakarta by bedo starts between 2027-03-01 and "
              "2027-04-15 with room for 2",
}


@registry.register(PRODUCER, "participant_waitlisted", 1, SAMPLE_PARTICIPANT_WAITLISTED)
class ParticipantWaitlistedV1(RegistrationRefSchema):
    """An enrollment waits for a seat; it is placed, in order of arrival, when one opens."""

    module = module_field(required=True)
    province = province_field(required=True)
    reason = fields.String(required=True)


class HolderSchema(RegistrationRefSchema):
    participants = fields.List(fields.Nested(ParticipantSchema), required=True)


SAMPLE_WORKSHOP_RESCHEDULED = {
    "workshop": {**{k: v for k, v in SAMPLE_WORKSHOP_SCHEDULED.items()},
                 "days": ["2027-03-29", "2027-03-30"], "revision": 1,
                 "sessions": [
                     {"day": "2027-03-29", "starts_at": "2027-03-29T01:00:00+00:00",
                      "ends_at": "2027-03-29T09:00:00+00:00"},
                     {"day": "2027-03-30", "starts_at": "2027-03-30T01:00:00+00:00",
                      "ends_at": "2027-03-30T09:00:00+00:00"}]},
    "previous_days": ["2027-03-22", "2027-03-23"],
    "reason": "the venue is flooded",
    "actor": "staff:rina",
    "registrations": [{
        "registration_id": "reg-enr-0001", "enrollment_id": "enr-0001",
        "enterprise_id": "ent-0001", "partner_id": "bedo",
        "participants": SAMPLE_PARTICIPANT_REGISTERED["participants"]}],
}


@registry.register(PRODUCER, "workshop_rescheduled", 1, SAMPLE_WORKSHOP_RESCHEDULED)
class WorkshopRescheduledV1(PayloadSchema):
    """A workshop moved: its new days and sessions, the old days, why, and every registered
    team with its contacts (enough to withdraw and re-issue reminders from this event)."""

    workshop = fields.Nested(WorkshopScheduledV1, required=True)
    previous_days = fields.List(fields.Date(), required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1))
    actor = fields.String(required=True)
    registrations = fields.List(fields.Nested(HolderSchema), required=True)


SAMPLE_WORKSHOP_CANCELLED = {
    "workshop_id": "ws-m1-id-jk-20270322-a1b2", "module": 1, "province": "ID-JK",
    "timezone": "Asia/Jakarta", "days": ["2027-03-22", "2027-03-23"],
    "reason": "the trainer is ill and no other is certified", "actor": "staff:rina",
    "registrations": SAMPLE_WORKSHOP_RESCHEDULED["registrations"],
}


@registry.register(PRODUCER, "workshop_cancelled", 1, SAMPLE_WORKSHOP_CANCELLED)
class WorkshopCancelledV1(PayloadSchema):
    """A workshop will not take place; its teams go back to the waiting list."""

    workshop_id = fields.String(required=True)
    module = module_field(required=True)
    province = province_field(required=True)
    timezone = fields.String(required=True)
    days = fields.List(fields.Date(), required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1))
    actor = fields.String(required=True)
    registrations = fields.List(fields.Nested(HolderSchema), required=True)


SAMPLE_REGISTRATION_CANCELLED = {
    "registration_id": "reg-enr-0001", "enrollment_id": "enr-0001", "enterprise_id": "ent-0001",
    "partner_id": "bedo", "workshop_id": "ws-m1-id-jk-20270322-a1b2",
    "reason": "withdrawn: the enterprise closed",
}


@registry.register(PRODUCER, "registration_cancelled", 1, SAMPLE_REGISTRATION_CANCELLED)
class RegistrationCancelledV1(RegistrationRefSchema):
    """A team no longer holds (or waits for) seats: its enrollment was withdrawn."""

    workshop_id = fields.String(allow_none=True, load_default=None)
    reason = fields.String(required=True)


class TeamOutcomeSchema(HolderSchema):
    qualified = fields.Boolean(required=True)
    reason = fields.String(required=True)
    # participant id -> {ISO day: present | absent | excused}
    attendance = fields.Dict(keys=fields.String(), values=fields.Dict(
        keys=fields.String(), values=fields.String(
            validate=validate.OneOf(("present", "absent", "excused")))), required=True)


SAMPLE_WORKSHOP_COMPLETED = {
    "workshop_id": "ws-m1-id-jk-20270322-a1b2", "kind": "module", "programme": "score",
    "module": 1, "province": "ID-JK", "timezone": "Asia/Jakarta",
    "days": ["2027-03-22", "2027-03-23"], "trainer_ids": ["trn-siti"], "partner_id": "bedo",
    "teams": [{
        "registration_id": "reg-enr-0001", "enrollment_id": "enr-0001",
        "enterprise_id": "ent-0001", "partner_id": "bedo", "qualified": True,
        "reason": "a manager and a worker attended both days",
        "participants": SAMPLE_PARTICIPANT_REGISTERED["participants"],
        "attendance": {"p-1": {"2027-03-22": "present", "2027-03-23": "present"}}}],
}


@registry.register(PRODUCER, "workshop_completed", 1, SAMPLE_WORKSHOP_COMPLETED)
class WorkshopCompletedV1(PayloadSchema):
    """Attendance is recorded for both days: each team, and whether it qualifies for coaching
    (a manager and a worker present on both days) or why not."""

    workshop_id = fields.String(required=True)
    kind = fields.String(required=True)
    programme = programme_field()
    module = module_field(required=True)
    province = province_field(required=True)
    timezone = fields.String(required=True)
    days = fields.List(fields.Date(), required=True)
    trainer_ids = fields.List(fields.String(), required=True)
    partner_id = fields.String(required=True)
    teams = fields.List(fields.Nested(TeamOutcomeSchema), required=True)


SAMPLE_VISIT_CONFLICT = {
    "visit_id": "vis-enr-0001-1", "trainer_id": "trn-siti", "day": "2027-04-19",
    "held_by": "ws-m2-id-jk-20270419-c3d4",
    "reason": "trn-siti teaches workshop ws-m2-id-jk-20270419-c3d4 on 2027-04-19",
    "free_trainers": ["trn-agus"],
}


@registry.register(PRODUCER, "visit_conflict", 1, SAMPLE_VISIT_CONFLICT)
class VisitConflictV1(PayloadSchema):
    """A visit falls on a day its trainer is already booked: coaching must move it."""

    visit_id = fields.String(required=True)
    trainer_id = fields.String(required=True)
    day = fields.Date(required=True)
    held_by = fields.String(required=True)
    reason = fields.String(required=True)
    # trainers certified for the visit's module in its province who are free that day: the
    # visit may change hands instead of moving
    free_trainers = fields.List(fields.String(), load_default=list)


SAMPLE_RESULTS_WORKSHOP_DUE = {
    "workshop_id": "ws-m1-id-jk-20270322-a1b2", "module": 1, "province": "ID-JK",
    "partner_id": "bedo",
    "teams": [{"registration_id": "reg-enr-0001", "enrollment_id": "enr-0001",
               "enterprise_id": "ent-0001", "partner_id": "bedo"}],
}


@registry.register(PRODUCER, "results_workshop_due", 1, SAMPLE_RESULTS_WORKSHOP_DUE)
class ResultsWorkshopDueV1(PayloadSchema):
    """Every team a workshop sent on to coaching has finished it: the cohort is ready to
    present its results (staff schedule the results workshop)."""

    workshop_id = fields.String(required=True)
    module = module_field(required=True)
    province = province_field(required=True)
    partner_id = fields.String(required=True)
    teams = fields.List(fields.Nested(RegistrationRefSchema), required=True)


SAMPLE_TRAINER_REGISTERED = {
    "trainer_id": "trn-siti", "name": "Siti Rahayu", "partner_id": "bedo", "modules": [1, 2],
    "provinces": ["ID-JK", "ID-JB"], "email": "siti@bedo.or.id", "phone": "+6281311112222",
    "language": "id", "active": True,
}


@registry.register(PRODUCER, "trainer_registered", 1, SAMPLE_TRAINER_REGISTERED)
class TrainerRegisteredV1(PayloadSchema):
    """A trainer as registered or last changed: certification, provinces and contacts (for
    the reminders notifications sends them)."""

    trainer_id = fields.String(required=True)
    name = fields.String(required=True)
    partner_id = fields.String(required=True)
    modules = fields.List(module_field(), required=True)
    provinces = fields.List(province_field(), required=True)
    email = fields.Email(allow_none=True, load_default=None)
    phone = fields.String(allow_none=True, load_default=None)
    language = fields.String(load_default="id", validate=validate.OneOf(LANGUAGES))
    active = fields.Boolean(required=True)
