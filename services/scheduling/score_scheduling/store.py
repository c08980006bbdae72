"""Scheduling's repository."""
from __future__ import annotations

from score_common.store import AlreadyExists, Repository
from score_scheduling.models import Registration, Workshop


class SchedulingRepository(Repository):
    def workshop(self, data: dict) -> Workshop:
        existing = Workshop.objects(pk=data["workshop_id"]).first()
        if existing:
            return existing
        fields = {k: v for k, v in data.items() if k != "workshop_id"}
        try:
            return self.insert(Workshop(id=data["workshop_id"], **fields))
        except AlreadyExists:
            return Workshop.objects.get(pk=data["workshop_id"])

    def registration(self, registration_id: str) -> Registration | None:
        return Registration.objects(pk=registration_id).first()

    def registrations_for(self, workshop_id: str) -> list[Registration]:
        return list(Registration.objects(workshop_id=workshop_id))
