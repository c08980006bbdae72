"""Read models as folds of events, free of nameko and MongoDB.

An event names the entities it is about (`entities`); an entity's read model is the fold of
all its events in (time, id) order (`enterprise`, `cohort`). A fold is a pure function of
the set of events, so redeliveries, late arrivals and rebuilds all give the same result.
Events are folded in their JSON form (dates and times as ISO text).
"""
from __future__ import annotations


def visit_enrollment(visit_id: str) -> str:
    """vis-<enrollment id>-<n> names its enrollment."""
    return visit_id[len("vis-"):].rpartition("-")[0]


def entities(event_type: str, payload: dict) -> list[str]:
    found = []
    if "enrollment_id" in payload:
        found.append(f"enr:{payload['enrollment_id']}")
    if event_type in ("visit_cancelled", "visit_conflict") and "visit_id" in payload:
        found.append(f"enr:{visit_enrollment(payload['visit_id'])}")
    workshop_id = payload.get("workshop_id") or (payload.get("workshop") or {}).get(
        "workshop_id")
    if workshop_id and event_type not in ("visit_scheduled", "visit_overdue", "report_ready"):
        found.append(f"ws:{workshop_id}")
    for team in payload.get("teams", []) + payload.get("registrations", []):
        found.append(f"enr:{team['enrollment_id']}")
    return list(dict.fromkeys(found))


def in_order(events: list[dict]) -> list[dict]:
    """Each event once, in (time, id) order."""
    unique = {e["event_id"]: e for e in events}
    return sorted(unique.values(), key=lambda e: (e["occurred_at"], e["event_id"]))


def _note(state: dict, event: dict, kind: str, text: str) -> None:
    state["timeline"].append({"at": event["occurred_at"], "kind": kind, "text": text,
                              "event_id": event["event_id"]})


def enterprise(enrollment_id: str, events: list[dict]) -> dict:
    """An enterprise's record in one module, from every event about its enrollment."""
    state = {"enrollment_id": enrollment_id, "enrolled": False, "status": None, "timeline": [], "visits": {},
             "workshop": None, "attendance": None, "coaching": None, "report": None,
             "team": [], "enterprise": {}, "withdrawn": False}
    for event in in_order(events):
        p, kind = event["payload"], event["event_type"]
        if kind == "enrollment_accepted":
            state.update(enrolled=True, partner_id=p["partner_id"], module=p["module"],
                         enterprise=p["enterprise"], team=p["team"],
                         enrolled_at=event["occurred_at"], status=state["status"] or "accepted")
            _note(state, event, "enrolled", f"enrolled in module {p['module']} by "
                                            f"{p['partner_id']}")
        elif kind == "enrollment_status_changed":
            state["status"] = p["status"]
            state["withdrawn"] = p["status"] == "withdrawn"
            _note(state, event, "status", f"{p['previous_status']} -> {p['status']}"
                  + (f" ({p['reason']})" if p.get("reason") else ""))
        elif kind == "participant_registered":
            state["workshop"] = {k: p["workshop"].get(k) for k in (
                "workshop_id", "days", "programme", "timezone", "status")}
            _note(state, event, "registered", f"placed in workshop "
                                              f"{p['workshop']['workshop_id']}")
        elif kind == "participant_waitlisted":
            _note(state, event, "waitlisted", p["reason"])
        elif kind == "registration_cancelled":
            _note(state, event, "registration_cancelled", p["reason"])
        elif kind == "workshop_rescheduled" and state["workshop"] and \
                state["workshop"]["workshop_id"] == p["workshop"]["workshop_id"]:
            state["workshop"]["days"] = p["workshop"]["days"]
            _note(state, event, "workshop_moved", f"workshop moved to "
                                                  f"{', '.join(p['workshop']['days'])}")
        elif kind == "workshop_cancelled":
            _note(state, event, "workshop_cancelled", f"workshop {p['workshop_id']} "
                                                      f"cancelled: {p['reason']}")
        elif kind == "workshop_completed":
            team = next((t for t in p["teams"] if t["enrollment_id"] == enrollment_id), None)
            if team:
                state["attendance"] = {"workshop_id": p["workshop_id"], "days": p["days"],
                                       "qualified": team["qualified"], "reason": team["reason"],
                                       "attendance": team["attendance"],
                                       "participants": team["participants"]}
                state["trained_on"] = max(p["days"])
                _note(state, event, "trained", team["reason"])
        elif kind == "visit_scheduled":
            state["visits"][p["visit_id"]] = {"day": p["day"], "number": p["number"],
                                              "of": p["of"], "trainer_id": p["trainer_id"],
                                              "status": "planned"}
        elif kind == "visit_cancelled":
            visit = state["visits"].get(p["visit_id"])
            if visit and visit["day"] == p["day"] and visit["trainer_id"] == p["trainer_id"]:
                visit["status"] = "cancelled"
        elif kind == "visit_overdue":
            _note(state, event, "visit_overdue", f"visit {p['visit_id']} of {p['day']} "
                                                 f"not recorded ({p['days_overdue']} days)")
        elif kind == "coaching_completed":
            state["coaching"] = {k: p[k] for k in (
                "plan_id", "workshop_id", "trainer_id", "visits", "completed_on", "kpis",
                "actions")}
            _note(state, event, "coached", f"coaching completed after {p['visits']} visits")
        elif kind == "report_ready":
            state["report"] = {"report_id": p["report_id"], "url": p["url"],
                               "at": event["occurred_at"]}
            _note(state, event, "reported", "enterprise report generated")
    state["stage"] = stage(state)
    return state


