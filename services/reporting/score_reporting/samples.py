"""A programme's events, generated: one enterprise's way through a module, or a whole
programme at the seeds' scale (2,300 enterprises, 34,900 workers, 14 provinces, 8 partners,
five modules). For tests, rehearsals and the benchmark; every event is a real envelope built
through the contracts."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from score_common.contracts import registry
from score_common.contracts.enrollment import SAMPLE_ENROLLMENT_ACCEPTED

PROVINCES = ("ID-JK", "ID-JB", "ID-JT", "ID-JI", "ID-BT", "ID-YO", "ID-BA", "ID-SU",
             "ID-SS", "ID-KT", "ID-SN", "ID-RI", "ID-KR", "ID-LA")
PARTNERS = ("bedo", "semut", "unpar", "app-polteknaker", "blk-semarang", "karya-dua",
            "riwani", "pro-serve")
SECTORS = ("automotive_parts", "garments_textiles", "printing_packaging", "medical_equipment",
           "food_beverage", "furniture_wood", "hospitality_tourism", "agriculture_horticulture")
KPIS = {"productivity": ("Productivity", "units per worker-hour", "higher"),
        "cost_saving": ("Cost saving", "IDR per month", "higher"),
        "defect_rate": ("Defect rate", "% of output", "lower"),
        "absenteeism": ("Absenteeism", "% of scheduled days", "lower")}


def envelope(event_type: str, payload: dict, producer: str, at: datetime) -> dict:
    built = registry.build(event_type, payload, producer=producer)
    built["occurred_at"] = at.isoformat()
    return built


def _participant(n: int, i: int, role: str, sex: str) -> dict:
    return {"participant_id": f"p-{n}-{i}", "name": f"Peserta {n}-{i}", "role": role,
            "sex": sex, "phone": None, "email": f"p{n}x{i}@example.co.id" if role == "manager"
            else None, "language": "id", "consent_to_reminders": True}


def journey(n: int, *, module: int = 1, province: str = "ID-JK", partner: str = "bedo",
            sector: str = "automotive_parts", workforce=(40, 85), workshop_id: str = "ws-1",
            start: date = date(2026, 3, 23), rng: random.Random | None = None,
            coached: bool = True) -> list[dict]:
    """The events of one enterprise's way through one module, in time order."""
    rng = rng or random.Random(n)
    enr, ent = f"enr-{n:05d}", f"ent-{n:05d}"
    team = [_participant(n, 0, "manager", rng.choice(("female", "male"))),
            _participant(n, 1, "worker", rng.choice(("female", "male"))),
            _participant(n, 2, "worker", rng.choice(("female", "male")))]
    days = [start.isoformat(), (start + timedelta(days=1)).isoformat()]
    at = datetime.combine(start - timedelta(days=40), datetime.min.time(), timezone.utc)
    registration = {"registration_id": f"reg-{enr}", "enrollment_id": enr,
                    "enterprise_id": ent, "partner_id": partner}
    events = [
        envelope("enrollment_accepted", {
            **SAMPLE_ENROLLMENT_ACCEPTED, "enrollment_id": enr, "partner_id": partner,
            "module": module, "team": team,
            "enterprise": {**SAMPLE_ENROLLMENT_ACCEPTED["enterprise"], "enterprise_id": ent,
                           "name": f"PT Contoh {n}", "registration_number": f"81{n:011d}",
                           "sector": sector, "province": province,
                           "workforce": {"women": workforce[0], "men": workforce[1]}}},
            "enrollment", at),
        envelope("participant_registered", {
            **registration, "participants": team,
            "workshop": {"workshop_id": workshop_id, "module": module, "province": province,
                         "timezone": "Asia/Jakarta", "days": days, "status": "planned"}},
            "scheduling", at + timedelta(days=1)),
        envelope("workshop_completed", {
            "workshop_id": workshop_id, "kind": "module", "module": module,
            "province": province, "timezone": "Asia/Jakarta", "days": days,
            "trainer_ids": ["trn-1"], "partner_id": partner,
            "teams": [{**registration, "participants": team, "qualified": True,
                       "reason": "a manager and a worker attended both days",
                       "attendance": {p["participant_id"]: {d: "present" for d in days}
                                      for p in team}}]},
            "scheduling", at + timedelta(days=41)),
    ]
    if not coached:
        return events
    kpis = []
    for code, (name, unit, better) in KPIS.items():
        if code == "cost_saving" and rng.random() < 0.3:
            continue  # not every enterprise measures it
        baseline = round(rng.uniform(10, 100), 1)
        final = round(baseline * rng.uniform(0.7, 1.4), 1)
        change = (final - baseline) / baseline * (1 if better == "higher" else -1)
        kpis.append({"kpi": code, "name": name, "unit": unit, "better": better,
                     "baseline": baseline, "final": final, "improvement": round(change, 4),
                     "improved": change > 0, "flag": None})
    for number in (1, 2, 3):
        events.append(envelope("visit_scheduled", {
            "visit_id": f"vis-{enr}-{number}", "plan_id": f"plan-{enr}", "enrollment_id": enr,
            "enterprise_id": ent, "partner_id": partner, "module": module,
            "province": province, "trainer_id": "trn-1",
            "day": (start + timedelta(weeks=3 * number)).isoformat(), "number": number,
            "of": 3}, "coaching", at + timedelta(days=41, seconds=number)))
    events.append(envelope("coaching_completed", {
        "plan_id": f"plan-{enr}", "enrollment_id": enr, "enterprise_id": ent,
        "partner_id": partner, "module": module, "province": province,
        "workshop_id": workshop_id, "trainer_id": "trn-1", "visits": 3,
        "completed_on": (start + timedelta(weeks=9)).isoformat(), "kpis": kpis,
        "actions": [{"action_id": f"vis-{enr}-1-a1", "description": "5S in the store room",
                     "owner": team[0]["name"], "due": (start + timedelta(weeks=4)).isoformat(),
                     "done": True},
                    {"action_id": f"vis-{enr}-2-a1", "description": "daily line meeting",
                     "owner": team[1]["name"], "due": (start + timedelta(weeks=7)).isoformat(),
                     "done": rng.random() < 0.6}]},
        "coaching", at + timedelta(days=41 + 63)))
    return events


def programme(enterprises: int = 2300, workers: int = 34_900, seed: int = 2010) -> list[dict]:
    """A programme at the seeds' scale: every enterprise through one module's workshop
    (cohorts of up to 6), most coached to the end."""
    rng = random.Random(seed)
    events, cohort = [], []
    for n in range(enterprises):
        per_enterprise = workers // enterprises + (n < workers % enterprises)
        if not cohort or len(cohort) == 6:
            module = rng.randint(1, 5)
            province, partner = rng.choice(PROVINCES), rng.choice(PARTNERS)
            start = date(2023, 1, 2) + timedelta(weeks=rng.randint(0, 150))
            while start.weekday() > 3:
                start += timedelta(days=1)
            cohort = []
            workshop_id = f"ws-{n:05d}"
        cohort.append(n)
        women = rng.randint(0, per_enterprise)
        events += journey(n, module=module, province=province, partner=partner,
                          sector=rng.choice(SECTORS), workshop_id=workshop_id, start=start,
                          workforce=(women, per_enterprise - women), rng=rng,
                          coached=rng.random() < 0.85)
    return events
