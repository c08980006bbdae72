"""Coaching's repository."""
from score_common.store import Repository
from score_coaching.models import VisitPlan


class CoachingRepository(Repository):
    def visit_plan(self, plan_id: str) -> VisitPlan | None:
        return VisitPlan.objects(pk=plan_id).first()

    def active_plans(self) -> list[VisitPlan]:
        return list(VisitPlan.objects(status="active").exclude("outbox", "participants"))
