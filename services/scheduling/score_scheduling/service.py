"""The scheduling service: trainers, venues, workshops, seats and the waiting list.

Accepts: enrollment_accepted (an enrollment to place), enrollment_status_changed (a withdrawal
frees seats), visit_scheduled and visit_cancelled (coaching takes and frees trainers' days),
coaching_completed (a cohort whose coaching ended is due its results workshop);
RPC commands from staff and the edge.
Emits: workshop_scheduled, workshop_rescheduled, workshop_cancelled, workshop_completed (with
each team's attendance and whether it qualifies for coaching); participant_registered (an
enrollment holds seats in a workshop); participant_waitlisted (it waits, in order of arrival,
for a workshop with room); registration_cancelled; visit_conflict (a visit on a day its
trainer is already booked); results_workshop_due.
Fails with: Refused (each offending field and why) for a command it will not carry out.
"""
from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import date

from nameko.rpc import rpc
from nameko.web.handlers import http

from score_common.clock import Clock
from score_common.commands import load
from score_common.envelope import Event
from score_common.errors import NotFound, Refused
from score_common.http import problem
from score_common.indonesia import PROVINCES
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import MongoStore, as_date, utcnow
from score_scheduling import calendars, domain
from score_scheduling.models import (
    Booking, Registration, Trainer, Venue, VisitConflict, Waiting, Workshop,
)
from score_scheduling.schemas import (
    AttendanceCommand, CancelCommand, RegistrationSchema, RescheduleCommand, TrainerCommand, TrainerSchema,
    VenueCommand, VenueSchema, WorkshopCommand, WorkshopSchema,
)
from score_scheduling.store import SchedulingRepository


def workshop_ref(workshop: Workshop) -> dict:
    return {"workshop_id": workshop.pk, "kind": workshop.kind, "programme": workshop.programme,
            "module": workshop.module, "province": workshop.province,
            "timezone": workshop.timezone, "days": list(workshop.days), "status": workshop.status,
            "revision": workshop.revision, "sessions": list(workshop.sessions),
            "venue": dict(workshop.venue) or None}


def trainer_view(trainer: Trainer | None) -> domain.TrainerView | None:
    if trainer is None:
        return None
    return domain.TrainerView(
        trainer.pk, trainer.name, tuple(trainer.modules), tuple(trainer.provinces),
        tuple((as_date(u["start"]), as_date(u["end"]), u.get("reason", "unavailable"))
              for u in trainer.unavailable), trainer.active)


