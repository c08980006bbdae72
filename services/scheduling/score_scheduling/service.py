"""The scheduling service: workshops, seats and registrations.

Accepts: enrollment_accepted.
Emits: participant_registered.
"""
from __future__ import annotations

from nameko.rpc import rpc

from score_common.envelope import Event
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import AlreadyExists, MongoStore
from score_scheduling import domain
from score_scheduling.models import Registration, Workshop
from score_scheduling.schemas import RegistrationSchema
from score_scheduling.store import SchedulingRepository


def workshop_ref(workshop: Workshop) -> dict:
    return {"workshop_id": workshop.pk, "module": workshop.module, "province": workshop.province,
            "timezone": workshop.timezone, "days": list(workshop.days), "status": workshop.status}


class SchedulingService(ScoreService):
    name = "scheduling"
    store: SchedulingRepository = MongoStore(SchedulingRepository,
                                             documents=[Workshop, Registration])
    outbox = Outbox(Workshop, Registration)

    @event_handler
    def handle_enrollment_accepted(self, event: Event):
        enrollment = event.payload
        registration_id = domain.registration_id(enrollment["enrollment_id"])
        if self.store.registration(registration_id) is not None:
            return registration_id
        workshop = self.store.workshop(domain.placeholder_workshop(
            enrollment["module"], enrollment["enterprise"]["province"],
            enrollment["preferred_period"]["start"]))
        registration = Registration(
            id=registration_id, enrollment_id=enrollment["enrollment_id"],
            enterprise_id=enrollment["enterprise"]["enterprise_id"],
            partner_id=enrollment["partner_id"], workshop_id=workshop.pk,
            participants=enrollment["team"])
        self.outbox.record(registration, "participant_registered", {
            "registration_id": registration_id,
            "enrollment_id": enrollment["enrollment_id"],
            "enterprise_id": registration.enterprise_id,
            "partner_id": registration.partner_id,
            "workshop": workshop_ref(workshop),
            "participants": enrollment["team"],
        })
        try:
            self.store.insert(registration)
        except AlreadyExists:
            return registration_id
        self.outbox.publish(registration)
        return registration_id

    @rpc
    def get_registration(self, registration_id: str) -> dict | None:
        registration = self.store.registration(registration_id)
        return RegistrationSchema().dump(registration) if registration else None


SERVICE = SchedulingService
