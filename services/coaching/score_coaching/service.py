"""The coaching service: visit plans, visit records and KPI measurements.

Runs with its store, outbox and health check; its event handlers (workshop completed, visits
recorded) arrive with the coaching work.
"""
from __future__ import annotations

from nameko.rpc import rpc

from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import MongoStore
from score_coaching.models import VisitPlan
from score_coaching.schemas import VisitPlanSchema
from score_coaching.store import CoachingRepository


class CoachingService(ScoreService):
    name = "coaching"
    store: CoachingRepository = MongoStore(CoachingRepository, documents=[VisitPlan])
    outbox = Outbox(VisitPlan)

    @rpc
    def get_visit_plan(self, plan_id: str) -> dict | None:
        plan = self.store.visit_plan(plan_id)
        return VisitPlanSchema().dump(plan) if plan else None


SERVICE = CoachingService
