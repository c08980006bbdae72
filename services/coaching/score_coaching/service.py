"""The coaching service: visit plans, visit records and KPI measurements.

Accepts: workshop_completed (a plan of visits for each team that qualified), visit_conflict
(the trainer is booked that day: the visit moves to the next working day); RPC commands from
trainers and staff: the baseline, each visit's record.
Emits: visit_scheduled, visit_cancelled (scheduling books and frees the trainer's days),
visit_overdue (found on a timer: a visit's day passed without a record),
coaching_completed (the final visit: every indicator from baseline to final, the actions).
Fails with: Refused (each offending field and why) for a record it will not take.
"""
from __future__ import annotations

from datetime import timedelta

from nameko.rpc import rpc
from nameko.timer import timer

from score_common.clock import Clock
from score_common.commands import load
from score_common.envelope import Event
from score_common.errors import NotFound, Refused
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import MongoStore, as_date, utcnow
from score_coaching import domain, kpis
from score_coaching.models import VisitPlan
from score_coaching.schemas import BaselineCommand, VisitPlanSchema, VisitRecordCommand
from score_coaching.store import CoachingRepository


OVERDUE_CHECK_SECONDS = 3600


class CoachingService(ScoreService):
    name = "coaching"
    store: CoachingRepository = MongoStore(CoachingRepository, documents=[VisitPlan])
    outbox = Outbox(VisitPlan)
    clock = Clock()

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

    # -- records ---------------------------------------------------------------------------------
    def _plan_of_visit(self, visit_id: str) -> VisitPlan:
        enrollment_id = visit_id[len("vis-"):].rpartition("-")[0]
        plan = self.store.visit_plan(domain.plan_id(enrollment_id))
        if plan is None or not any(v["visit_id"] == visit_id for v in plan.visits):
            raise NotFound(f"no visit {visit_id}")
        return plan

    @staticmethod
    def _measurement_errors(measurements: dict) -> dict:
        return {f"measurements.{code}": reasons for code, value in measurements.items()
                if (reasons := kpis.check(code, value))}

    @rpc
    def record_baseline(self, plan_id: str, command: dict, actor: str = "staff") -> dict:
        """The enterprise's indicators before the improvements; needed before the final
        visit. Recorded again (corrected) until the final visit."""
        data = load(BaselineCommand(), command)
        errors = self._measurement_errors(data["measurements"])
        if errors:
            raise Refused(errors)

        def set_baseline(plan: VisitPlan):
            if plan.status != "active":
                raise Refused({"plan_id": [f"{plan_id} is {plan.status}; the baseline is "
                                           "fixed once the final visit is recorded"]})
            plan.baseline = dict(data["measurements"])
            plan.baseline_on = data["measured_on"].isoformat()

        if self.store.visit_plan(plan_id) is None:
            raise NotFound(f"no visit plan {plan_id}")
        return VisitPlanSchema().dump(self.store.update(VisitPlan, plan_id, set_baseline))

    @rpc
    def record_visit(self, visit_id: str, command: dict, trainer_id: str) -> dict:
        """A visit as the trainer recorded it: times, who attended, findings, actions agreed,
        measurements, the trainer's sign-off and the manager's acknowledgement. All or
        nothing; the final visit completes the plan."""
        data = load(VisitRecordCommand(), command)
        plan = self._plan_of_visit(visit_id)
        self._check_record(plan, visit_id, data, trainer_id)
        finished = {}

        def record(current: VisitPlan):
            self._check_record(current, visit_id, data, trainer_id)
            visit = next(v for v in current.visits if v["visit_id"] == visit_id)
            flags = {code: why for code, value in data["measurements"].items()
                     if code in current.baseline
                     and (why := kpis.implausible(code, current.baseline[code], value))}
            agreed = [{"action_id": f"{visit_id}-a{n}", "description": a["description"],
                       "owner": a["owner"], "due": a["due"].isoformat(), "done": False,
                       "visit_id": visit_id} for n, a in enumerate(data["actions"], start=1)]
            current.actions = [{**a, "done": a["done"] or a["action_id"] in data[
                "actions_done"]} for a in current.actions] + agreed
            visit.update(
                status="done", check_in=data["check_in"].isoformat(),
                check_out=data["check_out"].isoformat(), attendees=data["attendees"],
                findings=data["findings"], attachments=data["attachments"],
                measurements=dict(data["measurements"]), flags=flags, signed_by=trainer_id,
                acknowledged_by=data["acknowledged_by"])
            current.visits = list(current.visits)
            if visit["number"] == len(current.visits):
                current.status = "completed"
                self.outbox.record(current, "coaching_completed", self._outcome(
                    current, visit, data["check_out"]))
                finished["plan"] = True

        plan = self.store.update(VisitPlan, plan.pk, record)
        if finished:
            self.outbox.publish(plan)
        return VisitPlanSchema().dump(plan)

    def _check_record(self, plan: VisitPlan, visit_id: str, data: dict, trainer_id: str):
        visit = next(v for v in plan.visits if v["visit_id"] == visit_id)
        errors: dict[str, list[str]] = {}
        if trainer_id != plan.trainer_id:
            errors["trainer_id"] = [f"{visit_id} is {plan.trainer_id}'s visit, not "
                                    f"{trainer_id}'s"]
        if visit["status"] == "done":
            errors["visit_id"] = [f"{visit_id} is already recorded"]
        earlier = [v for v in plan.visits if v["number"] < visit["number"]
                   and v["status"] != "done"]
        if earlier:
            errors.setdefault("visit_id", []).append(
                f"visit {earlier[0]['number']} ({earlier[0]['visit_id']}) is not recorded yet; "
                "visits are recorded in order")
        if data["check_in"] > self.clock.now():
            errors["check_in"] = ["is in the future"]
        errors.update(self._measurement_errors(data["measurements"]))
        open_actions = {a["action_id"] for a in plan.actions if not a["done"]}
        for index, action_id in enumerate(data["actions_done"]):
            if action_id not in open_actions:
                errors[f"actions_done[{index}]"] = [f"{action_id} is not an open action of "
                                                    "this plan"]
        if visit["number"] == len(plan.visits):
            if not plan.baseline:
                errors["baseline"] = ["the final visit needs a baseline: record it first "
                                      "(record_baseline)"]
            for code in sorted(set(plan.baseline) - set(data["measurements"])):
                errors[f"measurements.{code}"] = [
                    "missing: the final visit measures every indicator of the baseline"]
        if errors:
            raise Refused(errors)

    @staticmethod
    def _outcome(plan: VisitPlan, final_visit: dict, finished_at) -> dict:
        outcomes = []
        for code in sorted(plan.baseline):
            kpi, baseline = kpis.DICTIONARY[code], plan.baseline[code]
            final = final_visit["measurements"][code]
            change = kpis.improvement(code, baseline, final)
            outcomes.append({
                "kpi": code, "name": kpi.name, "unit": kpi.unit, "better": kpi.better,
                "baseline": baseline, "final": final, "improvement": change,
                "improved": None if change is None else change > 0,
                "flag": kpis.implausible(code, baseline, final)})
        return {"plan_id": plan.pk, "enrollment_id": plan.enrollment_id,
                "enterprise_id": plan.enterprise_id, "partner_id": plan.partner_id,
                "module": plan.module, "province": plan.province,
                "workshop_id": plan.workshop_id, "trainer_id": plan.trainer_id,
                "visits": len(plan.visits), "completed_on": finished_at.date(),
                "kpis": outcomes,
                "actions": [{k: a[k] for k in ("action_id", "description", "owner", "due",
                                               "done")} for a in plan.actions]}

    # -- overdue visits --------------------------------------------------------------------------
    @timer(interval=OVERDUE_CHECK_SECONDS)
    def find_overdue_visits(self) -> int:
        return self._announce_overdue()

    @rpc
    def check_overdue_visits(self) -> int:
        """Look for overdue visits now (ops, rehearsals) instead of at the next hourly check."""
        return self._announce_overdue()

    def _announce_overdue(self) -> int:
        """Announce, once each, the visits whose day has passed (in the enterprise's zone)
        without a record. Returns how many were announced."""
        announced = 0
        for plan in self.store.active_plans():
            today = self.clock.today(plan.timezone or "Asia/Jakarta")
            late = [v["visit_id"] for v in plan.visits if v["status"] == "planned"
                    and not v.get("overdue_announced") and as_date(v["day"]) < today]
            if not late:
                continue
            marked = []

            def announce(current: VisitPlan):
                marked.clear()
                for visit in current.visits:
                    if visit["visit_id"] in late and visit["status"] == "planned" \
                            and not visit.get("overdue_announced"):
                        visit["overdue_announced"] = True
                        marked.append(visit["visit_id"])
                        self.outbox.record(current, "visit_overdue", {
                            "plan_id": current.pk, "enrollment_id": current.enrollment_id,
                            "enterprise_id": current.enterprise_id,
                            "partner_id": current.partner_id, "module": current.module,
                            "province": current.province, "visit_id": visit["visit_id"],
                            "trainer_id": current.trainer_id, "day": visit["day"],
                            "days_overdue": (today - as_date(visit["day"])).days})
                if not marked:
                    return False
                current.visits = list(current.visits)

            saved = self.store.update(VisitPlan, plan.pk, announce)
            if marked:
                self.outbox.publish(saved)
                announced += len(marked)
        return announced

    @rpc
    def get_visit_plan(self, plan_id: str) -> dict | None:
        plan = self.store.visit_plan(plan_id)
        return VisitPlanSchema().dump(plan) if plan else None


SERVICE = CoachingService