class SchedulingService(ScoreService):
    name = "scheduling"
    store: SchedulingRepository = MongoStore(SchedulingRepository, documents=[
        Trainer, Venue, Workshop, Booking, Registration, Waiting, VisitConflict])
    outbox = Outbox(Workshop, Registration, VisitConflict, Trainer)
    clock = Clock()

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
        if not trainer.calendar_token:
            trainer = self.store.update(Trainer, trainer.pk, self._give_calendar_token)
        trainer = self.store.update(Trainer, trainer.pk, self._announce_trainer)
        self.outbox.publish(trainer)
        return {**TrainerSchema().dump(trainer),
                "calendar_path": f"/calendars/trainers/{trainer.pk}/{trainer.calendar_token}.ics"}

    def _announce_trainer(self, trainer: Trainer):
        """Tell the platform about a new or changed trainer (once per change)."""
        return self.outbox.announce(trainer, "trainer_registered", {
            "trainer_id": trainer.pk, **{k: getattr(trainer, k) for k in (
                "name", "partner_id", "modules", "provinces", "email", "phone", "language",
                "active")}})

    @staticmethod
    def _give_calendar_token(trainer: Trainer):
        if trainer.calendar_token:
            return False
        trainer.calendar_token = secrets.token_urlsafe(24)

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
        errors = domain.check_days(data["days"], today=self.clock.today(
            domain.timezone_of(venue.province)), kind=data["kind"])
        cohort = self._cohort_errors(data, errors)
        errors.update(domain.check_capacity(data["capacity_enterprises"],
                                            data["capacity_seats"], venue.capacity))
        errors.update(self._trainer_errors(data["trainer_ids"], data["module"], venue.province,
                                           data["days"], data["kind"]))
        if errors:
            raise Refused(errors)
        workshop_id = data["workshop_id"] or domain.workshop_id(
            data["module"], venue.province, data["days"][0], uuid.uuid4().hex[:6])
        clashes = self.store.book(workshop_id, "workshop", [venue.pk, *data["trainer_ids"]],
                                  data["days"], domain.booking_id)
        if clashes:
            raise Refused(self._clash_errors(clashes, venue.pk, data["trainer_ids"]))
        workshop = Workshop(
            id=workshop_id, kind=data["kind"], programme=data["programme"],
            module=data["module"], province=venue.province,
            district=venue.district, timezone=domain.timezone_of(venue.province),
            days=data["days"], sessions=self._sessions(data["days"], venue.province,
                                                       data["starts"], data["ends"]),
            venue_id=venue.pk, venue={"venue_id": venue.pk, "name": venue.name,
                                      "address": venue.address, "district": venue.district},
            trainer_ids=data["trainer_ids"], partner_id=data["partner_id"],
            capacity_enterprises=data["capacity_enterprises"],
            capacity_seats=data["capacity_seats"], holders=self._cohort_holders(cohort),
            cohort_of=data["cohort_of"], status="planned",
            history=[{"status": "planned", "at": utcnow(), "actor": actor}],
            created_at=utcnow())
        self.outbox.record(workshop, "workshop_scheduled", self._scheduled_payload(workshop))
        if workshop.kind == "results":
            self._invite(workshop)
        if self.store.insert_many([workshop]):
            return WorkshopSchema().dump(self.store.workshop(workshop_id))
        self.outbox.publish(workshop)
        if workshop.kind == "module":
            self._promote(workshop)
        return WorkshopSchema().dump(self.store.workshop(workshop_id))

    # -- results workshops -----------------------------------------------------------------------
    def _cohort_errors(self, data: dict, errors: dict) -> Workshop | None:
        """The module workshop whose cohort a results workshop is for, if it may have one now;
        what is wrong goes into errors."""
        if data["kind"] != "results":
            return None
        cohort = self.store.workshop(data["cohort_of"])
        if cohort is None or cohort.kind != "module":
            errors["cohort_of"] = [f"no module workshop {data['cohort_of']!r}"]
            return None
        if cohort.module != data["module"] or cohort.partner_id != data["partner_id"]:
            errors["cohort_of"] = [f"{cohort.pk} is module {cohort.module} by "
                                   f"{cohort.partner_id}; a results workshop is for its own "
                                   "cohort's module and partner"]
        elif cohort.status != "completed" or not cohort.results_due:
            done = sum(1 for state in cohort.coaching.values() if state == "completed")
            errors["cohort_of"] = [f"the cohort of {cohort.pk} is still in coaching ({done} of "
                                   f"{len(cohort.coaching)} teams finished)"
                                   if cohort.status == "completed" else
                                   f"{cohort.pk} is {cohort.status}; its teams have not been "
                                   "coached yet"]
        elif len(cohort.coaching) > data["capacity_enterprises"]:
            errors["capacity_enterprises"] = [f"the cohort has {len(cohort.coaching)} "
                                              "enterprises"]
        return cohort

    @staticmethod
    def _cohort_holders(cohort: Workshop | None) -> dict:
        """A results workshop's seats go to the teams its cohort coached."""
        if cohort is None:
            return {}
        return {enrollment_id: {**holder, "registration_id": f"{holder['registration_id']}"
                                                             f"-results"}
                for enrollment_id, holder in cohort.holders.items()
                if cohort.coaching.get(enrollment_id) == "completed"}

    def _invite(self, workshop: Workshop) -> None:
        """Each team of the cohort is told of its results workshop (and reminded): recorded
        on the workshop itself, whose holders they are."""
        for enrollment_id, holder in sorted(workshop.holders.items()):
            self.outbox.record(workshop, "participant_registered", {
                "enrollment_id": enrollment_id, "workshop": workshop_ref(workshop),
                **{k: holder[k] for k in ("registration_id", "enterprise_id", "partner_id",
                                          "participants")}})

    @event_handler
    def handle_coaching_completed(self, event: Event):
        """One more team of a cohort has finished coaching; when it is the last, the cohort's
        results workshop is due."""
        coached = event.payload

        def finish(workshop: Workshop):
            if workshop.coaching.get(coached["enrollment_id"]) != "active":
                return False
            workshop.coaching = {**workshop.coaching, coached["enrollment_id"]: "completed"}
            if all(state == "completed" for state in workshop.coaching.values()):
                workshop.results_due = True
                self.outbox.record(workshop, "results_workshop_due", {
                    "workshop_id": workshop.pk, "module": workshop.module,
                    "province": workshop.province, "partner_id": workshop.partner_id,
                    "teams": [{"enrollment_id": enrollment_id, **{
                        k: holder[k] for k in ("registration_id", "enterprise_id",
                                               "partner_id")}}
                        for enrollment_id, holder in sorted(workshop.holders.items())
                        if enrollment_id in workshop.coaching]})

        if self.store.workshop(coached["workshop_id"]) is None:
            return None
        workshop = self.store.update(Workshop, coached["workshop_id"], finish)
        self.outbox.publish(workshop)
        return workshop.results_due

    def _trainer_errors(self, trainer_ids, module, province, days, kind) -> dict:
        trainers = self.store.trainers_by_id(trainer_ids)
        errors = {}
        for index, trainer_id in enumerate(trainer_ids):
            reasons = domain.check_trainer(trainer_view(trainers.get(trainer_id)), trainer_id,
                                           module, province, days, kind)
            if reasons:
                errors[f"trainer_ids[{index}]"] = reasons
        return errors

    def _planned(self, workshop_id: str) -> Workshop:
        workshop = self.store.workshop(workshop_id)
        if workshop is None:
            raise NotFound(f"no workshop {workshop_id}")
        if workshop.status != "planned":
            raise Refused({"workshop_id": [
                f"{workshop_id} is {workshop.status}; only a planned workshop can change"]})
        return workshop

    @rpc
    def reschedule_workshop(self, workshop_id: str, command: dict,
                            actor: str = "staff") -> dict:
        """Move a planned workshop to other days (and trainers): its venue and trainers are
        booked for the new days before the old ones are let go, and one event tells every
        registered team. Refused with every reason, changing nothing."""
        data = load(RescheduleCommand(), command)
        workshop = self._planned(workshop_id)
        trainer_ids = data["trainer_ids"] or list(workshop.trainer_ids)
        errors = domain.check_days(data["days"], today=self.clock.today(workshop.timezone),
                                   kind=workshop.kind)
        errors.update(self._trainer_errors(trainer_ids, workshop.module, workshop.province,
                                           data["days"], workshop.kind))
        if errors:
            raise Refused(errors)
        resources = [workshop.venue_id, *trainer_ids]
        clashes = self.store.book(workshop.pk, "workshop", resources, data["days"],
                                  domain.booking_id)
        if clashes:
            raise Refused(self._clash_errors(clashes, workshop.venue_id, trainer_ids))
        before = {}

        def move(current: Workshop):
            if current.status != "planned":
                raise Refused({"workshop_id": [
                    f"{workshop_id} became {current.status} meanwhile; nothing was moved"]})
            before.update(days=list(current.days), trainers=list(current.trainer_ids))
            current.days = data["days"]
            current.sessions = self._sessions(data["days"], current.province, data["starts"],
                                              data["ends"])
            current.trainer_ids = trainer_ids
            current.history.append({"status": "rescheduled", "at": utcnow(), "actor": actor,
                                    "reason": data["reason"], "from": [
                                        d.isoformat() for d in before["days"]]})
            self.outbox.record(current, "workshop_rescheduled", {
                "workshop": self._scheduled_payload(current),
                "previous_days": before["days"], "reason": data["reason"], "actor": actor,
                "registrations": self._holders(current)})

        try:
            workshop = self.store.update(Workshop, workshop_id, move)
        except Refused:
            self._release_unused(workshop_id, resources, data["days"], keep={
                domain.booking_id(r, d) for r in [workshop.venue_id, *workshop.trainer_ids]
                for d in workshop.days})
            raise
        # let go of what the old days held and the new ones do not
        self._release_unused(workshop_id, [workshop.venue_id, *before["trainers"]],
                             before["days"], keep={
                                 domain.booking_id(r, d) for r in resources
                                 for d in data["days"]})
        self.outbox.publish(workshop)
        return WorkshopSchema().dump(workshop)

    @rpc
    def cancel_workshop(self, workshop_id: str, command: dict, actor: str = "staff") -> dict:
        """Call a planned workshop off: its bookings are released and its teams wait again
        (at the place in line they had). Cancelling again changes nothing."""
        data = load(CancelCommand(), command)
        existing = self.store.workshop(workshop_id)
        if existing is None:
            raise NotFound(f"no workshop {workshop_id}")
        if existing.status == "cancelled":
            return WorkshopSchema().dump(existing)
        self._planned(workshop_id)
        cancelled = {}

        def cancel(current: Workshop):
            cancelled["now"] = current.status == "planned"
            if not cancelled["now"]:
                return False
            current.status = "cancelled"
            current.history.append({"status": "cancelled", "at": utcnow(), "actor": actor,
                                    "reason": data["reason"]})
            self.outbox.record(current, "workshop_cancelled", {
                "workshop_id": current.pk, "module": current.module,
                "province": current.province, "timezone": current.timezone,
                "days": list(current.days), "reason": data["reason"], "actor": actor,
                "registrations": self._holders(current)})

        workshop = self.store.update(Workshop, workshop_id, cancel)
        if not cancelled["now"]:
            return WorkshopSchema().dump(workshop)
        self.outbox.publish(workshop)
        self._release_unused(workshop_id, [workshop.venue_id, *workshop.trainer_ids],
                             workshop.days, keep=())
        for holder in workshop.holders.values():
            self._back_to_waiting(holder["registration_id"], workshop.pk,
                                  f"workshop {workshop.pk} was cancelled: {data['reason']}")
        return WorkshopSchema().dump(workshop)

    @rpc
    def record_attendance(self, workshop_id: str, command: dict, actor: str = "staff") -> dict:
        """Attendance per participant per day, in bulk; all or nothing. The workshop is
        completed once every registered participant has a record for both days."""
        data = load(AttendanceCommand(), command)
        workshop = self._planned(workshop_id)
        today = self.clock.today(workshop.timezone)
        errors = self._attendance_errors(workshop, data["records"], today)
        if errors:
            raise Refused(errors)
        completed = {}

        def record(current: Workshop):
            if current.status != "planned":
                raise Refused({"workshop_id": [
                    f"{workshop_id} became {current.status} meanwhile; nothing was recorded"]})
            errors = self._attendance_errors(current, data["records"], today)  # holders change
            if errors:
                raise Refused(errors)
            attendance = {pid: dict(days) for pid, days in current.attendance.items()}
            for entry in data["records"]:
                attendance.setdefault(entry["participant_id"], {})[
                    entry["day"].isoformat()] = entry["status"]
            current.attendance = attendance
            days = [day.isoformat() for day in current.days]
            participant_ids = [p["participant_id"] for holder in current.holders.values()
                               for p in holder["participants"]]
            completed["now"] = bool(participant_ids) and domain.attendance_complete(
                participant_ids, attendance, days)
            if completed["now"]:
                outcome = self._completion(current)
                current.status = "completed"
                current.coaching = {team["enrollment_id"]: "active"
                                    for team in outcome["teams"] if team["qualified"]}
                current.history.append({"status": "completed", "at": utcnow(), "actor": actor})
                self.outbox.record(current, "workshop_completed", outcome)

        workshop = self.store.update(Workshop, workshop_id, record)
        if completed.get("now"):
            self.outbox.publish(workshop)
        return WorkshopSchema().dump(workshop)

    @staticmethod
    def _attendance_errors(workshop: Workshop, records: list[dict], today: date) -> dict:
        registered = {p["participant_id"] for holder in workshop.holders.values()
                      for p in holder["participants"]}
        errors: dict[str, list[str]] = {}
        for index, entry in enumerate(records):
            if entry["participant_id"] not in registered:
                errors[f"records[{index}].participant_id"] = [
                    f"{entry['participant_id']} is not registered in {workshop.pk}"]
            if entry["day"] not in workshop.days:
                errors[f"records[{index}].day"] = [
                    f"{entry['day'].isoformat()} is not a day of this workshop ("
                    + ", ".join(d.isoformat() for d in workshop.days) + ")"]
            elif entry["day"] > today:
                errors[f"records[{index}].day"] = [
                    f"{entry['day'].isoformat()} has not come yet (today is "
                    f"{today.isoformat()} in {workshop.timezone})"]
        return errors

    @staticmethod
    def _completion(workshop: Workshop) -> dict:
        days = [day.isoformat() for day in workshop.days]
        teams = []
        for enrollment_id, holder in sorted(workshop.holders.items()):
            qualified, reason = domain.qualification(holder["participants"],
                                                     workshop.attendance, days)
            ids = {p["participant_id"] for p in holder["participants"]}
            teams.append({
                "enrollment_id": enrollment_id, "qualified": qualified, "reason": reason,
                "attendance": {pid: dict(v) for pid, v in workshop.attendance.items()
                               if pid in ids},
                **{k: holder[k] for k in ("registration_id", "enterprise_id", "partner_id",
                                          "participants")}})
        return {"workshop_id": workshop.pk, "kind": workshop.kind,
                "programme": workshop.programme, "module": workshop.module,
                "province": workshop.province, "timezone": workshop.timezone,
                "days": list(workshop.days), "trainer_ids": list(workshop.trainer_ids),
                "partner_id": workshop.partner_id, "teams": teams}

    def _back_to_waiting(self, registration_id: str, workshop_id: str, reason: str) -> None:
        moved = {}

        def unplace(registration: Registration):
            moved["now"] = registration.workshop_id == workshop_id \
                and registration.status == "registered"
            if not moved["now"]:
                return False
            self._waitlisted(registration, reason)

        registration = self.store.update(Registration, registration_id, unplace)
        if moved["now"]:
            self.outbox.publish(registration)
        if registration.status == "waitlisted":
            self._wait(registration)

    def _release_unused(self, holder: str, resources, days, keep) -> None:
        self.store.release([booking for booking in (
            domain.booking_id(r, d) for r in resources for d in days) if booking not in keep],
            holder)

    @staticmethod
    def _holders(workshop: Workshop) -> list[dict]:
        return [{"enrollment_id": enrollment_id,
                 **{k: holder[k] for k in ("registration_id", "enterprise_id", "partner_id",
                                           "participants")}}
                for enrollment_id, holder in sorted(workshop.holders.items())]

    @staticmethod
    def _sessions(days, province, starts, ends) -> list[dict]:
        return [{**session, "day": session["day"].isoformat()}  # no dates in dicts in BSON
                for session in domain.sessions_utc(days, province, starts, ends)]

    @staticmethod
    def _scheduled_payload(workshop: Workshop) -> dict:
        return {**{k: getattr(workshop, k) for k in (
            "kind", "programme", "module", "revision", "province", "district", "timezone",
            "days", "sessions", "venue_id", "trainer_ids", "partner_id", "capacity_enterprises",
            "capacity_seats")}, "workshop_id": workshop.pk, "venue": dict(workshop.venue) or None}

    @staticmethod
    def _clash_errors(clashes: dict, venue_id: str, trainer_ids: list[str]) -> dict:
        errors: dict[str, list[str]] = {}
        for booking_id, holder in sorted(clashes.items()):
            resource, _, day = booking_id.rpartition(":")
            field = "venue_id" if resource == venue_id else \
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
            preferred_period={k: as_date(v).isoformat() for k, v in period.items()},
            participants=enrollment["team"], history=[])
        workshop = self._reserve_any(registration)
        if workshop is not None:
            self._registered(registration, workshop)
        else:
            self._waitlisted(registration, self._why_waiting(registration))
        if self.store.insert_many([registration]):
            return registration_id  # placed by a concurrent delivery of the same event
        self.outbox.publish(registration)
        if registration.status == "waitlisted":
            self._wait(registration)
        return registration_id

    @staticmethod
    def _about(registration: Registration) -> dict:
        """What every event about a registration says of it."""
        return {"registration_id": registration.pk,
                "enrollment_id": registration.enrollment_id,
                "enterprise_id": registration.enterprise_id,
                "partner_id": registration.partner_id}

    def _registered(self, registration: Registration, workshop: Workshop) -> None:
        registration.status = "registered"
        registration.workshop_id = workshop.pk
        registration.history.append({"status": "registered", "at": utcnow(),
                                     "workshop_id": workshop.pk})
        self.outbox.record(registration, "participant_registered", {
            **self._about(registration), "workshop": workshop_ref(workshop),
            "participants": registration.participants})

    def _waitlisted(self, registration: Registration, reason: str) -> None:
        registration.status = "waitlisted"
        registration.workshop_id = None
        registration.waitlisted_at = registration.waitlisted_at or utcnow()
        registration.history.append({"status": "waitlisted", "at": utcnow(), "reason": reason})
        self.outbox.record(registration, "participant_waitlisted", {
            **self._about(registration), "module": registration.module,
            "province": registration.province, "reason": reason})

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
            if registration.enrollment_id in workshop.holders:
                return workshop  # reserved by an earlier attempt that did not finish
        period, team = self._period(registration), len(registration.participants)
        while workshops:
            chosen = domain.choose_workshop(
                [domain.Candidate(w.pk, w.days[0], w.enterprises_free, w.seats_free)
                 for w in workshops], period, team)
            if chosen is None:
                return None
            reserved = self._reserve(chosen, registration)
            if reserved is not None:
                return reserved
            workshops = [w for w in workshops if w.pk != chosen]  # filled meanwhile
        return None

    def _reserve(self, workshop_id: str, registration) -> Workshop | None:
        """Seats for the registration's team in this workshop, if it is planned and has room;
        the workshop as written (its days are the ones the team is told)."""
        enrollment_id, team = registration.enrollment_id, len(registration.participants)
        outcome = {}

        def take(workshop: Workshop):
            outcome["ok"] = enrollment_id in workshop.holders or (
                workshop.status == "planned" and workshop.enterprises_free >= 1
                and workshop.seats_free >= team)
            if not outcome["ok"] or enrollment_id in workshop.holders:
                return False
            workshop.holders = {**workshop.holders, enrollment_id: {
                "registration_id": registration.pk, "enterprise_id": registration.enterprise_id,
                "partner_id": registration.partner_id, "seats": team,
                "participants": list(registration.participants)}}

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
            registration = self.store.registration(waiting.pk)
            if registration is None or registration.status != "waitlisted":
                waiting.delete()
                continue
            reserved = self._reserve(workshop.pk, registration)
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
        if enrollment_id not in workshop.holders:
            return False
        workshop.holders = {k: v for k, v in workshop.holders.items() if k != enrollment_id}

    @event_handler
    def handle_enrollment_status_changed(self, event: Event):
        """A withdrawn enrollment gives its seats (or its place in line) back; the first team
        waiting that fits takes them."""
        change = event.payload
        if change["status"] != "withdrawn":
            return None
        registration_id = domain.registration_id(change["enrollment_id"])
        reason = f"withdrawn: {change.get('reason') or 'no reason given'}"
        left = {}

        def withdraw(registration: Registration):
            if registration.status == "cancelled":
                return False
            left["workshop_id"] = registration.workshop_id
            registration.status = "cancelled"
            registration.history.append({"status": "cancelled", "at": utcnow(),
                                         "reason": reason})
            self.outbox.record(registration, "registration_cancelled", {
                **self._about(registration), "workshop_id": registration.workshop_id,
                "reason": reason})

        if self.store.registration(registration_id) is None:
            return None  # never placed (or not yet): nothing holds seats
        registration = self.store.update(Registration, registration_id, withdraw)
        self.outbox.publish(registration)
        Waiting.objects(pk=registration_id).delete()
        workshop_id = left.get("workshop_id") or registration.workshop_id
        if workshop_id:
            workshop = self.store.update(Workshop, workshop_id, lambda w: self._give_back(
                w, registration.enrollment_id))
            if workshop.status == "planned":
                self._promote(workshop)
        return registration_id

    # -- coaching visits -------------------------------------------------------------------------
    @event_handler
    def handle_visit_scheduled(self, event: Event):
        """Book the trainer's day for the visit; a day already taken is reported back."""
        visit = event.payload
        day = as_date(visit["day"])
        clashes = self.store.book(visit["visit_id"], "visit", [visit["trainer_id"]], [day],
                                  domain.booking_id)
        if not clashes:
            return "booked"
        [holder] = clashes.values()
        conflict = VisitConflict(id=f"conflict-{visit['visit_id']}-{day.isoformat()}",
                                 visit_id=visit["visit_id"], held_by=holder)
        self.outbox.record(conflict, "visit_conflict", {
            "visit_id": visit["visit_id"], "trainer_id": visit["trainer_id"], "day": day,
            "held_by": holder, "free_trainers": self._free_trainers(visit, day),
            "reason": f"{visit['trainer_id']} is already booked on {day.isoformat()} "
                      f"({holder})"})
        if not self.store.insert_many([conflict]):
            self.outbox.publish(conflict)
        return "conflict"

    def _free_trainers(self, visit: dict, day: date) -> list[str]:
        """Trainers who could take the visit that day: certified for its module, working in
        its province, available, and with nothing booked."""
        able = [trainer.pk for trainer in self.store.trainers()
                if trainer.pk != visit["trainer_id"] and not domain.check_trainer(
                    trainer_view(trainer), trainer.pk, visit["module"], visit["province"], [day])]
        booked = self.store.booked([domain.booking_id(t, day) for t in able])
        return [t for t in able if domain.booking_id(t, day) not in booked]

    @event_handler
    def handle_visit_cancelled(self, event: Event):
        visit = event.payload
        self.store.release([domain.booking_id(visit["trainer_id"], as_date(visit["day"]))],
                           visit["visit_id"])

    # -- calendars -------------------------------------------------------------------------------
    @rpc
    def workshop_calendar(self, workshop_id: str) -> str:
        """The workshop's days as iCalendar text (text/calendar)."""
        workshop = self.store.workshop(workshop_id)
        if workshop is None:
            raise NotFound(f"no workshop {workshop_id}")
        return calendars.feed(f"SCORE workshop {workshop_id}", [workshop],
                              {workshop.venue_id: self.store.venue(workshop.venue_id)}).decode()

    @rpc
    def trainer_calendar(self, trainer_id: str) -> str:
        """Every workshop a trainer runs, cancelled ones marked so, as iCalendar text."""
        trainer = self.store.trainer(trainer_id)
        if trainer is None:
            raise NotFound(f"no trainer {trainer_id}")
        workshops = self.store.workshops_of_trainer(trainer_id)
        venues = {venue.pk: venue for venue in self.store.venues()}
        return calendars.feed(f"SCORE: {trainer.name}", workshops, venues).decode()

    @http("GET", "/calendars/workshops/<string:workshop_id>.ics")
    def workshop_calendar_http(self, request, workshop_id):
        try:
            return self._ics(self.workshop_calendar(workshop_id), workshop_id)
        except NotFound as exc:
            return problem(404, "not-found", "No such workshop", str(exc))

    @http("GET", "/calendars/trainers/<string:trainer_id>/<string:token>.ics")
    def trainer_calendar_http(self, request, trainer_id, token):
        """A trainer's subscription address: the token in it is the trainer's secret."""
        trainer = self.store.trainer(trainer_id)
        if trainer is None or not trainer.calendar_token or not hmac.compare_digest(
                trainer.calendar_token, token):
            return problem(404, "not-found", "No such calendar")
        return self._ics(self.trainer_calendar(trainer_id), trainer_id)

    @staticmethod
    def _ics(text: str, name: str):
        return 200, {"Content-Type": "text/calendar; charset=utf-8",
                     "Content-Disposition": f'inline; filename="{name}.ics"'}, text

    @rpc
    def get_registration(self, registration_id: str) -> dict | None:
        registration = self.store.registration(registration_id)
        return RegistrationSchema().dump(registration) if registration else None


SERVICE = SchedulingService
