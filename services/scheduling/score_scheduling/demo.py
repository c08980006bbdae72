"""A venue, a trainer and a workshop for a submission to be placed in: for `make sample` and
the end-to-end test, which start from an empty calendar."""
from __future__ import annotations

from datetime import date, timedelta

from score_scheduling.domain import first_two_working_days


def ensure_workshop_for(cluster, partner_id: str, submission: dict) -> dict:
    """Schedule (once) a workshop of the submission's module, in its province, organised by
    the partner, starting a few days into its preferred period. `cluster` is an RPC proxy."""
    province = submission["enterprise"]["province"]
    module = submission["module"]
    start = date.fromisoformat(submission["preferred_period"]["start"])
    days = first_two_working_days(start + timedelta(days=3))
    code = f"demo-{partner_id}"
    cluster.scheduling.register_venue({
        "code": f"{code}-{province.lower()}", "name": "Balai Latihan Kerja (demo)",
        "capacity": 40, "province": province,
        "district": submission["enterprise"].get("district") or "-"})
    cluster.scheduling.register_trainer({
        "code": code, "name": "Siti Rahma (demo trainer)", "partner_id": partner_id,
        "modules": [1, 2, 3, 4, 5], "provinces": [province]})
    return cluster.scheduling.schedule_workshop({
        "workshop_id": f"ws-{code}-m{module}-{province.lower()}-{days[0]:%Y%m%d}",
        "module": module, "venue_id": f"ven-{code}-{province.lower()}",
        "trainer_ids": [f"trn-{code}"], "partner_id": partner_id,
        "capacity_enterprises": 10, "capacity_seats": 40,
        "days": [day.isoformat() for day in days]})
