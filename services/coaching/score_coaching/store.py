"""Coaching's repository."""
from datetime import timedelta

from score_common.store import Repository
from score_coaching.models import VisitPlan, VisitRhythm


class CoachingRepository(Repository):
    def visit_plan(self, plan_id: str) -> VisitPlan | None:
        return VisitPlan.objects(pk=plan_id).first()

    def active_plans(self) -> list[VisitPlan]:
        return list(VisitPlan.objects(status="active").exclude("outbox", "participants"))

    def plans(self, plan_ids: list[str]) -> dict[str, VisitPlan]:
        return {plan.pk: plan for plan in VisitPlan.objects(pk__in=plan_ids)}

    def rhythms(self) -> dict[str, tuple[int, timedelta]]:
        return {r.pk: (r.visits, timedelta(weeks=r.weeks)) for r in VisitRhythm.objects}
