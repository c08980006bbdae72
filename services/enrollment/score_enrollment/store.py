"""Enrollment's repository: the only code that knows how enrollments are stored."""
from __future__ import annotations

from score_common.store import Repository, utcnow
from score_enrollment import domain
from score_enrollment.contract import size_class
from score_enrollment.models import (
    ApiKey, Enrollment, Enterprise, ModuleSeat, Partner, Submission,
)

LIST_LIMIT = 500
# What a partner may correct by submitting again; the size class follows the workforce.
ENTERPRISE_DETAILS = ("name", "sector", "province", "district", "workforce", "contact")


def changed_details(enterprise, details: dict) -> dict:
    """{detail: the registry's current value} for each detail the submission changes, of an
    enterprise in its stored form."""
    return {name: enterprise.get(name) for name in ENTERPRISE_DETAILS
            if enterprise.get(name) != details[name]}


class EnrollmentRepository(Repository):
    # -- enrollments ----------------------------------------------------------------------------
    def get_enrollment(self, enrollment_id: str) -> Enrollment | None:
        return Enrollment.objects(pk=enrollment_id).first()

    def list_enrollments(self, *, partner_id=None, status=None, module=None, enterprise_id=None,
                         limit: int = 50, offset: int = 0) -> tuple[list[Enrollment], int]:
        filters = {k: v for k, v in (("partner_id", partner_id), ("status", status),
                                     ("module", module), ("enterprise_id", enterprise_id))
                   if v is not None}
        query = Enrollment.objects(**filters).exclude("outbox")
        total = query.count()
        page = list(query.order_by("-submitted_at", "id").skip(offset).limit(min(limit,
                                                                                 LIST_LIMIT)))
        return page, total

    def change_status(self, enrollment_id: str, target: str, *, reason: str | None,
                      actor: str, record) -> tuple[Enrollment, bool]:
        """Move an enrollment on; (enrollment, changed). Repeating a transition already made
        changes nothing (a retried command); any other invalid one raises InvalidTransition."""
        changed = []

        def change(enrollment: Enrollment):
            changed.clear()
            if enrollment.status == target:
                return False
            domain.check_transition(enrollment.status, target)
            now = utcnow()
            previous = enrollment.status
            enrollment.status = target
            enrollment.history.append({"status": target, "at": now, "reason": reason,
                                       "actor": actor})
            record(enrollment, {
                "enrollment_id": enrollment.pk, "partner_id": enrollment.partner_id,
                "enterprise_id": enrollment.enterprise_id, "module": enrollment.module,
                "previous_status": previous, "status": target, "reason": reason,
                "actor": actor, "changed_at": now})
            changed.append(True)

        enrollment = self.update(Enrollment, enrollment_id, change)
        if changed and target == "withdrawn":
            # The enterprise may enroll in this module again later.
            ModuleSeat.objects(pk=domain.module_seat_id(enrollment.enterprise_id,
                                                        enrollment.module),
                               enrollment_id=enrollment.pk).delete()
        return enrollment, bool(changed)

    # -- enterprises ----------------------------------------------------------------------------
    def get_enterprise(self, enterprise_id: str) -> Enterprise | None:
        return Enterprise.objects(pk=enterprise_id).first()

    def update_enterprise_details(self, enterprise_id: str, details: dict, partner_id: str,
                                  message_id: str) -> Enterprise:
        def change(enterprise: Enterprise):
            earlier = changed_details(enterprise.to_mongo(), details)
            if not earlier:
                return False
            enterprise.history.append({"at": utcnow(), "by": partner_id,
                                       "submission": message_id, "changes": earlier})
            for name in earlier:
                setattr(enterprise, name, details[name])
            workforce = enterprise.workforce
            enterprise.size = size_class(workforce["women"] + workforce["men"])

        return self.update(Enterprise, enterprise_id, change)

    # -- submissions ----------------------------------------------------------------------------
    def get_submission(self, partner_id: str, message_id: str) -> Submission | None:
        return Submission.objects(pk=domain.submission_key(partner_id, message_id)).first()

    def list_submissions(self, *, partner_id=None, outcome=None, limit=50, offset=0):
        filters = {k: v for k, v in (("partner_id", partner_id), ("outcome", outcome))
                   if v is not None}
        query = Submission.objects(**filters).exclude("outbox", "body")
        total = query.count()
        return list(query.order_by("-received_at").skip(offset).limit(min(limit, LIST_LIMIT))), \
            total

    # -- partners and their keys ----------------------------------------------------------------
    def get_partner(self, partner_id: str) -> Partner | None:
        return Partner.objects(pk=partner_id).first()

    def partners_by_id(self, partner_ids) -> dict[str, Partner]:
        ids = list(partner_ids)
        return {partner.pk: partner for partner in Partner.objects(pk__in=ids)} if ids else {}

    def partners(self) -> list[Partner]:
        return list(Partner.objects.order_by("id"))

    def get_api_key(self, key_id: str) -> ApiKey | None:
        return ApiKey.objects(pk=key_id).first()
