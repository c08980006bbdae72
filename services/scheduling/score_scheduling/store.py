"""Scheduling's repository: the only code that knows how the calendar is stored."""
from __future__ import annotations

from datetime import date

from score_common.store import Repository, utcnow
from score_scheduling.models import Booking, Registration, Trainer, Venue, Waiting, Workshop


class SchedulingRepository(Repository):
    # -- people and places -----------------------------------------------------------------------
    def trainer(self, trainer_id: str) -> Trainer | None:
        return Trainer.objects(pk=trainer_id).first()

    def trainers_by_id(self, trainer_ids) -> dict[str, Trainer]:
        ids = list(trainer_ids)
        return {t.pk: t for t in Trainer.objects(pk__in=ids)} if ids else {}

    def trainers(self) -> list[Trainer]:
        return list(Trainer.objects.order_by("id"))

    def venue(self, venue_id: str) -> Venue | None:
        return Venue.objects(pk=venue_id).first()

    def venues(self) -> list[Venue]:
        return list(Venue.objects.order_by("id"))

    # -- bookings --------------------------------------------------------------------------------
    def book(self, holder: str, kind: str, resources: list[str], days: list[date],
             make_id) -> dict[str, str]:
        """Take every (resource, day) for `holder`, or none: returns {booking id: the holder
        that has it} for each one already taken by someone else (empty when all were taken
        now). A repeated call by the same holder finds its own bookings and succeeds."""
        now = utcnow()
        wanted = [Booking(id=make_id(resource, day), resource=resource, day=day, holder=holder,
                          kind=kind, booked_at=now) for resource in resources for day in days]
        taken = self.insert_many(wanted)
        clashes = {}
        if taken:
            holders = {b.pk: b.holder for b in Booking.objects(
                pk__in=[wanted[index].pk for index in taken])}
            clashes = {pk: owner for pk, owner in holders.items() if owner != holder}
        if clashes:
            self.release([b.pk for index, b in enumerate(wanted) if index not in taken], holder)
        return clashes

    def booked(self, booking_ids: list[str]) -> set[str]:
        return {b.pk for b in Booking.objects(pk__in=booking_ids).only("id")} \
            if booking_ids else set()

    def release(self, booking_ids: list[str], holder: str) -> None:
        for booking_id in booking_ids:
            Booking.objects(pk=booking_id, holder=holder).delete()

    # -- workshops -------------------------------------------------------------------------------
    def workshop(self, workshop_id: str) -> Workshop | None:
        return Workshop.objects(pk=workshop_id).first()

    def workshops(self, *, module=None, province=None, partner_id=None, status=None,
                  kind=None) -> list[Workshop]:
        filters = {k: v for k, v in (("module", module), ("province", province),
                                     ("partner_id", partner_id), ("status", status),
                                     ("kind", kind)) if v is not None}
        return list(Workshop.objects(**filters).exclude("outbox").order_by("days", "id"))

    def workshops_of_trainer(self, trainer_id: str) -> list[Workshop]:
        return list(Workshop.objects(trainer_ids=trainer_id).exclude("outbox", "holders")
                    .order_by("days", "id"))

    # -- registrations and the waiting list ------------------------------------------------------
    def registration(self, registration_id: str) -> Registration | None:
        return Registration.objects(pk=registration_id).first()

    def registrations_for(self, workshop_id: str) -> list[Registration]:
        return list(Registration.objects(workshop_id=workshop_id))

    def waiting(self, module: int, province: str, partner_id: str) -> list[Waiting]:
        """Who waits for a workshop like this one, first come first."""
        return list(Waiting.objects(module=module, province=province, partner_id=partner_id)
                    .order_by("since", "id"))
