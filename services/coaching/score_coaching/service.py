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
from score_common.contracts.common import PROGRAMMES
from score_common.envelope import Event
from score_common.errors import NotFound, Refused
from score_common.indonesia import MODULES
from score_common.messaging.consumer import event_handler
from score_common.messaging.outbox import Outbox
from score_common.service import ScoreService
from score_common.store import MongoStore, as_date, utcnow
from score_coaching import domain, kpis
from score_coaching.models import VisitPlan, VisitRhythm
from score_coaching.schemas import (
    BaselineCommand, RhythmCommand, VisitPlanSchema, VisitRecordCommand,
)
from score_coaching.store import CoachingRepository


OVERDUE_CHECK_SECONDS = 3600


class CoachingService(ScoreService):
    name = "coaching"
    store: CoachingRepository = MongoStore(CoachingRepository, documents=[VisitPlan, VisitRhythm])
    outbox = Outbox(VisitPlan)
    clock = Clock()

    # -- plans -----------------------------------------------------------------------------------
    def _visits(self, plan: VisitPlan, last_day, trainer_id: str | None,
                configured: dict) -> list[dict]:
        count, spacing = domain.rhythm(plan.programme, plan.module, configured)
        return [{"visit_id": domain.visit_id(plan.enrollment_id, number), "number": number,
                 "day": day.isoformat(), "trainer_id": trainer_id, "status": "planned",
                 "moves": [], "handovers": []}
                for number, day in enumerate(domain.plan_visits(last_day, count, spacing),
                                             start=1)]

    @staticmethod
    def _set_status(plan: VisitPlan, status: str, reason: str) -> None:
        plan.status = status
        plan.history = [*plan.history, {"status": status, "at": utcnow(), "reason": reason}]

    @event_handler
    def handle_participant_registered(self, event: Event):
        """Draft the team's plan from its workshop's days, so staff see the coaching ahead;
        the draft follows the workshop until the team qualifies there."""
        registered, workshop = event.payload, event.payload["workshop"]
        if workshop["kind"] != "module":
            return None
        configured = self.store.rhythms()
        draft = VisitPlan(
            id=domain.plan_id(registered["enrollment_id"]),
            enrollment_id=registered["enrollment_id"],
            enterprise_id=registered["enterprise_id"], partner_id=registered["partner_id"],
            participants=registered["participants"], created_at=utcnow(),
            **self._workshop_fields(workshop, registered["registration_id"]))
        draft.visits = self._visits(draft, max(workshop["days"]), None, configured)
        self._set_status(draft, "provisional", f"placed in {workshop['workshop_id']}")
        if not self.store.insert_many([draft]):
            return draft.pk

        def redraft(plan: VisitPlan):
            if plan.status not in ("provisional", "cancelled"):
                return False  # coaching has begun or ended: the plan is no draft any more
            if plan.status == "provisional" and plan.workshop_id == workshop["workshop_id"] \
                    and plan.workshop_revision >= workshop["revision"]:
                return False  # a redelivery, or older news than the draft has
            for name, value in self._workshop_fields(
                    workshop, registered["registration_id"]).items():
                setattr(plan, name, value)
            plan.participants = registered["participants"]
            plan.visits = self._visits(plan, max(workshop["days"]), None, configured)
            self._set_status(plan, "provisional", f"placed in {workshop['workshop_id']}")

        self.store.update(VisitPlan, draft.pk, redraft)
        return draft.pk

    @staticmethod
    def _workshop_fields(workshop: dict, registration_id: str | None) -> dict:
        return {"registration_id": registration_id, "workshop_id": workshop["workshop_id"],
                "workshop_days": [as_date(d).isoformat() for d in workshop["days"]],
                "workshop_revision": workshop.get("revision", 0),
                "programme": workshop.get("programme", "score"),
                "module": workshop["module"], "province": workshop["province"],
                "timezone": workshop["timezone"]}

    @event_handler
    def handle_workshop_rescheduled(self, event: Event):
        """Draft plans follow their workshop to its new days."""
        moved = event.payload["workshop"]
        configured, followed = self.store.rhythms(), []

        def follow(plan: VisitPlan):
            if plan.status != "provisional" or plan.workshop_id != moved["workshop_id"] \
                    or plan.workshop_revision >= moved["revision"]:
                return False  # not this workshop's draft, or already moved this far
            plan.workshop_days = [as_date(d).isoformat() for d in moved["days"]]
            plan.workshop_revision = moved["revision"]
            plan.visits = self._visits(plan, max(moved["days"]), None, configured)
            followed.append(plan.pk)

        for plan_id in self.store.plans([domain.plan_id(r["enrollment_id"])
                                         for r in event.payload["registrations"]]):
            self.store.update(VisitPlan, plan_id, follow)
        return followed

    @event_handler
    def handle_workshop_cancelled(self, event: Event):
        cancelled = event.payload
        reason = f"workshop {cancelled['workshop_id']} cancelled: {cancelled['reason']}"

        def cancel(plan: VisitPlan):
            if plan.status != "provisional" or plan.workshop_id != cancelled["workshop_id"]:
                return False
            self._set_status(plan, "cancelled", reason)

        for plan_id in self.store.plans([domain.plan_id(r["enrollment_id"])
                                         for r in cancelled["registrations"]]):
            self.store.update(VisitPlan, plan_id, cancel)

    @event_handler
    def handle_registration_cancelled(self, event: Event):
        """The enrollment was withdrawn: a draft is cancelled; coaching under way stops, and
        the trainers' days for the visits still planned are given back."""
        cancelled = event.payload
        plan_id = domain.plan_id(cancelled["enrollment_id"])
        if self.store.visit_plan(plan_id) is None:
            return None

        def stop(plan: VisitPlan):
            if plan.status == "provisional":
                self._set_status(plan, "cancelled", cancelled["reason"])
            elif plan.status == "active":
                for visit in plan.visits:
                    if visit["status"] == "planned":
                        visit["status"] = "cancelled"
                        self.outbox.record(plan, "visit_cancelled", {
                            "visit_id": visit["visit_id"],
                            "trainer_id": self._trainer_of(plan, visit),
                            "day": visit["day"], "reason": cancelled["reason"]})
                plan.visits = list(plan.visits)
                self._set_status(plan, "withdrawn", cancelled["reason"])
            else:
                return False

        self.outbox.publish(self.store.update(VisitPlan, plan_id, stop))
        return plan_id

    @event_handler
    def handle_workshop_completed(self, event: Event):
        """Every team that qualified gets its plan activated (visits on the workshop's real
        days, its coach, the trainers' days booked); a draft of a team that did not qualify
        is closed with the reason."""
        workshop = event.payload
        if workshop["kind"] != "module":
            return []
        configured = self.store.rhythms()
        last_day = max(as_date(day) for day in workshop["days"])
        qualified = [team for team in workshop["teams"] if team["qualified"]]
        existing = self.store.plans([domain.plan_id(team["enrollment_id"])
                                     for team in workshop["teams"]])

        def activate(team: dict, coach: str):
            def change(plan: VisitPlan):
                if plan.status not in ("provisional", "cancelled"):
                    return False  # already active (a redelivery), or over
                for name, value in self._workshop_fields(
                        workshop, team["registration_id"]).items():
                    setattr(plan, name, value)
                plan.workshop_trainer_ids = list(workshop["trainer_ids"])
                plan.participants = team["participants"]
                plan.trainer_id = coach
                plan.visits = self._visits(plan, last_day, coach, configured)
                self._set_status(plan, "active", team["reason"])
                for visit in plan.visits:
                    self.outbox.record(plan, "visit_scheduled", self._scheduled(plan, visit))
            return change

        activated = []
        for index, team in enumerate(qualified):
            plan_id = domain.plan_id(team["enrollment_id"])
            change = activate(team, domain.coach_for(workshop["trainer_ids"], index))
            if plan_id not in existing:
                plan = VisitPlan(id=plan_id, enrollment_id=team["enrollment_id"],
                                 enterprise_id=team["enterprise_id"],
                                 partner_id=team["partner_id"], module=workshop["module"],
                                 workshop_id=workshop["workshop_id"],
                                 province=workshop["province"], status="provisional",
                                 created_at=utcnow())
                change(plan)
                if not self.store.insert_many([plan]):
                    self.outbox.publish(plan)
                    activated.append(plan_id)
                    continue
            self.outbox.publish(self.store.update(VisitPlan, plan_id, change))
            activated.append(plan_id)

        def close(team: dict):
            def change(plan: VisitPlan):
                if plan.status != "provisional":
                    return False
                self._set_status(plan, "not_qualified", team["reason"])
            return change

        for team in workshop["teams"]:
            plan_id = domain.plan_id(team["enrollment_id"])
            if not team["qualified"] and plan_id in existing:
                self.store.update(VisitPlan, plan_id, close(team))
        return activated

    @staticmethod
    def _trainer_of(plan: VisitPlan, visit: dict) -> str:
        return visit.get("trainer_id") or plan.trainer_id

    def _scheduled(self, plan: VisitPlan, visit: dict) -> dict:
        return {"visit_id": visit["visit_id"], "plan_id": plan.pk,
                "enrollment_id": plan.enrollment_id, "enterprise_id": plan.enterprise_id,
                "partner_id": plan.partner_id, "module": plan.module,
                "province": plan.province, "timezone": plan.timezone,
                "trainer_id": self._trainer_of(plan, visit), "day": visit["day"],
                "number": visit["number"], "of": len(plan.visits),
                "participants": list(plan.participants)}

    @event_handler
    def handle_visit_conflict(self, event: Event):
        """The trainer is booked that day: a free co-trainer of the workshop takes the visit,
        else it moves to the next working day (and after several moves a free trainer of the
        province takes it). Scheduling frees the old booking and books the new one."""
        conflict = event.payload
        enrollment_id = conflict["visit_id"][len("vis-"):].rpartition("-")[0]
        outcome = {}

        def resolve(plan: VisitPlan):
            visit = next((v for v in plan.visits if v["visit_id"] == conflict["visit_id"]),
                         None)
            if visit is None or visit["status"] != "planned" or plan.status != "active" \
                    or visit["day"] != as_date(conflict["day"]).isoformat() \
                    or self._trainer_of(plan, visit) != conflict["trainer_id"]:
                return False  # already resolved (a redelivery), or no longer planned
            decision = domain.resolve_conflict(
                conflict["trainer_id"], len(visit["moves"]), conflict["free_trainers"],
                list(plan.workshop_trainer_ids))
            if decision is None:
                return False  # staff must find a day or a trainer by hand
            old_day = as_date(visit["day"])
            kind, trainer_id = decision
            if kind == "handover":
                visit["handovers"] = [*visit.get("handovers", []), {
                    "from": conflict["trainer_id"], "to": trainer_id,
                    "day": old_day.isoformat(), "reason": conflict["reason"], "at": utcnow()}]
                visit["trainer_id"] = trainer_id
                why = f"handed to {trainer_id}: {conflict['reason']}"
                outcome["handed_to"] = trainer_id
            else:
                new_day = domain.next_working_day(old_day + timedelta(days=1))
                visit["moves"] = [*visit["moves"], {"from": old_day.isoformat(),
                                                    "to": new_day.isoformat(),
                                                    "reason": conflict["reason"],
                                                    "at": utcnow()}]
                visit["day"] = new_day.isoformat()
                why = f"moved to {new_day.isoformat()}: {conflict['reason']}"
                outcome["moved_to"] = new_day.isoformat()
            plan.visits = list(plan.visits)
            self.outbox.record(plan, "visit_cancelled", {
                "visit_id": visit["visit_id"], "trainer_id": conflict["trainer_id"],
                "day": old_day, "reason": why})
            self.outbox.record(plan, "visit_scheduled", self._scheduled(plan, visit))

        plan = self.store.update(VisitPlan, domain.plan_id(enrollment_id), resolve)
        if outcome:
            self.outbox.publish(plan)
        return outcome or None

    # -- visit rhythm ----------------------------------------------------------------------------
    @rpc
    def set_visit_rhythm(self, command: dict, actor: str = "staff") -> dict:
        """How many visits a programme's module gets, and how many weeks apart (module 0: every
        module of the programme). Plans activated from now on follow it."""
        data = load(RhythmCommand(), command)
        rhythm_id = domain.rhythm_key(data["programme"], data["module"])
        self.store.put(VisitRhythm, rhythm_id, {**data, "set_by": actor, "set_at": utcnow()})
        return {"rhythm_id": rhythm_id, **data}

    @rpc
    def visit_rhythms(self) -> list[dict]:
        """The rhythm each programme's module gets now, and where it comes from."""
        configured = self.store.rhythms()
        table = []
        for programme in PROGRAMMES:
            for module in sorted(MODULES):
                visits, spacing = domain.rhythm(programme, module, configured)
                table.append({"programme": programme, "module": module, "visits": visits,
                              "weeks": spacing.days // 7})
        return table

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
            if plan.status not in ("provisional", "active"):
                raise Refused({"plan_id": [f"{plan_id} is {plan.status}; a baseline is taken "
                                           "before the final visit of a plan in use"]})
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
        if plan.status != "active":
            errors["visit_id"] = [f"{visit_id} belongs to a {plan.status} plan"]
        if trainer_id != self._trainer_of(plan, visit):
            errors["trainer_id"] = [f"{visit_id} is {self._trainer_of(plan, visit)}'s visit, "
                                    f"not {trainer_id}'s"]
        if visit["status"] == "done":
            errors.setdefault("visit_id", []).append(f"{visit_id} is already recorded")
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
                            "trainer_id": self._trainer_of(current, visit),
                            "day": visit["day"],
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
