"""The scheduling service: trainers, venues, workshops, seats and the waiting list.

Accepts: enrollment_accepted (an enrollment to place); RPC commands from staff and the edge.
Emits: workshop_scheduled; participant_registered (an enrollment holds seats in a workshop);
participant_waitlisted (it waits, in order of arrival, for a workshop with room).
Fails with: Refused (each offending field and why) for a command it will not carry out.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

from nameko.rpc import rpc

from score_common.envelope import Event
from score_common.errors import NotFound, Refused
from score_common.indonesia import PROVINCES
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import MongoStore, utcnow
from score_scheduling import domain
from score_scheduling.models import Booking, Registration, Trainer, Venue, Waiting, Workshop
from score_scheduling.schemas import (
    RegistrationSchema, TrainerCommand, TrainerSchema, VenueCommand, VenueSchema,
    WorkshopCommand, WorkshopSchema, load,
)
from score_scheduling.store import SchedulingRepository


def workshop_ref(workshop: Workshop) -> dict:
    return {"workshop_id": workshop.pk, "module": workshop.module, "province": workshop.province,
            "timezone": workshop.timezone, "days": list(workshop.days), "status": workshop.status}


def trainer_view(trainer: Trainer | None) -> domain.TrainerView | None:
    if trainer is None:
        return None
    return domain.TrainerView(
        trainer.pk, trainer.name, tuple(trainer.modules), tuple(trainer.provinces),
        tuple((_as_date(u["start"]), _as_date(u["end"]), u.get("reason", "unavailable"))
              for u in trainer.unavailable), trainer.active)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(value)


class SchedulingService(ScoreService):
    name = "scheduling"
    store: SchedulingRepository = MongoStore(SchedulingRepository, documents=[
        Trainer, Venue, Workshop, Booking, Registration, Waiting])
    outbox = Outbox(Workshop, Registration)

    # -- trainers and venues ---------------------------------------------------------------------
    @rpc
    def register_trainer(self, command: dict) -> dict:
        data = load(TrainerCommand(), command)
        fields = {k: v for k, v in data.items() if k != "code"}
        fields["unavailable"] = [{**u, "start": u["start"].isoformat(),
                                  "end": u["end"].isoformat()} for u in data["unavailable"]]
        trainer = self.store.put(Trainer, f"trn-{data['code']}",
                                 {**fields, "modules": sorted(set(data["modules"])),
                                  "provinces": sorted(set(data["provinces"])), "active": True})
        return TrainerSchema().dump(trainer)

    @rpc
    def register_venue(self, command: dict) -> dict:
        data = load(VenueCommand(), command)
        venue = self.store.put(Venue, f"ven-{data['code']}",
                               {k: v for k, v in data.items() if k != "code"})
        return VenueSchema().dump(venue)

    @rpc
    def list_trainers(self) -> list[dict]:
        return TrainerSchema(many=True).dump(self.store.trainers())

    @rpc
    def list_venues(self) -> list[dict]:
        return VenueSchema(many=True).dump(self.store.venues())

    # -- workshops -------------------------------------------------------------------------------
    @rpc
    def schedule_workshop(self, command: dict, actor: str = "staff") -> dict:
        """Put a workshop on the calendar, booking its venue and trainers for both days; or
        Refused with every reason at once. Repeating a command with its workshop_id returns
        the workshop already scheduled."""
        data = load(WorkshopCommand(), command)
        if data["workshop_id"]:
            existing = self.store.workshop(data["workshop_id"])
            if existing is not None:
                return WorkshopSchema().dump(existing)
        venue = self.store.venue(data["venue_id"])
        if venue is None:
            raise Refused({"venue_id": [f"no venue {data['venue_id']!r} is registered"]})
        errors = domain.check_days(data["days"], today=date.today())
        errors.update(domain.check_capacity(data["capacity_enterprises"],
                                            data["capacity_seats"], venue.capacity))
        trainers = self.store.trainers_by_id(data["trainer_ids"])
        for index, trainer_id in enumerate(data["trainer_ids"]):
            reasons = domain.check_trainer(trainer_view(trainers.get(trainer_id)), trainer_id,
                                           data["module"], venue.province, data["days"],
                                           data["kind"])
            if reasons:
                errors[f"trainer_ids[{index}]"] = reasons
        if errors:
            raise Refused(errors)
        workshop_id = data["workshop_id"] or domain.workshop_id(
            data["module"], venue.province, data["days"][0], uuid.uuid4().hex[:6])
        clashes = self.store.book(workshop_id, "workshop", [venue.pk, *data["trainer_ids"]],
                                  data["days"], domain.booking_id)
        if clashes:
            raise Refused(self._clash_errors(clashes, venue, data["trainer_ids"]))
        workshop = Workshop(
            id=workshop_id, kind=data["kind"], module=data["module"], province=venue.province,
            district=venue.district, timezone=domain.timezone_of(venue.province),
            days=data["days"], sessions=[
                {**session, "day": session["day"].isoformat()}  # no dates inside dicts in BSON
                for session in domain.sessions_utc(data["days"], venue.province,
                                                   data["starts"], data["ends"])],
            venue_id=venue.pk, trainer_ids=data["trainer_ids"], partner_id=data["partner_id"],
            capacity_enterprises=data["capacity_enterprises"],
            capacity_seats=data["capacity_seats"], seats={}, status="planned",
            history=[{"status": "planned", "at": utcnow(), "actor": actor}],
            created_at=utcnow())
        self.outbox.record(workshop, "workshop_scheduled", {
            **{k: getattr(workshop, k) for k in (
                "kind", "module", "province", "district", "timezone", "days", "sessions",
                "venue_id", "trainer_ids", "partner_id", "capacity_enterprises",
                "capacity_seats")},
            "workshop_id": workshop.pk})
        if self.store.insert_many([workshop]):
            return WorkshopSchema().dump(self.store.workshop(workshop_id))
        self.outbox.publish(workshop)
        if workshop.kind == "module":
            self._promote(workshop)
        return WorkshopSchema().dump(self.store.workshop(workshop_id))

    @staticmethod
    def _clash_errors(clashes: dict, venue: Venue, trainer_ids: list[str]) -> dict:
        errors: dict[str, list[str]] = {}
        for booking_id, holder in sorted(clashes.items()):
            resource, _, day = booking_id.rpartition(":")
            field = "venue_id" if resource == venue.pk else \
                f"trainer_ids[{trainer_ids.index(resource)}]"
            errors.setdefault(field, []).append(
                f"{resource} is already booked on {day} ({holder})")
        return errors

    @rpc
    def get_workshop(self, workshop_id: str) -> dict:
        workshop = self.store.workshop(workshop_id)
        if workshop is None:
            raise NotFound(f"no workshop {workshop_id}")
        registrations = self.store.registrations_for(workshop_id)
        return {**WorkshopSchema().dump(workshop),
                "registrations": RegistrationSchema(many=True, only=(
                    "registration_id", "enrollment_id", "enterprise_id", "partner_id",
                    "status")).dump(registrations)}

    @rpc
    def list_workshops(self, module: int | None = None, province: str | None = None,
                       partner_id: str | None = None, status: str | None = None) -> list[dict]:
        return WorkshopSchema(many=True).dump(self.store.workshops(
            module=module, province=province, partner_id=partner_id, status=status))

    # -- placement -------------------------------------------------------------------------------
    @event_handler
    def handle_enrollment_accepted(self, event: Event):
        enrollment = event.payload
        registration_id = domain.registration_id(enrollment["enrollment_id"])
        existing = self.store.registration(registration_id)
        if existing is not None:
            if existing.status == "waitlisted":
                self._wait(existing)  # a crash may have come between the two writes
            return registration_id
        period = enrollment["preferred_period"]
        registration = Registration(
            id=registration_id, enrollment_id=enrollment["enrollment_id"],
            enterprise_id=enrollment["enterprise"]["enterprise_id"],
            partner_id=enrollment["partner_id"], module=enrollment["module"],
            province=enrollment["enterprise"]["province"],
            preferred_period={k: _as_date(v).isoformat() for k, v in period.items()},
            participants=enrollment["team"], history=[])
        workshop = self._reserve_any(registration)
        if workshop is not None:
            self._registered(registration, workshop)
        else:
            registration.status = "waitlisted"
            registration.waitlisted_at = utcnow()
            registration.history.append({"status": "waitlisted", "at": utcnow()})
            self.outbox.record(registration, "participant_waitlisted", {
                "registration_id": registration_id,
                "enrollment_id": registration.enrollment_id,
                "enterprise_id": registration.enterprise_id,
                "partner_id": registration.partner_id, "module": registration.module,
                "province": registration.province, "reason": self._why_waiting(registration)})
        if self.store.insert_many([registration]):
            return registration_id  # placed by a concurrent delivery of the same event
        self.outbox.publish(registration)
        if registration.status == "waitlisted":
            self._wait(registration)
        return registration_id

    def _registered(self, registration: Registration, workshop: Workshop) -> None:
        registration.status = "registered"
        registration.workshop_id = workshop.pk
        registration.history.append({"status": "registered", "at": utcnow(),
                                     "workshop_id": workshop.pk})
        self.outbox.record(registration, "participant_registered", {
            "registration_id": registration.pk,
            "enrollment_id": registration.enrollment_id,
            "enterprise_id": registration.enterprise_id,
            "partner_id": registration.partner_id,
            "workshop": workshop_ref(workshop),
            "participants": registration.participants,
        })

    @staticmethod
    def _period(registration: Registration) -> tuple[date, date]:
        period = registration.preferred_period
        return date.fromisoformat(period["start"]), date.fromisoformat(period["end"])

    def _why_waiting(self, registration: Registration) -> str:
        start, end = self._period(registration)
        return (f"no workshop of module {registration.module} in "
                f"{PROVINCES[registration.province].name} by {registration.partner_id} starts "
                f"between {start.isoformat()} and {end.isoformat()} with room for "
                f"{len(registration.participants)}")

    def _reserve_any(self, registration: Registration) -> Workshop | None:
        """Seats for the team in the earliest fitting workshop, taken on the workshop itself
        (a versioned write: two placements can never both take the last seat)."""
        workshops = self.store.workshops(module=registration.module,
                                         province=registration.province,
                                         partner_id=registration.partner_id, status="planned",
                                         kind="module")
        for workshop in workshops:
            if registration.enrollment_id in workshop.seats:
                return workshop  # reserved by an earlier attempt that did not finish
        period, team = self._period(registration), len(registration.participants)
        while workshops:
            chosen = domain.choose_workshop(
                [domain.Candidate(w.pk, w.days[0], w.enterprises_free, w.seats_free)
                 for w in workshops], period, team)
            if chosen is None:
                return None
            reserved = self._reserve(chosen, registration.enrollment_id, team)
            if reserved is not None:
                return reserved
            workshops = [w for w in workshops if w.pk != chosen]  # filled meanwhile
        return None

    def _reserve(self, workshop_id: str, enrollment_id: str, team: int) -> Workshop | None:
        outcome = {}

        def take(workshop: Workshop):
            outcome["ok"] = enrollment_id in workshop.seats or (
                workshop.status == "planned" and workshop.enterprises_free >= 1
                and workshop.seats_free >= team)
            if not outcome["ok"] or enrollment_id in workshop.seats:
                return False
            workshop.seats = {**workshop.seats, enrollment_id: team}

        workshop = self.store.update(Workshop, workshop_id, take)
        return workshop if outcome["ok"] else None

    def _wait(self, registration: Registration) -> None:
        self.store.insert_many([Waiting(
            id=registration.pk, enrollment_id=registration.enrollment_id,
            module=registration.module, province=registration.province,
            partner_id=registration.partner_id, team_size=len(registration.participants),
            preferred_period=registration.preferred_period,
            since=registration.waitlisted_at or utcnow())])

    def _promote(self, workshop: Workshop) -> int:
        """Seat waiting enrollments in this workshop, first come first; a team that does not
        fit (its period, or the seats left) keeps its place for the next workshop."""
        placed = 0
        for waiting in self.store.waiting(workshop.module, workshop.province,
                                          workshop.partner_id):
            period = (date.fromisoformat(waiting.preferred_period["start"]),
                      date.fromisoformat(waiting.preferred_period["end"]))
            if not domain.fits_period(workshop.days[0], period):
                continue
            reserved = self._reserve(workshop.pk, waiting.enrollment_id, waiting.team_size)
            if reserved is None:
                continue
            moved = {}

            def register(registration: Registration):
                moved["now"] = registration.status == "waitlisted"
                if not moved["now"]:
                    return False
                self._registered(registration, reserved)

            registration = self.store.update(Registration, waiting.pk, register)
            if moved["now"]:
                self.outbox.publish(registration)
                placed += 1
            elif registration.workshop_id != workshop.pk:
                # placed elsewhere meanwhile: give the seats back
                self.store.update(Workshop, workshop.pk, lambda w: self._give_back(
                    w, waiting.enrollment_id))
            waiting.delete()
        return placed

    @staticmethod
    def _give_back(workshop: Workshop, enrollment_id: str):
        if enrollment_id not in workshop.seats:
            return False
        workshop.seats = {k: v for k, v in workshop.seats.items() if k != enrollment_id}

    @rpc
    def get_registration(self, registration_id: str) -> dict | None:
        registration = self.store.registration(registration_id)
        return RegistrationSchema().dump(registration) if registration else None


SERVICE = SchedulingService
