"""The coaching service: visit plans, visit records and KPI measurements.

Accepts: workshop_completed (a plan of visits for each team that qualified), visit_conflict
(the trainer is booked that day: the visit moves to the next working day).
Emits: visit_scheduled, visit_cancelled (scheduling books and frees the trainer's days).
"""
from __future__ import annotations

from datetime import timedelta

from nameko.rpc import rpc

from score_common.envelope import Event
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import MongoStore, as_date, utcnow
from score_coaching import domain
from score_coaching.models import VisitPlan
from score_coaching.schemas import VisitPlanSchema
from score_coaching.store import CoachingRepository


class CoachingService(ScoreService):
    name = "coaching"
    store: CoachingRepository = MongoStore(CoachingRepository, documents=[VisitPlan])
    outbox = Outbox(VisitPlan)

    @event_handler
    def handle_workshop_completed(self, event: Event):
        """A plan of visits for every team that qualified; the others get none."""
        workshop = event.payload
        if workshop["kind"] != "module":
            return []
        count, spacing = domain.rhythm(workshop["module"])
        last_day = max(as_date(day) for day in workshop["days"])
        plans = []
        for team in workshop["teams"]:
            if not team["qualified"]:
                continue
            plan = VisitPlan(
                id=domain.plan_id(team["enrollment_id"]),
                enrollment_id=team["enrollment_id"], enterprise_id=team["enterprise_id"],
                partner_id=team["partner_id"], registration_id=team["registration_id"],
                workshop_id=workshop["workshop_id"], module=workshop["module"],
                province=workshop["province"], timezone=workshop["timezone"],
                trainer_id=workshop["trainer_ids"][0], participants=team["participants"],
                visits=[{"visit_id": domain.visit_id(team["enrollment_id"], number),
                         "number": number, "day": day.isoformat(), "status": "planned",
                         "moves": []}
                        for number, day in enumerate(
                            domain.plan_visits(last_day, count, spacing), start=1)],
                status="active", created_at=utcnow())
            for visit in plan.visits:
                self.outbox.record(plan, "visit_scheduled", self._scheduled(plan, visit))
            plans.append(plan)
        taken = self.store.insert_many(plans)  # a plan made by an earlier delivery stays
        self.outbox.publish(*[plan for index, plan in enumerate(plans) if index not in taken])
        return [plan.pk for plan in plans]

    @staticmethod
    def _scheduled(plan: VisitPlan, visit: dict) -> dict:
        return {"visit_id": visit["visit_id"], "plan_id": plan.pk,
                "enrollment_id": plan.enrollment_id, "enterprise_id": plan.enterprise_id,
                "partner_id": plan.partner_id, "module": plan.module,
                "province": plan.province, "trainer_id": plan.trainer_id,
                "day": visit["day"], "number": visit["number"], "of": len(plan.visits)}

    @event_handler
    def handle_visit_conflict(self, event: Event):
        """The trainer is booked that day: move the visit to the next working day (and let
        scheduling free the old day and book the new one)."""
        conflict = event.payload
        enrollment_id, _, number = conflict["visit_id"][len("vis-"):].rpartition("-")
        moved = {}

        def move(plan: VisitPlan):
            visit = next((v for v in plan.visits if v["visit_id"] == conflict["visit_id"]),
                         None)
            if visit is None or visit["status"] != "planned" \
                    or visit["day"] != as_date(conflict["day"]).isoformat():
                return False  # already moved (a redelivery), or no longer planned
            if len(visit["moves"]) >= domain.MAX_MOVES:
                return False  # staff must find a day by hand
            old_day = as_date(visit["day"])
            new_day = domain.next_working_day(old_day + timedelta(days=1))
            visit["moves"] = [*visit["moves"], {"from": old_day.isoformat(),
                                                "to": new_day.isoformat(),
                                                "reason": conflict["reason"], "at": utcnow()}]
            visit["day"] = new_day.isoformat()
            plan.visits = list(plan.visits)
            self.outbox.record(plan, "visit_cancelled", {
                "visit_id": visit["visit_id"], "trainer_id": plan.trainer_id,
                "day": old_day, "reason": f"moved to {new_day.isoformat()}: "
                                          f"{conflict['reason']}"})
            self.outbox.record(plan, "visit_scheduled", self._scheduled(plan, visit))
            moved["to"] = new_day

        plan = self.store.update(VisitPlan, domain.plan_id(enrollment_id), move)
        if moved:
            self.outbox.publish(plan)
        return moved.get("to")

    @rpc
    def get_visit_plan(self, plan_id: str) -> dict | None:
        plan = self.store.visit_plan(plan_id)
        return VisitPlanSchema().dump(plan) if plan else None


SERVICE = CoachingService