def stage(state: dict) -> str:
    if state["withdrawn"]:
        return "withdrawn"
    for name, reached in (("reported", state["report"]), ("coached", state["coaching"]),
                          ("trained", state["attendance"]), ("registered", state["workshop"]),
                          ("enrolled", state["enrolled"])):
        if reached:
            return name
    return "unknown"


def cohort(workshop_id: str, events: list[dict]) -> dict:
    """A workshop and its cohort, from every event about the workshop."""
    state = {"workshop_id": workshop_id, "status": None, "teams": {}, "attendance": None,
             "coached": {}, "scheduled": False}
    for event in in_order(events):
        p, kind = event["payload"], event["event_type"]
        if kind in ("workshop_scheduled", "workshop_rescheduled"):
            workshop = p if kind == "workshop_scheduled" else p["workshop"]
            state.update({k: workshop.get(k) for k in (
                "workshop_id", "kind", "programme", "module", "province", "district",
                "timezone", "days", "trainer_ids", "partner_id", "capacity_enterprises",
                "capacity_seats")}, scheduled=True)
            state["status"] = "planned" if state["status"] in (None, "planned") \
                else state["status"]
        elif kind == "workshop_cancelled":
            state["status"] = "cancelled"
        elif kind == "participant_registered":
            state["teams"][p["enrollment_id"]] = {
                "enterprise_id": p["enterprise_id"], "partner_id": p["partner_id"],
                "participants": len(p["participants"]), "registered": True}
        elif kind == "registration_cancelled":
            if p["enrollment_id"] in state["teams"]:
                state["teams"][p["enrollment_id"]]["registered"] = False
        elif kind == "workshop_completed":
            state["status"] = "completed"
            present = {"female": 0, "male": 0}
            for team in p["teams"]:
                sexes = {x["participant_id"]: x["sex"] for x in team["participants"]}
                for participant_id, days in team["attendance"].items():
                    if all(v == "present" for v in days.values()) and participant_id in sexes:
                        present[sexes[participant_id]] += 1
                state["teams"].setdefault(team["enrollment_id"], {
                    "enterprise_id": team["enterprise_id"], "partner_id": team["partner_id"],
                    "participants": len(team["participants"]), "registered": True})
                state["teams"][team["enrollment_id"]]["qualified"] = team["qualified"]
            state["attendance"] = {"women": present["female"], "men": present["male"],
                                   "days": p["days"]}
            state.update({k: p[k] for k in ("workshop_id", "kind", "module", "province",
                                             "days", "trainer_ids", "partner_id")})
        elif kind == "coaching_completed":
            state["coached"][p["enrollment_id"]] = p["completed_on"]
    registered = [t for t in state["teams"].values() if t.get("registered")]
    state["progress"] = {
        "registered": len(registered),
        "qualified": sum(1 for t in registered if t.get("qualified")),
        "coaching_completed": len(state["coached"])}
    return state
