"""Scheduling rules, free of nameko and MongoDB.

For now an accepted enrollment is placed in a placeholder workshop: one per module, province
and preferred month, held on the first two consecutive working days (no weekend, no
Indonesian public holiday) from the start of the enrollment's preferred period.
"""
from __future__ import annotations

from datetime import date, timedelta

from score_common.indonesia import PROVINCES, is_working_day


def first_two_working_days(start: date) -> list[date]:
    day = start
    while True:
        following = day + timedelta(days=1)
        if is_working_day(day) and is_working_day(following):
            return [day, following]
        day = following


def placeholder_workshop(module: int, province: str, preferred_start: date) -> dict:
    return {
        "workshop_id": f"ws-m{module}-{province.lower()}-{preferred_start:%Y%m}",
        "module": module,
        "province": province,
        "timezone": PROVINCES[province].tz,
        "days": first_two_working_days(preferred_start),
        "status": "planned",
    }


def registration_id(enrollment_id: str) -> str:
    return f"reg-{enrollment_id}"
