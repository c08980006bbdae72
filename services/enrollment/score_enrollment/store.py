"""Enrollment's repository: the only code that knows how enrollments are stored."""
from __future__ import annotations

from score_common.store import AlreadyExists, Repository, utcnow
from score_enrollment.models import Enrollment, Enterprise


class EnrollmentRepository(Repository):
    def register_enterprise(self, enterprise_id: str, data: dict) -> Enterprise:
        existing = Enterprise.objects(pk=enterprise_id).first()
        if existing:
            return existing
        try:
            return self.insert(Enterprise(id=enterprise_id, **data))
        except AlreadyExists:
            return Enterprise.objects.get(pk=enterprise_id)

    def get_enrollment(self, enrollment_id: str) -> Enrollment | None:
        return Enrollment.objects(pk=enrollment_id).first()

    def new_enrollment(self, **fields) -> Enrollment:
        now = utcnow()
        return Enrollment(submitted_at=now, history=[{"status": fields["status"], "at": now}],
                          **fields)

    def partner_enrollments(self, partner_id: str, limit: int = 100) -> list[Enrollment]:
        return list(Enrollment.objects(partner_id=partner_id).order_by("-submitted_at")
                    .limit(limit))
